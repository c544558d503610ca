"""Thinking ahead: start the reply at the user's first pause, from the speculative
transcript, so that when the end of the turn is confirmed her first words are ready.

After a pause the endpointer still waits 0.4-1.5 s to be sure the user has finished, and the
words said so far are known well before that (see ``turn_taking.py``). A local model can start
on them at once. If the user goes on, the thought is dropped: its stream is closed, nothing is
played and nothing is stored. If the turn ends with the same words, the reply is taken over as
it stands, its first clause already synthesised. Nothing with a side effect happens ahead:
memory is only read, commands and skills are left to the confirmed turn, and a thought is used
only for exactly the request the confirmed turn sends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Iterator

import numpy as np

from ..cancel import Cancel, until_cancelled
from ..llm.client import BrainError
from ..tts import speak_to_array
from ..tts.chunking import speakable_chunks
from ..ops.logs import Words
from .persona import Persona
from .shaping import shaped

log = logging.getLogger(__name__)

_END = object()  # closes a thought's queue of pieces


class Thought:
    """One reply being made ahead on its own thread: the request, the speakable pieces as
    they come (the first with its audio), and how long each step took."""

    def __init__(self, text: str, build: Callable[[], list[dict] | None], brain, voice, fallback: str,
                 first_words: int = 0):
        self.text, self.fallback = text, fallback
        self.cancel = Cancel()  # dropped: the user went on, the request changed, or the reply was stopped
        self.messages: list[dict] | None = None
        self.built = threading.Event()  # ``messages`` is final (None: nothing was asked)
        self.sent_at: float | None = None  # monotonic time the request was sent
        self.first_token_s: float | None = None  # request -> first text delta
        self.first_piece_s: float | None = None  # request -> first speakable piece
        self.synth_s: float | None = None  # the first piece's synthesis time
        self.first_text: str | None = None  # the first piece, known before its audio is made
        self.first_ready = threading.Event()  # the first piece's audio is made
        self._pieces: queue.Queue = queue.Queue()
        self._build, self._brain, self._voice = build, brain, voice
        self._first_words = first_words
        self._thread = threading.Thread(target=self._run, name="think-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.messages = self._build()
        except Exception:  # reading memory failed: the confirmed turn will say so, if it matters
            log.exception("could not prepare a reply ahead")
            self.messages = None
        self.built.set()
        if self.messages is None or self.cancel.cancelled:
            self._pieces.put(_END)
            return
        self.sent_at = time.monotonic()
        try:
            deltas = shaped(lambda: self._brain.stream(self.messages, self.cancel), self.text, self.fallback, self.cancel)
            for piece in speakable_chunks(deltas, self._first_token, first_words=self._first_words):
                self._emit(piece)
        except BrainError as exc:
            self._pieces.put(exc)
        finally:
            self._pieces.put(_END)

    def _first_token(self) -> None:
        self.first_token_s = time.monotonic() - self.sent_at

    def _emit(self, piece: str) -> None:
        audio = None
        if self.first_piece_s is None:
            self.first_piece_s = time.monotonic() - self.sent_at
            self.first_text = piece
            if not self.cancel.cancelled:
                t = time.perf_counter()
                audio = speak_to_array(self._voice, piece)
                self.synth_s = time.perf_counter() - t
                self.first_ready.set()
        self._pieces.put((piece, audio))

    def first_piece(self) -> tuple[str | None, bool]:
        """What is known of the first piece as the turn ends, without waiting for it: its text
        (``None``: not written yet, or there will be none) and whether its audio is made."""
        return self.first_text, self.first_ready.is_set()

    def pieces(self, reply: Cancel) -> Iterator[tuple[str, np.ndarray | None]]:
        """The reply's speakable pieces, each with its audio when already synthesised, as the
        model writes them; raises :class:`BrainError` like ``Brain.stream``. Cancelling
        ``reply`` (barge-in, Ctrl-C) drops the thought too."""
        reply.on_cancel(self.drop)
        yield from until_cancelled(self._pieces, self.cancel, _END)

    def drop(self) -> None:
        self.cancel.cancel()


class ThinkAhead:
    """At most one thought at a time; a new one, or the user going on, drops the last. The
    microphone's thread starts and drops thoughts while the reply's thread takes one: the
    current thought is swapped under a lock."""

    def __init__(self, brain, voice, fallback: str = Persona.fallback, first_words: int = 0):
        """``fallback``: the persona's line for a reply that started badly twice (``shaping.py``);
        ``first_words``: the first sentence cut short for a slow voice (``chunking.SpeechChunker``)."""
        self.brain, self.voice, self.fallback = brain, voice, fallback
        self.first_words = first_words
        self._thought: Thought | None = None
        self._lock = threading.Lock()
        self.started = self.taken = 0  # for the log and the benchmarks

    def _swap(self, thought: Thought | None) -> Thought | None:
        with self._lock:
            old, self._thought = self._thought, thought
        return old

    def start(self, text: str, build: Callable[[], list[dict] | None]) -> None:
        """Begin replying to ``text``; ``build()`` (run on the thought's thread) returns the
        request, or ``None`` when this turn must not be answered ahead."""
        self.drop()
        old = self._swap(Thought(text, build, self.brain, self.voice, self.fallback, self.first_words))
        if old is not None:  # another thread started one meanwhile
            old.drop()
        self.started += 1
        log.debug("thinking ahead about %r", Words(text))

    @property
    def pending(self) -> bool:
        return self._thought is not None

    def drop(self) -> None:
        """The user went on (or the turn was not for the model): stop the thought in flight."""
        thought = self._swap(None)
        if thought is not None:
            thought.drop()

    def take(self, text: str, messages: list[dict]) -> Thought | None:
        """The thought made for exactly this request, to be spoken now; any other is dropped."""
        thought = self._swap(None)
        if thought is None:
            return None
        thought.built.wait()
        if thought.text != text or thought.messages != messages or thought.cancel.cancelled:
            thought.drop()
            log.debug("dropped the reply made ahead: the request changed")
            return None
        self.taken += 1
        return thought
