"""The request sent for each turn, and keeping it cheap for the server to read.

A small CPU model reads an uncached prompt at ~250 tokens/s, so the request is ordered for
the server's prompt cache (what rarely changes first, what the words recall and the words
last), the history is trimmed in blocks, and a local server is given the request's lead to
read between turns and again when the user starts speaking in a new minute (prefill)."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime

from ..contracts import ChatClient, Memory, NoMemory, Recall
from .persona import Persona


# a short turn that leans on the one before ("tell me another one", "when should I start them?")
_LEANS = re.compile(r"\b(?:another(?: one)?|one more|more about (?:it|that|them)|them|they|it|those|these)\b", re.I)
_ASKS = re.compile(r"\?\s*$|^\W*(?:and|so|but|ok|okay)?\W*(?:tell|give|show|explain|one more|another)\b", re.I)


def with_context(user_text: str, history: list[dict]) -> str:
    """For a small model, which reads little of the history: a short turn that leans on the
    user's previous one carries it inline ("I'm thinking of planting tomatoes. When should I
    start them?"), so "them" is the tomatoes and not a new business."""
    if len(user_text.split()) > 10 or not (_LEANS.search(user_text) and _ASKS.search(user_text)):
        return user_text
    before = next((m["content"] for m in reversed(history) if m["role"] == "user"), None)
    if not before or before.strip() == user_text.strip():
        return user_text
    return f"{before.strip()} {user_text.strip()}"


def time_line(now: datetime) -> str:
    return f"It is {now:%A, %B %-d, %Y, %-I:%M %p}."


class Prompt:
    """Builds requests and owns what they carry over from turn to turn: the history, and the
    lead the server has read ahead. The reply's thread, the microphone's (``ready``) and the
    prefill and think-ahead threads (building requests) all meet here: one lock guards it."""

    def __init__(self, persona: Persona, brain: ChatClient | None, memory: Memory | None = None,
                 history_turns: int = 12, clock=datetime.now, prefill_between_turns: bool = False):
        self.persona, self.brain, self.memory = persona, brain, memory or NoMemory()
        self.history_turns, self.clock = history_turns, clock
        self.prefill_between_turns = prefill_between_turns  # only a local server: a remote one bills the tokens
        self.history: list[dict] = []
        self._history_start = 0  # see recent_history
        self._prefill: threading.Thread | None = None
        self._read_ahead: tuple[str, float] | None = None  # (time line, monotonic) the server last read
        self._lock = threading.RLock()

    def messages(self, user_text: str, recall: Recall, now: datetime) -> list[dict]:
        """The request, ordered for the server's prompt cache: what rarely changes first (the
        persona, then what memory holds whatever the words: the profile, the last conversation),
        then the history (the same as in the last request, one exchange longer), the time and
        the in-character reminder (all read between turns, the time again while the user
        speaks, see :meth:`ready`), and only then what the words recall and the words. A clock
        or memory line at the top would cost seconds on every turn."""
        recall_part = [{"role": "system", "content": recall.context}] if recall.context else []
        if self.persona.compact:
            user_text = with_context(user_text, self.history)
        return [*self._lead(self._time_line(now), now), *recall_part, {"role": "user", "content": user_text}]

    def _lead(self, line: str, now: datetime, read_ahead: bool = False) -> list[dict]:
        """Everything in the request before what depends on the user's words: the persona and
        what memory holds whatever the words (it changes only when a fact does, so it comes
        before the history, which grows every turn), the history, the time."""
        context = "\n\n".join([line, self.persona.reminder] if self.persona.reminder else [line])
        standing = self.memory.standing(now, read_ahead)
        return [{"role": "system", "content": self.persona.system_prompt},
                *([{"role": "system", "content": standing}] if standing else []), *self.recent_history(),
                {"role": "system", "content": context}]

    def _time_line(self, now: datetime) -> str:
        """The time line the server has already read, if it is under a minute old: a line that
        changed between reading ahead and the request would make the server re-read it."""
        read = self._read_ahead
        if read is not None and time.monotonic() - read[1] < 60:
            return read[0]
        return time_line(now)

    def recent_history(self) -> list[dict]:
        """Between ``history_turns`` and twice that many messages pairs, trimmed in one step
        when the window is full: a window sliding by one turn would change the start of the
        prompt every turn and make the server re-read all of it."""
        if not self.history_turns:
            return []
        limit = 2 * self.history_turns
        with self._lock:
            if len(self.history) - self._history_start > 2 * limit:
                self._history_start = len(self.history) - limit
            return self.history[self._history_start:]

    def add_exchange(self, user_text: str, said: str | None) -> None:
        """One turn is over: what the user said and what she said (``None``: nothing kept)."""
        with self._lock:
            self.history.append({"role": "user", "content": user_text})
            if said is not None:
                self.history.append({"role": "assistant", "content": said})
        if self.prefill_between_turns:
            self.prefill()

    def prefill(self) -> None:
        """Let a local server read the persona, standing memory, history, time and reminder now,
        between turns, so the next request only adds what the words recall and the words (a 135M
        model reads ~250 tokens/s on two cores)."""
        self.settle()
        now = self.clock()
        self._start_prefill(self._time_line(now), now)

    def ready(self) -> None:
        """The user started speaking: if the clock has moved to another minute since the last
        prefill, read the request's lead again now, while the CPU is idle listening. Never
        blocks the microphone. (The conversation does not call it while a reply is made.)"""
        with self._lock:
            if not self.prefill_between_turns or (self._prefill is not None and self._prefill.is_alive()):
                return
            now = self.clock()
            line = time_line(now)
            if self._read_ahead is None or self._read_ahead[0] != line:
                self._start_prefill(line, now)

    def _start_prefill(self, line: str, now: datetime) -> None:
        with self._lock:
            if self._read_ahead is None or self._read_ahead[0] != line:  # keep when it was first read
                self._read_ahead = (line, time.monotonic())
            # the lead is built on the prefill thread: memory's database is never read on the microphone's
            self._prefill = threading.Thread(target=lambda: self.brain.warm_up(self._lead(line, now, read_ahead=True)),
                                             name="llm-prefill", daemon=True)
            self._prefill.start()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for a prefill in flight: the embedded server must not be torn down under it
        (its shutdown waits for the request, which waits for the server: a hang)."""
        with self._lock:
            prefill, self._prefill = self._prefill, None
        if prefill is not None:
            prefill.join(timeout)
