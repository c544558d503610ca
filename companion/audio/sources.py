"""Audio sources: each yields :class:`~companion.turns.Frame` blocks of 16 kHz mono float32.

The live microphone and recorded files share this one shape, so the listening loop and
``replay`` run the same code.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Iterator

import numpy as np

from ..turns import SAMPLE_RATE, Frame
from .devices import AudioDeviceError, Device, _sd
from .resample import Resampler

log = logging.getLogger(__name__)


def array_frames(audio: np.ndarray, block: int = 512, t0: float = 0.0) -> Iterator[Frame]:
    """Cut a 16 kHz buffer into frames whose clock starts at ``t0``."""
    for i in range(0, len(audio), block):
        yield Frame(audio[i:i + block], t0 + i / SAMPLE_RATE)


class MicrophoneSource:
    """A sounddevice input stream. The callback only copies and enqueues; resampling and VAD
    happen on the consuming thread."""

    def __init__(self, device: Device, block_ms: int = 32):
        self.device = device
        self.rate = self._pick_rate(device)
        self.blocksize = max(1, int(self.rate * block_ms / 1000))
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=2000)
        self._resampler = Resampler(self.rate, SAMPLE_RATE)
        self._stop = threading.Event()
        self._samples = 0
        self._t0 = 0.0
        self.overflows = 0
        self._stream = None

    @staticmethod
    def _pick_rate(device: Device) -> int:
        sd = _sd()
        for rate in (SAMPLE_RATE, device.default_rate):
            try:
                sd.check_input_settings(device=device.index, samplerate=rate, channels=1, dtype="float32")
                return int(rate)
            except Exception:
                continue
        return int(device.default_rate)

    def _callback(self, indata, frames, time_info, status):  # runs on PortAudio's thread: keep tiny
        if status.input_overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.overflows += 1

    def start(self) -> "MicrophoneSource":
        sd = _sd()
        try:
            self._stream = sd.InputStream(device=self.device.index, samplerate=self.rate, channels=1,
                                          dtype="float32", blocksize=self.blocksize, callback=self._callback)
            self._stream.start()
        except Exception as exc:
            raise AudioDeviceError(
                f"Cannot open microphone {self.device.name!r} at {self.rate} Hz ({exc}). "
                "Pick another with --input-device (see 'companion devices').") from None
        self._t0 = time.monotonic()
        log.info("listening on %r at %d Hz", self.device.name, self.rate)
        return self

    def drain(self) -> None:
        """Drop audio captured so far (e.g. our own voice while we were speaking)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:
                pass
            self._stream = None

    def __iter__(self) -> Iterator[Frame]:
        while not self._stop.is_set():
            try:
                block = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            audio = self._resampler.process(block)
            if audio.size:
                t = self._t0 + self._samples / SAMPLE_RATE
                self._samples += audio.size
                yield Frame(audio, t)
