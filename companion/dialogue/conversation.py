"""One conversation: turns an utterance into a spoken reply, streaming, so the first clause
plays while the rest is still being written. ``respond`` reads as the steps of a turn: hear
(transcribe), gate (voice control: asleep, muted), decide the answer (a command's, memory's,
a thought made ahead, or the model's), speak (``playback``), remember (history, memory,
transcript). The request itself is ``prompt.Prompt``'s."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import threading
import time
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np

from ..contracts import ChatClient, Memory, NoMemory, Recall, Skill, Synthesizer
from ..database import Fault, report_fault
from ..llm.client import BrainError
from .shaping import shaped
from ..records import Timings, Transcript, Turn, Utterance
from ..ops.logs import Words
from ..skills.tool_loop import reply_stream
from ..stt.speculative import SpeculativeTranscriber
from ..tts.chunking import speakable_chunks
from .acknowledge import acknowledgment_for, acknowledgment_for_words, is_lone_sound
from .persona import Persona
from .playback import ReplyPlayer
from .prompt import Prompt
from .reply import Reply
from .think_ahead import ThinkAhead

log = logging.getLogger(__name__)

_WORDS = re.compile(r"[A-Za-z0-9\u00C0-\u024F\u0400-\u04FF\u4e00-\u9fff]")
# Whisper's usual inventions on noise: treated as "nothing was said".
_NOISE_TEXTS = {"you", "thank you.", "thanks for watching!", "thank you for watching.", "bye.", "."}


class TranscriptLog:
    """Append-only JSONL, one line per turn, flushed and fsynced so a crash loses nothing said."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._reported: set[str] = set()

    def append(self, turn: Turn) -> None:
        """A failed write (disk full, a removed folder) is logged and reported once, never
        raised: the turn is already in memory, and she must keep talking."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(turn.to_json(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            kind = "full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "error"
            if kind not in self._reported:
                self._reported.add(kind)
                log.error("could not write the transcript %s: %s (turn %d is in the memory database; "
                          "free some space or check the folder)", self.path, exc, turn.index)
                report_fault(Fault(self.path, kind, str(exc)))


def is_meaningful(text: str) -> bool:
    return bool(_WORDS.search(text)) and text.strip().lower() not in _NOISE_TEXTS


class Conversation:
    def __init__(self, transcriber: SpeculativeTranscriber, brain: ChatClient, voice: Synthesizer, persona: Persona,
                 transcript: TranscriptLog | None = None, memory: Memory | None = None,
                 skills: list[Skill] | None = None, history_turns: int = 12, clock=datetime.now, control=None,
                 prefill_between_turns: bool = False, ahead: ThinkAhead | None = None, log_off_record: bool = False,
                 acknowledge: bool = False, first_words: int = 0):
        self.transcriber, self.brain, self.voice, self.persona = transcriber, brain, voice, persona
        self.transcript = transcript
        self.memory = memory or NoMemory()
        self.skills = list(skills or [])
        self.control = control  # voice commands and the sleep gate (voice_control.VoiceControl)
        self.clock = clock
        # prefill_between_turns: for a local server only (app.new_conversation)
        self.prompt = Prompt(persona, brain, self.memory, history_turns, clock, prefill_between_turns)
        self.ahead = ahead  # replies started at the first pause (think_ahead.py)
        self.log_off_record = log_off_record  # replay's transcript is the output asked for: it keeps every turn
        self.acknowledge = acknowledge  # "Mm," while a slow voice makes the first piece (acknowledge.py)
        self._last_ack: str | None = None
        self.first_words = first_words  # a slow voice: the first sentence cut short (chunking.SpeechChunker)
        self._lock = threading.Lock()  # _replying: set by the reply's thread, read by the microphone's
        self._replying = False
        self.turns = 0
        self.last_turn: Turn | None = None
        self._keep = True
        self._hear_names()

    def _hear_names(self) -> None:
        """The recogniser listens for her name and the names memory knows (a user just told her "Biscuit")."""
        hint = getattr(self.transcriber, "set_hints", None)
        if hint is not None:
            hint([self.persona.name, *getattr(self.memory, "known_names", lambda: [])()])

    @property
    def history(self) -> list[dict]:
        return self.prompt.history

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for a prefill in flight (see ``Prompt.settle``)."""
        self.prompt.settle(timeout)

    # -- while the user speaks (hearing.turn_taking.Listener) ------------------------------------
    def ready_prompt(self) -> None:
        """The user started speaking: the server may read the request's lead (``Prompt.ready``),
        unless a reply is being made (the server is busy)."""
        self._hold_voice()
        with self._lock:
            if not self._replying:
                self.prompt.ready()

    def _hold_voice(self) -> None:
        """The voice's background work (building the opener cache) waits: the user is talking."""
        hold = getattr(self.voice, "hold", None)
        if hold is not None:
            hold()

    def hear(self, settled: list[np.ndarray]) -> None:
        """The turn so far: a recogniser on a server is sent it while the user speaks."""
        hear = getattr(self.transcriber, "hear", None)  # (a test's stand-in may not stream)
        if hear is not None:
            hear(settled)

    def listen_ahead(self, utt: Utterance) -> None:
        """A tentative turn (the user paused): start understanding it before it is confirmed."""
        self._hold_voice()
        self.transcriber.prefetch(utt.audio)

    def guess(self, wait: bool = False) -> Transcript | None:
        """The words of the tentative turn, once read (at once with ``wait``)."""
        return self.transcriber.guess(wait)

    def check_words(self, audio: np.ndarray) -> Future:
        """Transcribe a sound heard while she speaks (barge-in: a backchannel or words?)."""
        return self.transcriber.submit(audio)

    def think_ahead(self, guess: Transcript) -> None:
        """The user paused and their words so far are known: if the model is the one that will
        answer them, start the reply now (see ``think_ahead.py``); the confirmed turn takes it
        over when its request is the same."""
        self._hold_voice()
        if self.ahead is None or self._replying:
            return
        text = guess.text
        now = self.clock()
        if (not is_meaningful(text) or (self.control is not None and not self.control.passes_on(text))
                or any(getattr(s, "in_dialogue", False) or getattr(s, "tools", None) is not None for s in self.skills)
                or any(getattr(s, "answers_at_once", False) and s.handle(text, now) is not None for s in self.skills)):
            self.ahead.drop()  # a command, a skill's dialogue, tools the thought would not offer, or a rule's answer
            return

        def request() -> list[dict] | None:
            context = self.memory.preview(text, now)
            return None if context is None else self.prompt.messages(text, Recall(context), now)

        self.ahead.start(text, request)

    def drop_thought(self) -> None:
        """The user went on after the pause: the reply made ahead is for words not yet finished."""
        if self.ahead is not None and self.ahead.pending:
            self.ahead.drop()
            log.debug("the user went on: dropped the reply made ahead")

    # -- one turn --------------------------------------------------------------------------------
    def respond(self, utt: Utterance, sink, source: str | None = None,
                reply: Reply | None = None, reply_audio: str | None = None) -> Turn | None:
        """Transcribe ``utt`` and speak the reply into ``sink``. Returns the logged turn, or
        ``None`` when nothing meaningful was said (silence or noise: no turn is sent).
        Cancelling ``reply`` (barge-in, Ctrl-C) stops it wherever it is."""
        reply = reply or Reply()
        started = time.monotonic()
        self._hold_voice()
        timings = Timings(endpoint_wait=utt.decided_at - utt.speech_end)
        transcript = self._hear(utt, timings, started)
        if transcript is None:
            return None
        now = self.clock()
        text = self._gate(transcript.text, now)
        if text is None:
            return None
        self.turns += 1
        turn = Turn(index=self.turns, user_text=text, source=source, reply_audio=reply_audio,
                    started_at=now.isoformat(timespec="seconds"), timings=timings)
        log.info("user: %s", Words(text))
        recall = self.memory.on_user_turn(text, now)
        self._keep = recall.keep
        if reply.cancelled:  # stopping: keep what the user said, reply nothing
            self.drop_thought()
            turn.error = "stopped before replying"
            self._remember(turn, text)
            return turn
        recall = self._decide(text, recall, now)
        with self._lock:
            self._replying = True  # until _remember: no reading ahead meanwhile
        self._speak(text, recall, now, sink, reply, turn, started)
        self._remember(turn, text)
        return turn

    def _hear(self, utt: Utterance, timings: Timings, started: float) -> Transcript | None:
        transcript = self.transcriber.transcribe(utt.audio)
        timings.stt = transcript.stt_s
        timings.stt_wait = time.monotonic() - started
        if not is_meaningful(transcript.text):
            log.info("ignored a turn with no words (%r)", Words(transcript.text))
            return None
        return transcript

    def _gate(self, text: str, now: datetime) -> str | None:
        """The words as voice control lets them through; ``None`` while she is asleep and
        this is not the wake phrase (not a turn at all)."""
        return text if self.control is None else self.control.admit(text, now)

    def _decide(self, text: str, recall: Recall, now: datetime) -> Recall:
        """Memory's answer, else a voice command's or a skill's, else none (the model answers)."""
        if recall.reply is not None:
            return recall
        handlers = ([self.control] if self.control is not None else []) + self.skills
        answer = next((a for a in (h.handle(text, now) for h in handlers) if a is not None), None)
        return recall if answer is None else Recall(recall.context, answer)

    def _speak(self, text: str, recall: Recall, now: datetime, sink, reply: Reply, turn: Turn,
               started: float) -> None:
        timings = turn.timings
        player = ReplyPlayer(self.voice, sink, reply, timings)
        try:
            first = True
            for piece, audio in self._pieces(text, recall, now, reply, player, started):
                if first and audio is None:
                    self._acknowledge(player, piece)
                first = False
                player.say(piece, audio)
            if not player.spoken and not reply.cancelled and recall.reply is None:  # "" from a command is deliberate
                raise BrainError("the model returned an empty reply")
        except BrainError as exc:
            turn.error = str(exc)
            log.warning("no reply: %s", exc)
            player.say(self.persona.apology)
        finally:
            player.drain()
        player.end(turn)
        if sink.first_sample_at is not None:
            timings.first_audio = sink.first_sample_at - started
            timings.voice_to_voice = timings.endpoint_wait + timings.first_audio
        if player.first_words_at is not None:
            timings.first_words = player.first_words_at - started
        timings.reply_total = time.monotonic() - started
        if turn.interrupted:
            log.info("samantha (interrupted): %s", Words(turn.heard_text))
        else:
            log.info("samantha: %s", Words(turn.reply_text))
        log.info("timings: %s", timings.rounded())

    def _pieces(self, text: str, recall: Recall, now: datetime, reply: Reply, player: ReplyPlayer,
                started: float) -> Iterator[tuple[str, np.ndarray | None]]:
        """The answer's speakable pieces (with audio when made ahead): the answer already
        decided, a thought made ahead from the same words, or the model's reply as it streams."""
        if recall.reply is not None:
            self.drop_thought()
            yield from ((piece, None) for piece in speakable_chunks([recall.reply + " "]))
            return
        messages = self.prompt.messages(text, recall, now)
        thought = self.ahead.take(text, messages) if self.ahead is not None else None
        if thought is not None:  # made ahead, from the same words: its first clause is ready
            first, ready = thought.first_piece()
            if first is None:  # not even written yet: acknowledge now, from the user's words
                self._acknowledge_at_once(player, text)
            elif not ready:  # ...or nearly: acknowledge while it is made
                self._acknowledge(player, first)
            yield from self._unstacked(thought.pieces(reply), player)
            timings = player.timings
            timings.thought_ahead = started - thought.sent_at
            timings.llm_first_token, timings.first_sentence = thought.first_token_s, thought.first_piece_s
            timings.tts_first_audio = thought.synth_s
            return
        attempt = lambda: reply_stream(self.brain, self.skills, messages, reply, now)  # skills as tools, if on
        recent, asked = self.prompt.history[-12:], None
        earlier = []  # her recent replies, not to be said again (unless the user said the same words again)
        for m in recent:
            if m["role"] == "user":
                asked = m["content"]
            elif asked != text:
                earlier.append(m["content"])
        deltas = shaped(attempt, text, self.persona.fallback, reply, earlier)  # for speech: short, whole, in character
        self._acknowledge_at_once(player, text)  # the request is only now sent
        # the text deltas become speakable pieces here
        pieces = speakable_chunks(deltas, player.first_token, first_words=self.first_words)
        yield from self._unstacked(((piece, None) for piece in pieces), player)

    @staticmethod
    def _unstacked(pieces: Iterator[tuple[str, np.ndarray | None]],
                   player: ReplyPlayer) -> Iterator[tuple[str, np.ndarray | None]]:
        """The pieces, less a first piece that is only a sound ("Oh,") when an acknowledgment
        already played: "Mm, oh," is not how anyone talks."""
        first = True
        for piece, audio in pieces:
            if not (first and player.acknowledged and is_lone_sound(piece)):
                yield piece, audio
            first = False

    def _acknowledge(self, player: ReplyPlayer, first: str) -> None:
        """Play a cached "Mm," first when the first piece is neither ready nor cached and no
        acknowledgment would clash with how it begins (``acknowledge.py``)."""
        cached = getattr(self.voice, "cached", None)
        if not self.acknowledge or cached is None or cached(first):
            return
        self._play_acknowledgment(player, acknowledgment_for(first, self._last_ack), first)

    def _acknowledge_at_once(self, player: ReplyPlayer, said: str) -> None:
        """The turn has ended and the reply's first words are not written yet (a slow voice
        then adds ~0.4-1 s to them): acknowledge now, chosen from what the user said."""
        if self.acknowledge and getattr(self.voice, "cached", None) is not None:
            self._play_acknowledgment(player, acknowledgment_for_words(said, self._last_ack), "(not written yet)")

    def _play_acknowledgment(self, player: ReplyPlayer, ack: str | None, first: str) -> None:
        if ack is None or player.acknowledged or not self.voice.cached(ack):
            return
        self._last_ack = ack
        player.acknowledge(np.concatenate(list(self.voice.synthesize(ack))))
        log.debug("acknowledged with %r before %r", ack, Words(first))

    def _remember(self, turn: Turn, user_text: str) -> None:
        """History holds what the user heard: an interrupted reply is cut where playback
        stopped and marked, so the model knows what was not said."""
        if turn.error is not None:  # keep the user's words, not the apology: a small model copies it
            said = turn.heard_text.removesuffix(self.persona.apology).strip() or None
        elif turn.interrupted:
            said = (turn.heard_text + "… " if turn.heard_text else "") + "(interrupted by the user)"
        else:
            said = turn.reply_text
        with self._lock:
            self._replying = False
        self.prompt.add_exchange(user_text, said)
        self.last_turn = turn
        try:  # memory first: a transcript log that cannot be written must not cost her side of the turn
            self.memory.on_reply(turn, turn.heard_text)
            self._hear_names()
        except Exception:  # memory must never take the conversation down
            log.exception("memory could not store the reply")
        if self.transcript is not None and (self._keep or self.log_off_record):
            self.transcript.append(turn)
