"""Any recogniser, made ready for conversation: one worker thread, and a guess started at
the user's first pause that the confirmed turn reuses when its audio is the same.

``prefetch`` starts a transcription of a tentative turn; ``transcribe`` of the confirmed
turn returns that result instead of starting over when the audio matches, so the engine
(``contracts.Recognizer``) needs no threads or caches of its own.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..contracts import Recognizer
from ..records import Transcript


def _fingerprint(audio: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16).hexdigest()


class SpeculativeTranscriber:
    def __init__(self, recognizer: Recognizer):
        self.recognizer = recognizer
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="stt")
        self._speculative: tuple[str, Future] | None = None

    @property
    def name(self) -> str:
        return self.recognizer.name

    def warm_up(self) -> None:
        self._worker.submit(self.recognizer.warm_up).result()

    def set_hints(self, names: list[str]) -> None:
        """Names to listen for, from the next transcription on (on the worker: never mid-decode)."""
        self._worker.submit(self.recognizer.set_hints, list(names))

    def prefetch(self, audio: np.ndarray) -> None:
        """Start transcribing a tentative turn in the background."""
        if self._speculative is not None:
            self._speculative[1].cancel()  # a stale guess not yet started is dropped; a running one finishes
        self._speculative = (_fingerprint(audio), self._worker.submit(self.recognizer.transcribe, audio))

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
        spec, self._speculative = self._speculative, None
        if spec is not None and spec[0] == _fingerprint(audio):
            return spec[1].result()
        return self._worker.submit(self.recognizer.transcribe, audio).result()
