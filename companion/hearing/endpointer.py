"""Endpointing: where a user's turn starts and ends, from a stream of 16 kHz frames.

faster-whisper's ``SileroVADModel`` resets its recurrent state on every call (it is built
for whole files), so :class:`StreamingVAD` runs the same ONNX model one 32 ms chunk at a
time and carries the state and the 64-sample context between chunks.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..records import SAMPLE_RATE, Frame, Utterance

CHUNK = 512  # samples per VAD step (32 ms at 16 kHz), fixed by the Silero model
CONTEXT = 64


def silero_model_path() -> str:
    import faster_whisper

    return os.path.join(os.path.dirname(faster_whisper.__file__), "assets", "silero_vad_v6.onnx")


class StreamingVAD:
    """Silero VAD with state kept across calls: ``prob(chunk)`` for consecutive 512-sample chunks."""

    def __init__(self, path: str | None = None):
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(path or silero_model_path(), providers=["CPUExecutionProvider"],
                                                    sess_options=opts)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def prob(self, chunk: np.ndarray) -> float:
        if len(chunk) != CHUNK:
            raise ValueError(f"VAD chunks must be {CHUNK} samples, got {len(chunk)}")
        x = np.concatenate([self._context, chunk.astype(np.float32, copy=False)])[None, :]
        out, self._h, self._c = self.session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = chunk[-CONTEXT:].astype(np.float32, copy=True)
        return float(np.asarray(out).reshape(-1)[0])


@dataclass(frozen=True)
class EndpointSettings:
    threshold: float = 0.5
    end_silence_ms: int = 600
    min_speech_ms: int = 250
    max_turn_s: float = 30.0
    preroll_ms: int = 300
    speculate_ms: int = 150  # 0 = off

    @classmethod
    def from_config(cls, vad) -> "EndpointSettings":
        return cls(vad.threshold, vad.end_silence_ms, vad.min_speech_ms, vad.max_turn_s, vad.preroll_ms,
                   vad.speculate_ms)


class Endpointer:
    """Feed frames with :meth:`push`; it returns the :class:`Utterance` objects they complete.

    Speech starts on one chunk above ``threshold`` and stays on while chunks are above
    ``threshold - 0.15`` (hysteresis); the turn ends after ``end_silence_ms`` below that.
    Bursts with less than ``min_speech_ms`` of speech (clicks, coughs) are dropped.

    After ``speculate_ms`` of silence it also returns a tentative utterance
    (``final=False``) holding exactly the audio the final one will hold if the user stays
    quiet, so transcription can start while the end of the turn is still being confirmed.
    """

    TAIL_MS = 160  # audio kept after the last voiced chunk: word endings are quiet

    def __init__(self, settings: EndpointSettings = EndpointSettings(), vad: StreamingVAD | None = None):
        self.s = settings
        self.vad = vad or StreamingVAD()
        self._pending = np.zeros(0, np.float32)
        self._pending_t = 0.0
        self._preroll: collections.deque[np.ndarray] = collections.deque(maxlen=max(1, settings.preroll_ms * SAMPLE_RATE // 1000 // CHUNK))
        self.keep_open = False  # push-to-talk held: silence does not end the turn, flush() does
        self.reset()

    @property
    def in_speech(self) -> bool:
        return self._chunks is not None

    def reset(self) -> None:
        """Forget any half-heard turn and the VAD state (e.g. after we spoke ourselves)."""
        self.vad.reset()
        self._preroll.clear()
        self._chunks: list[np.ndarray] | None = None
        self._preroll_len = 0
        self._speech_start = 0.0
        self._last_voiced = 0.0
        self._last_voiced_len = 0
        self._voiced_at: list[float] = []  # source time of each speech chunk of the turn being heard
        self._speculated_len = 0
        self._end_silence_s = self.s.end_silence_ms / 1000
        self._pending = np.zeros(0, np.float32)

    @property
    def voiced_s(self) -> float:
        """Seconds of speech in the turn being heard (0 when none)."""
        return len(self._voiced_at) * CHUNK / SAMPLE_RATE if self._chunks is not None else 0.0

    def voiced_since(self, t: float) -> float:
        """Seconds of speech in the turn being heard captured at or after source time ``t``
        (barge-in: what was heard after she paused, when her own echo has died away)."""
        if self._chunks is None:
            return 0.0
        return sum(1 for at in self._voiced_at if at >= t) * CHUNK / SAMPLE_RATE

    @property
    def silence_s(self) -> float:
        """Seconds since the last speech in the turn being heard (0 when none)."""
        return max(0.0, self._pending_t - self._last_voiced) if self._chunks is not None else 0.0

    def current_audio(self) -> np.ndarray:
        """The turn being heard so far (pre-roll included), e.g. to check what an
        interruption says before acting on it."""
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    def settled(self) -> list[np.ndarray]:
        """The turn being heard as far as it is certain to be kept (up to the last speech and
        its tail): a prefix of the utterance it becomes, growing chunk by chunk, for a
        recogniser that takes the audio while the user speaks. Empty between turns."""
        if self._chunks is None:
            return []
        return self._chunks[:min(len(self._chunks), self._keep())]

    def set_end_silence(self, ms: int) -> None:
        """Change the silence that ends the turn being heard (e.g. after reading its
        transcript at the first pause); the next turn starts from the default again."""
        self._end_silence_s = ms / 1000

    def push(self, frame: Frame) -> list[Utterance]:
        if not len(self._pending):
            self._pending_t = frame.t
        self._pending = np.concatenate([self._pending, frame.audio])
        out = []
        while len(self._pending) >= CHUNK:
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            t = self._pending_t
            self._pending_t += CHUNK / SAMPLE_RATE
            utt = self._step(chunk, t)
            if utt is not None:
                out.append(utt)
        return out

    def flush(self) -> list[Utterance]:
        """End of input: a turn in progress is closed as if the user stopped."""
        if self._chunks is None:
            return []
        utt = self._close(self._pending_t, cut=False)
        return [utt] if utt is not None else []

    def _step(self, chunk: np.ndarray, t: float) -> Utterance | None:
        p = self.vad.prob(chunk)
        end_t = t + CHUNK / SAMPLE_RATE
        if self._chunks is None:
            if p >= self.s.threshold:
                self._chunks = list(self._preroll)
                self._preroll_len = len(self._chunks)
                self._chunks.append(chunk)
                self._speech_start = t
                self._last_voiced = end_t
                self._last_voiced_len = len(self._chunks)
                self._voiced_at = [t]
                self._preroll.clear()
            else:
                self._preroll.append(chunk)
            return None
        self._chunks.append(chunk)
        if p >= self.s.threshold - 0.15:
            self._last_voiced = end_t
            self._last_voiced_len = len(self._chunks)
            self._voiced_at.append(t)
        if end_t - self._speech_start >= self.s.max_turn_s:
            return self._close(end_t, cut=True)
        silent_s = end_t - self._last_voiced
        if silent_s >= self._end_silence_s and not self.keep_open:
            return self._close(end_t, cut=False)
        if (self.s.speculate_ms and silent_s >= self.s.speculate_ms / 1000 and len(self._chunks) >= self._keep()
                and self._speculated_len != self._last_voiced_len and self.voiced_s * 1000 >= self.s.min_speech_ms):
            self._speculated_len = self._last_voiced_len
            return Utterance(np.concatenate(self._chunks[:self._keep()]), self._speech_start, self._last_voiced, end_t,
                             final=False)
        return None

    def _keep(self) -> int:
        return self._last_voiced_len + self.TAIL_MS * SAMPLE_RATE // 1000 // CHUNK

    def _close(self, decided_at: float, cut: bool) -> Utterance | None:
        chunks = self._chunks or []
        keep = min(len(chunks), self._keep())
        voiced, start, end = self.voiced_s, self._speech_start, self._last_voiced
        self._chunks = None
        self._speculated_len = 0
        self._end_silence_s = self.s.end_silence_ms / 1000
        self.vad.reset()
        if voiced * 1000 < self.s.min_speech_ms:
            return None
        return Utterance(np.concatenate(chunks[:keep]), start, end, decided_at, cut)

    def utterances(self, frames) -> Iterator[Utterance]:
        """All turns in a finite stream of frames (used by replay and tests)."""
        for frame in frames:
            yield from (u for u in self.push(frame) if u.final)
        yield from self.flush()
