"""Not hearing herself: a reference-based echo gate for open speakers.

We know exactly what we played (the speaker's output blocks, silence included, with the
time each went to the device). The microphone hears that again after an unknown round-trip
delay and at an unknown level. For each microphone chunk the canceller finds the delay
that best matches the recent past (normalised cross-correlation over up to ``max_delay_s``),
subtracts the aligned, scaled reference (a one-tap echo canceller), and *gates* the chunk to
silence when what is left is weak compared with the echo it removed. The endpointer then
only sees the user's voice: her own does not start turns or interrupt her.

One tap removes a pure delay-and-gain path (a loop-back, most laptop leakage at low
volume) almost completely; a reverberant room leaves more behind, and ``suppression_db``
says how well it is working, so the live loop can turn barge-in off when it is not.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from ..records import SAMPLE_RATE, Frame
from .resample import Resampler


STEADY_SAMPLES = 16  # 1 ms: how far the echo's delay may move between chunks and still be the same path
STEADY_BEYOND_WINDOW_S = 0.2  # her voice counts as present once matched at one delay this much longer than a window


class EchoCanceller:
    def __init__(self, output_rate: int, max_delay_s: float = 0.8, window_s: float = 0.4,
                 min_correlation: float = 0.3, gate_ratio: float = 0.5):
        self.max_delay = int(max_delay_s * SAMPLE_RATE)
        self.lead = int(0.2 * SAMPLE_RATE)  # tolerated clock offset the other way
        self.window = int(window_s * SAMPLE_RATE)
        self.min_correlation = min_correlation
        self.gate_ratio = gate_ratio
        self._resampler = Resampler(output_rate, SAMPLE_RATE)
        self._incoming: collections.deque = collections.deque()  # (block, time) from the audio thread
        self._lock = threading.Lock()
        keep = self.max_delay + self.window + self.lead + 2 * SAMPLE_RATE
        self._ref = np.zeros(keep, np.float32)  # reference at 16 kHz; _ref_end = absolute index of its end
        self._ref_end = 0
        self._ref_t0: float | None = None  # time of reference sample 0
        self._mic = np.zeros(self.window, np.float32)
        self.delay: int | None = None  # samples, once locked
        self._steady_s = 0.0  # how long the echo has come at one delay, chunk after chunk
        self.correlation = 0.0
        self._echo_energy = 0.0
        self._residual_energy = 0.0

    # -- reference (called from the speaker's audio thread: append only) ---------------------
    def on_output(self, block: np.ndarray, t: float) -> None:
        self._incoming.append((block, t))

    def _absorb_reference(self) -> None:
        while self._incoming:
            block, t = self._incoming.popleft()
            audio = self._resampler.process(block)
            if self._ref_t0 is None:
                self._ref_t0 = t
            n = len(audio)
            if n == 0:
                continue
            self._ref = np.roll(self._ref, -n)
            self._ref[-n:] = audio
            self._ref_end += n

    # -- microphone ------------------------------------------------------------------------
    @property
    def suppression_db(self) -> float | None:
        """How much quieter the residual is than the echo it replaced (None before any echo)."""
        if self._echo_energy <= 1e-9:
            return None
        return 10 * np.log10(self._echo_energy / max(self._residual_energy, 1e-12))

    @property
    def echo_present(self) -> bool:
        """Her voice is in the microphone now: matched at one delay for longer than one
        window. Another voice (the user talking over her on a headset) can match hers at some
        delay for as long as the window holds the same pair of sounds (up to 0.35 s seen); a
        real echo path keeps its delay as long as she speaks."""
        return (self.correlation >= self.min_correlation and self._echo_energy > 1e-7
                and self._steady_s >= self.window / SAMPLE_RATE + STEADY_BEYOND_WINDOW_S)

    def process(self, frame: Frame) -> Frame:
        """Return the frame with our own voice removed (or gated to silence)."""
        self._absorb_reference()
        x = frame.audio.astype(np.float32)
        n = len(x)
        self._mic = np.concatenate([self._mic, x])[-self.window:]
        if self._ref_t0 is None or n == 0:
            return frame
        # reference index played at the same moment as the end of the mic window (zero delay);
        # clocks of the two streams are only roughly aligned, so allow a little negative delay
        end_at = int(round((frame.t - self._ref_t0) * SAMPLE_RATE)) + n
        ref, ref_start = self._ref_slice(end_at - self.window - self.max_delay, end_at + self.lead)
        if ref is None or float(np.dot(ref, ref)) < 1e-6:  # nothing played lately: nothing to cancel
            self.correlation = 0.0
            self._decay()
            return frame
        k, corr = self._best_offset(self._mic, ref)
        self.correlation = corr
        if corr < self.min_correlation:
            self._steady_s = 0.0
            self._decay()
            return frame
        delay = (end_at - self.window) - (ref_start + k)
        same_path = self.delay is not None and abs(delay - self.delay) <= STEADY_SAMPLES
        self._steady_s = self._steady_s + n / SAMPLE_RATE if same_path else 0.0
        self.delay = delay
        win_ref = ref[k: k + self.window]  # the reference as the mic window heard it
        gain = float(np.dot(self._mic, win_ref) / max(np.dot(win_ref, win_ref), 1e-9))
        echo = gain * win_ref[-n:]
        residual = x - echo
        e_echo, e_res = float(np.mean(echo ** 2)), float(np.mean(residual ** 2))
        self._echo_energy = 0.9 * self._echo_energy + 0.1 * e_echo
        self._residual_energy = 0.9 * self._residual_energy + 0.1 * e_res
        if e_res < self.gate_ratio * e_echo:  # what is left is mostly echo: let the VAD hear silence
            residual = np.zeros_like(residual)
        return Frame(residual.astype(np.float32), frame.t)

    def _decay(self) -> None:
        self._echo_energy *= 0.98
        self._residual_energy *= 0.98

    def _ref_slice(self, start: int, end: int) -> tuple[np.ndarray | None, int]:
        first = self._ref_end - len(self._ref)
        start, end = max(start, first), min(end, self._ref_end)
        if end - start < self.window:
            return None, start
        return self._ref[start - first: end - first], start

    @staticmethod
    def _best_offset(mic: np.ndarray, ref: np.ndarray) -> tuple[int, float]:
        """Offset k maximising the normalised correlation of ``mic`` with ``ref[k:k+len(mic)]``."""
        w = len(mic)
        size = 1 << int(np.ceil(np.log2(len(ref) + w)))
        spec = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        corr = np.fft.irfft(spec, size)[: len(ref) - w + 1]
        c = np.concatenate([[0.0], np.cumsum(ref.astype(np.float64) ** 2)])
        energy = c[w:] - c[:-w]
        norm = corr / (np.sqrt(np.maximum(energy, 1e-12)) * max(float(np.linalg.norm(mic)), 1e-9))
        k = int(np.argmax(np.abs(norm)))
        return k, float(abs(norm[k]))
