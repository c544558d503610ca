"""Any recogniser, made ready for conversation: one worker thread, and a guess started at
the user's first pause that the confirmed turn reuses when its audio is the same.

``prefetch`` starts a transcription of a tentative turn; ``transcribe`` of the confirmed
turn returns that result instead of starting over when the audio matches, so the engine
(``contracts.Recognizer``) needs no threads or caches of its own.

A recogniser that streams (``contracts.StreamingRecognizer``: a Wyoming server) is also sent
the turn while the user speaks: ``hear`` is given the part of the turn that is certain to be
kept (``Endpointer.settled``), and the new audio goes out in pieces of at least 100 ms. At the
first pause (``prefetch``) or the turn's end (``transcribe``) only what is left is sent and the
stream finished. If the user goes on after a pause, the finished stream cannot take more, so
a new one is opened and sent the turn so far. Every step runs on the one worker thread, in the
order asked, so the microphone's thread never waits on the network.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..contracts import Recognizer, RecognizerStream, StreamingRecognizer
from ..records import SAMPLE_RATE, Transcript

log = logging.getLogger(__name__)

STREAM_PIECE = SAMPLE_RATE // 10  # samples: the least new audio worth a send while the user speaks


def _fingerprint(audio: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16).hexdigest()


class _TurnStream:
    """The turn being streamed: which turn (its first chunk, by identity), what the open stream
    was sent, and how much of the turn a finished stream already covered."""

    def __init__(self, first: np.ndarray):
        self.first = first
        self.stream: Future | None = None  # Future[RecognizerStream | None], opened on the worker
        self.pieces: list[np.ndarray] = []
        self.sent = 0  # samples sent to the open stream
        self.covered = 0  # samples of the turn a finished stream was given


class SpeculativeTranscriber:
    def __init__(self, recognizer: Recognizer):
        self.recognizer = recognizer
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="stt")
        self._speculative: tuple[str, Future] | None = None
        self.streams = isinstance(recognizer, StreamingRecognizer)
        self._lock = threading.Lock()  # hear/prefetch (microphone thread) and transcribe (reply thread)
        self._turn: _TurnStream | None = None

    @property
    def name(self) -> str:
        return self.recognizer.name

    def warm_up(self) -> None:
        self._worker.submit(self.recognizer.warm_up).result()

    def set_hints(self, names: list[str]) -> None:
        """Names to listen for, from the next transcription on (on the worker: never mid-decode)."""
        self._worker.submit(self.recognizer.set_hints, list(names))

    def hear(self, settled: list[np.ndarray]) -> None:
        """The turn being spoken, as far as it is certain (a growing list of chunks): new audio
        goes to a streaming recogniser now. Does nothing for one that does not stream."""
        if not self.streams or not settled:
            return
        with self._lock:
            turn = self._turn
            if turn is None or settled[0] is not turn.first:  # a new turn
                self._abandon()
                turn = self._turn = _TurnStream(settled[0])
            total = sum(len(c) for c in settled)
            if turn.stream is None and total <= turn.covered:
                return  # quiet after a pause whose stream is finished: nothing new yet
            if total - turn.sent < STREAM_PIECE:
                return
            self._send(turn, np.concatenate(settled)[turn.sent:])

    def prefetch(self, audio: np.ndarray) -> None:
        """Start transcribing a tentative turn in the background."""
        with self._lock:
            if self._speculative is not None:
                self._speculative[1].cancel()  # a stale guess not yet started is dropped; a running one finishes
            future = self._streamed(audio) or self._worker.submit(self.recognizer.transcribe, audio)
            self._speculative = (_fingerprint(audio), future)

    def submit(self, audio: np.ndarray) -> Future:
        """Transcribe in the background without touching the speculative guess."""
        return self._worker.submit(self.recognizer.transcribe, audio)

    def guess(self, wait: bool = False) -> Transcript | None:
        """The speculative transcription, once it is done (or at once with ``wait``)."""
        spec = self._speculative
        if spec is None or spec[1].cancelled() or not (wait or spec[1].done()):
            return None
        return spec[1].result()

    def transcribe(self, audio: np.ndarray) -> Transcript:
        with self._lock:
            spec, self._speculative = self._speculative, None
            if spec is not None and spec[0] == _fingerprint(audio):
                future = spec[1]
            else:
                future = self._streamed(audio) or self._worker.submit(self.recognizer.transcribe, audio)
        return future.result()

    # -- streaming (under the lock) -----------------------------------------------------------------
    def _send(self, turn: _TurnStream, audio: np.ndarray) -> None:
        if turn.stream is None:
            turn.stream = self._worker.submit(self._open)
            turn.pieces, turn.sent = [], 0
        self._worker.submit(self._feed, turn.stream, audio)
        turn.pieces.append(audio)
        turn.sent += len(audio)

    def _streamed(self, audio: np.ndarray) -> Future | None:
        """Finish the open stream as ``audio`` when what it was sent is the start of ``audio``
        (the rest is sent first); ``None`` when no stream holds this audio."""
        turn = self._turn
        if turn is None or turn.stream is None or turn.sent > len(audio):
            return None
        if not np.array_equal(np.concatenate(turn.pieces) if turn.pieces else audio[:0], audio[:turn.sent]):
            return None  # another turn's audio (the next one began): leave its stream alone
        if len(audio) > turn.sent:
            self._worker.submit(self._feed, turn.stream, audio[turn.sent:])
        stream, turn.stream = turn.stream, None
        turn.pieces, turn.sent, turn.covered = [], 0, len(audio)
        return self._worker.submit(self._finish, stream, audio)

    def _abandon(self) -> None:
        if self._turn is not None and self._turn.stream is not None:
            self._worker.submit(self._close, self._turn.stream)
        self._turn = None

    # -- on the worker ------------------------------------------------------------------------------
    def _open(self) -> RecognizerStream | None:
        try:
            return self.recognizer.open_stream()
        except Exception as exc:  # the turn is then heard whole at its end
            log.warning("could not start streaming the turn to %s: %s", self.recognizer.name, exc)
            return None

    @staticmethod
    def _feed(stream: Future, audio: np.ndarray) -> None:
        opened = stream.result()
        if opened is not None:
            opened.feed(audio)

    def _finish(self, stream: Future, audio: np.ndarray) -> Transcript:
        opened = stream.result()
        if opened is None:
            return self.recognizer.transcribe(audio)
        return opened.finish()

    @staticmethod
    def _close(stream: Future) -> None:
        opened = stream.result()
        if opened is not None:
            opened.close()
