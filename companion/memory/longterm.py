"""The conversation's :class:`~companion.contracts.Memory`: stores every user turn before the
reply is made, answers memory commands and personal questions from the database, learns facts
from the user's words by rules (and by a capable model in the background), and recalls context
for the prompt."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime

from ..ops.config import MemoryConfig
from ..contracts import Recall
from ..records import Turn
from ..skills.confirm import Confirmation, Pending
from . import commands, phrasing
from .answers import answer, asked_before, is_asked_before
from .commands import CONFIRM, Command, parse_command
from .retrieval import Standing, recalled_context, standing_context
from .relations import WORDS, said_as
from .rules import People, read_turn
from .store import MemoryStore
from .writer import LLMWriter

log = logging.getLogger(__name__)


class LongTermMemory:
    def __init__(self, store: MemoryStore, cfg: MemoryConfig, writer: LLMWriter | None = None, recall_tokens: int = 0,
                 acknowledge: bool = False):
        self.store, self.cfg, self.writer = store, cfg, writer
        # words that teach a fact get her reply from the facts learned ("I'll remember that your
        # brother Tom lives in Chicago."): for a small model, which invents about the people told of
        self.acknowledge = acknowledge
        self.recall_tokens = recall_tokens  # most tokens for what the words recall; 0 = what the budget leaves
        self.session_id: int | None = None
        self.paused = False  # "don't remember this conversation": nothing is stored until resumed
        self._unsaid = False  # the last command named what to forget: keep neither it nor the reply
        self._ahead: Standing | None = None  # the standing part last given to the server to read ahead
        self._confirm = Confirmation()  # "forget everything" waits for the user's "yes"
        self._focus: str | None = None  # whom the conversation was last about ("she" in the next turn)

    def on_user_turn(self, text: str, now: datetime) -> Recall:
        try:
            return self._on_user_turn(text, now)
        except sqlite3.Error:  # a broken disk must not silence her; the transcript log still has the words
            log.exception("memory could not store or recall this turn")
            return Recall()

    def _on_user_turn(self, text: str, now: datetime) -> Recall:
        command = parse_command(text)
        turn_id = None
        if not self.paused:
            if self.session_id is None:
                self.session_id = self.store.start_session(now)
            turn_id = self.store.add_turn(self.session_id, "user", text, now)  # durable before any reply
        self._unsaid = False
        reply = self._confirm.handle(text, now) if self._confirm.in_dialogue else None  # "yes" to "Everything?"
        changed = reply is not None or bool(command)  # an answer from the facts changes nothing
        if reply is None:
            reply = self._command(command, now, turn_id) if command else self._answer(text)
        if changed:
            self._ahead = None  # "forget…", "pause": the next request must not repeat what was read before
        if command and command.kind in ("forget", "forget_last") and turn_id is not None:
            self.store.delete_turns([turn_id])  # "forget that I live in Boston" repeats what must go
            self._unsaid = True
        if reply is None and turn_id is not None:
            learned = self._learn(text, now, turn_id)
            if self.acknowledge and learned and "?" not in text:
                people = self._people()
                reply = phrasing.acknowledgement(learned, people.relation, lambda rel: said_as(rel, text))
        return Recall(self._recalled(text, now) if reply is None else "", reply, keep=not self.paused)

    def preview(self, text: str, now: datetime) -> str | None:
        """What :meth:`on_user_turn` would recall for ``text``, storing nothing; ``None`` for a
        memory command or its confirmation, a personal question (memory answers them, not the
        model) or words that teach a fact (the confirmed turn changes what is recalled)."""
        if self._confirm.in_dialogue:
            return None
        try:
            if parse_command(text) or self._answer(text, keep_focus=True) is not None or (
                    not self.paused and read_turn(text, now, self._people()).facts):
                return None
            return self._recalled(text, now)
        except sqlite3.Error:  # the confirmed turn meets the same fault and reports it
            return None

    def standing(self, now: datetime, read_ahead: bool = False) -> str:
        """What every request of this conversation carries whatever the words (who the user is,
        when you last talked). ``read_ahead``: this copy is for the server to read between
        turns, and the next turn's request repeats it, so that a fact learned from the words
        (which the words already say) does not make the server read the history again after
        the user stops; it joins the copy read before the turn after."""
        ahead = self._ahead
        if ahead is not None and not read_ahead:
            return ahead.text
        try:
            standing = self._standing(now)
        except sqlite3.Error:  # the turn itself reports the fault; the reply goes on without memory
            log.warning("memory could not be read for the prompt")
            return ""
        if read_ahead:
            self._ahead = standing
        return standing.text

    def _standing(self, now: datetime) -> Standing:
        return standing_context(self.store, now, self.session_id, self.cfg.context_tokens)

    def _recalled(self, text: str, now: datetime) -> str:
        """What ``text`` recalls beyond the standing part the request carries, in the budget it leaves."""
        return recalled_context(self.store, text, self.session_id, self.cfg.context_tokens, self.cfg.snippets,
                                self._ahead or self._standing(now), self.recall_tokens)

    def known_names(self, most: int = 30) -> list[str]:
        """The people, pets and places the user has named (and their own name), most recently
        told first, at most ``most``: hints for the recogniser, so "Susan" or "Zoë" are heard."""
        try:
            return self.store.known_names(WORDS, most)
        except sqlite3.Error:
            log.warning("memory could not list the names it knows")
            return []

    def _people(self) -> People:
        return People.from_facts(self.store.relation_facts(WORDS), self._focus)  # older databases' words too

    def _answer(self, text: str, keep_focus: bool = False) -> str | None:
        """A personal question ("where does my sister live?") answered from the facts; the
        person asked about is whom "she" means next."""
        found = answer(text, self.store.facts, self._people())  # every fact is read only for a personal question
        if found is None:
            return self._asked_before(text)
        if not keep_focus and found.about:
            self._focus = found.about
        return found.reply

    def _asked_before(self, text: str) -> str | None:
        """"What was I just asking you about?", from this conversation's user turns (not this one)."""
        if self.session_id is None or not is_asked_before(text):
            return None
        turns = [t.text for t in self.store.session_turns(self.session_id, 12) if t.role == "user"]
        if turns and turns[-1] == text:
            turns = turns[:-1]
        return asked_before(text, turns)

    def on_reply(self, turn: Turn, spoken: str) -> None:
        if self.session_id is not None and not self.paused and not self._unsaid:
            at = datetime.fromisoformat(turn.started_at) if turn.started_at else datetime.now()  # the turn's clock
            self.store.add_turn(self.session_id, "assistant", turn.reply_text, at, spoken=spoken)

    def end_session(self, now: datetime) -> None:
        """Close the session; a capable model summarises it (waited for, briefly, at exit)."""
        self._ahead, self._focus = None, None
        if self.session_id is not None:
            self.store.end_session(self.session_id, now)
            if self.writer is not None:
                self.writer.summarize(self.session_id, now)
        if self.writer is not None and not self.writer.close():
            log.warning("memory writing by the model did not finish in time; rule-based facts are stored")
        self.session_id = None

    def _forget_all(self, now: datetime) -> str:
        self.store.wipe()
        self.session_id = None
        return CONFIRM["forget_all"]

    def _learn(self, text: str, now: datetime, turn_id: int) -> list:
        """The facts ``text`` states, stored; returned (the rules' ones) for the acknowledgement."""
        reading = read_turn(text, now, self._people())
        self._focus = reading.focus
        self.store.add_facts(reading.facts, now, turn_id, "rule")
        if self.writer is not None:
            self.writer.extract(turn_id, text, now)
        return reading.facts

    def _command(self, command: Command, now: datetime, turn_id: int | None) -> str:
        kind = command.kind
        if kind == "recall":
            return commands.recall(self.store)
        if kind == "forget":
            return commands.forget(self.store, command.arg, now)
        if kind == "forget_last":
            return commands.forget_previous(self.store, self.session_id, turn_id)
        if kind == "forget_all":  # asked first, as the skills do: a misheard "forget…" must not erase it all
            return self._confirm.ask(Pending(CONFIRM["forget_all?"], self._forget_all, CONFIRM["kept_all"]))
        if kind == "pause":
            if self.session_id is not None:
                self.store.delete_session(self.session_id)
            self.session_id, self.paused = None, True
            return CONFIRM["pause"]
        if kind == "resume":
            was, self.paused = self.paused, False
            return CONFIRM["resume"] if was else CONFIRM["already"]
        if self.paused:  # remember
            return CONFIRM["paused"]
        return commands.remember(self.store, command.arg, now, turn_id)
