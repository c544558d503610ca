"""Audio sources: each yields :class:`~companion.records.Frame` blocks of 16 kHz mono float32.

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

from ..records import SAMPLE_RATE, Frame
from .devices import AudioDeviceError, Device, _sd, pick_rate, portaudio_latency
from .reopen import ReopeningStream
from .resample import Resampler

log = logging.getLogger(__name__)


def array_frames(audio: np.ndarray, block: int = 512, t0: float = 0.0) -> Iterator[Frame]:
    """Cut a 16 kHz buffer into frames whose clock starts at ``t0``."""
    for i in range(0, len(audio), block):
        yield Frame(audio[i:i + block], t0 + i / SAMPLE_RATE)


class MicrophoneSource(ReopeningStream):
    """A sounddevice input stream. The callback only copies, stamps and enqueues; resampling
    and VAD happen on the consuming thread.

    A headset that drops out (Bluetooth, USB) stops the stream or its callbacks: after
    ``stall_s`` without audio the stream is reopened, on the named device if it is there,
    else on the default one, retrying every ``retry_s`` and never ending the loop. While
    neither opens, ``rescan`` (set by :class:`~companion.audio.rescan.DeviceRescan`) re-reads
    the device list between tries.
    """

    kind, part, doing, log = "input", "microphone", "listening", log

    def __init__(self, device: Device, block_ms: int = 32, spec: str = "", stall_s: float = 2.0,
                 retry_s: float = 2.0, latency_ms: int = 0):
        self._init_stream(spec)
        self.block_ms = block_ms
        self.latency = portaudio_latency(latency_ms)
        self.stall_s, self.retry_s = stall_s, retry_s
        self._queue: queue.Queue[tuple[np.ndarray, float]] = queue.Queue(maxsize=2000)
        self._stop = threading.Event()
        self.overflows = 0
        self.rescan = None
        self._last_audio = 0.0
        self._flowing = False  # a fresh stream may take seconds to deliver its first block
        self._anchor, self._counted = 0.0, 0  # the frame clock (see _clock)
        self._configure(device)

    def _configure(self, device: Device) -> None:
        self.device = device
        self.rate = pick_rate(device, "input", (SAMPLE_RATE,))
        self.blocksize = max(1, int(self.rate * self.block_ms / 1000))
        self._resampler = Resampler(self.rate, SAMPLE_RATE)

    def _callback(self, indata, frames, time_info, status):  # runs on PortAudio's thread: keep tiny
        now = time.monotonic()
        self._last_audio = now
        self._flowing = True
        if status.input_overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait((indata[:, 0].copy(), now - frames / self.rate))
        except queue.Full:
            self.overflows += 1

    def _open(self) -> None:
        sd = _sd()
        self._stream = sd.InputStream(device=self.device.index, samplerate=self.rate, channels=1,
                                      dtype="float32", blocksize=self.blocksize, callback=self._callback,
                                      latency=self.latency)
        self._stream.start()
        self._last_audio = time.monotonic()
        self._flowing = False

    def start(self) -> "MicrophoneSource":
        try:
            self._open()
        except Exception as exc:
            raise AudioDeviceError(
                f"Cannot open microphone {self.device.name!r} at {self.rate} Hz ({exc}). "
                "Pick another with --input-device (see 'companion devices').") from None
        log.info("listening on %r at %d Hz", self.device.name, self.rate)
        return self

    def _reopen(self, why: str) -> None:
        """Keep trying the named device, then the default one, until one opens or we stop."""
        self._lost(why)
        while not self._stop.is_set():
            if self._reopen_lost():
                return
            self._stop.wait(self.retry_s)
            if self.rescan is not None and not self._stop.is_set():
                self.rescan()  # PortAudio's list may be out of date: the device may be back under a new entry
                if self.is_open:
                    self.reopened += 1
                    return

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
        self.close_stream()

    def __iter__(self) -> Iterator[Frame]:
        while not self._stop.is_set():
            try:
                block, t = self._queue.get(timeout=0.1)
            except queue.Empty:
                stream = self._stream
                if stream is not None and not stream.active:
                    self._reopen("stopped (disconnected?)")
                elif time.monotonic() - self._last_audio > (self.stall_s if self._flowing else 5 * self.stall_s):
                    self._reopen(f"sent no audio for {time.monotonic() - self._last_audio:.1f}s")
                continue
            audio = self._resampler.process(block)
            if audio.size:
                yield Frame(audio, self._clock(t, audio.size))

    def _clock(self, stamped: float, n: int) -> float:
        """Source time of a frame. Callbacks come in bursts, so their stamps jitter by tens of
        ms; counting samples is smooth (the echo gate aligns on it) but drifts and breaks on
        a stall or a reopen, so the count is re-anchored to the stamps when they part by more
        than 0.25 s."""
        t = self._anchor + self._counted / SAMPLE_RATE
        if self._counted == 0 or abs(stamped - t) > 0.25:
            self._anchor, self._counted, t = stamped, 0, stamped
        self._counted += n
        return t
