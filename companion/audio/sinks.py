"""Audio sinks for reply audio: the speaker, a WAV file, or nowhere.

Every sink takes mono float32 at any rate, can be stopped mid-chunk, and reports when the
first sample of a reply was handed to the output (for voice-to-voice latency).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from .devices import AudioDeviceError, Device, _sd, pick_rate, portaudio_latency
from .files import write_wav
from .reopen import ReopeningStream
from .resample import resample

log = logging.getLogger(__name__)


class NullSink:
    """Discards audio; keeps the timing and accounting contract every sink follows.

    ``queued`` counts samples written for the current reply and ``played`` those that
    reached the output, both at the sink's own rate, so an interrupted reply can be cut
    where the listener stopped hearing it."""

    rate: int | None = None
    saved = True  # the reply reached where the caller says it is (only a WavSink can fail that)

    def __init__(self):
        self.first_sample_at: float | None = None
        self.queued = 0
        self.played = 0

    def begin(self) -> None:
        self.first_sample_at = None
        self.queued = self.played = 0

    def write(self, audio: np.ndarray, rate: int) -> None:
        if self.first_sample_at is None and len(audio):
            self.first_sample_at = time.monotonic()
        if self.rate is None:
            self.rate = rate
        n = len(audio) if rate == self.rate else int(round(len(audio) * self.rate / rate))
        self.queued += n
        self.played += n

    def finish(self) -> None:
        """Block until everything written has been played."""

    def stop(self) -> None:
        """Drop whatever has not been played yet (and end a :meth:`pause`)."""

    def cue(self, audio: np.ndarray, rate: int) -> None:
        """Play a short sound outside the reply (an earcon): not counted, never waited for."""

    def pause(self) -> None:
        """Hold playback where it is (the user may be starting to talk)."""

    def resume(self) -> None:
        """Go on from where :meth:`pause` held it."""

    @property
    def playing(self) -> bool:
        return False

    def close(self) -> None:
        pass


class WavSink(NullSink):
    """Collects one reply and writes it to ``path`` on :meth:`finish`; stopped part way (Ctrl-C,
    SIGTERM) it writes the part made so far, so the file holds exactly what ``played`` counts.
    A write that fails (disk full) is kept in ``error`` rather than raised: the turn must still
    be stored, only without its audio (``saved`` stays false)."""

    def __init__(self, path: str | Path, rate: int | None = None):
        super().__init__()
        self.path = Path(path)
        self.rate = rate
        self.saved = False
        self.error: OSError | None = None
        self._parts: list[np.ndarray] = []

    def write(self, audio: np.ndarray, rate: int) -> None:
        super().write(audio, rate)
        self._parts.append(resample(audio, rate, self.rate))

    def stop(self) -> None:
        if self._parts and not self.saved and self.error is None:
            self._save()
        self._parts.clear()

    def finish(self) -> None:
        self._save()

    def _save(self) -> None:
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        try:
            write_wav(self.path, audio, self.rate or 22050)
            self.saved = True
        except OSError as exc:  # the wave module's own errors do not name the file
            self.error = exc if exc.filename else OSError(exc.errno, exc.strerror, str(self.path))
            with suppress(OSError):
                self.path.unlink(missing_ok=True)  # no half-written file for anyone to trust


class SpeakerSink(ReopeningStream, NullSink):
    """A sounddevice output stream fed from a queue of blocks by its callback.

    The stream stays open between replies (silence when idle) so the first sample of a reply
    goes out within one callback period; :meth:`stop` empties the queue at once and
    :meth:`pause` holds it (barge-in, Ctrl-C). Every block the device is given, silence
    included, can be handed to ``on_output(block, time)``: the echo canceller's reference.
    """

    kind, part, doing, log = "output", "speaker", "speaking", log

    def __init__(self, device: Device, blocksize: int = 512, on_output=None, spec: str = "", latency_ms: int = 0):
        super().__init__()
        self._init_stream(spec)
        self.blocksize = blocksize
        self.latency = portaudio_latency(latency_ms)
        self._configure(device)
        self.on_output = on_output
        self._blocks: collections.deque[np.ndarray] = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._paused = False
        self._cue = np.zeros(0, np.float32)  # earcon being mixed in
        try:
            self._open()
        except Exception as exc:
            raise AudioDeviceError(f"Cannot open speaker {device.name!r} at {self.rate} Hz ({exc}). "
                                   "Pick another with --output-device (see 'companion devices').") from None
        log.info("speaking on %r at %d Hz", device.name, self.rate)

    def _configure(self, device: Device) -> None:
        self.device, self.rate = device, pick_rate(device, "output", (22050, 48000, 44100))

    def _open(self) -> None:
        # 'high' latency by default: the CPU is shared with Whisper, Piper and the LLM, and a
        # starved low-latency stream underruns, which is an audible gap in her voice
        self._stream = _sd().OutputStream(device=self.device.index, samplerate=self.rate, channels=1,
                                          dtype="float32", blocksize=self.blocksize, callback=self._callback,
                                          latency=self.latency)
        self._stream.start()

    @contextmanager
    def suspended(self):
        """The stream closed, and nobody opening it, for the duration (PortAudio is being
        re-initialised); then reopened, on the named device if it is there."""
        with self._stream_lock:
            self.close_stream()
            try:
                yield
            finally:
                self.reopen()

    def _ensure_open(self) -> None:
        """A headset that dropped out stops the stream: reopen on the named device, else the
        default one. Audio queued for the lost device is dropped (the reply goes on)."""
        with self._stream_lock:
            if self.is_open:
                return
            self._lost("stopped (disconnected?)")
            if not self._reopen_lost():
                log.error("no speaker can be opened; will retry with the next sentence")

    def _callback(self, outdata, frames, time_info, status):  # PortAudio thread: copy only
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            while not self._paused and filled < frames and self._blocks:
                head = self._blocks[0]
                n = min(frames - filled, len(head))
                out[filled:filled + n] = head[:n]
                filled += n
                if n == len(head):
                    self._blocks.popleft()
                else:
                    self._blocks[0] = head[n:]
            self.played += filled
            if filled and self.first_sample_at is None:
                self.first_sample_at = time.monotonic()
            if not self._blocks:
                self._idle.set()
        out[filled:] = 0.0
        if len(self._cue):
            n = min(frames, len(self._cue))
            out[:n] += self._cue[:n]
            self._cue = self._cue[n:]
        if self.on_output is not None:
            self.on_output(out.copy(), time.monotonic())

    def begin(self) -> None:
        with self._lock:
            super().begin()

    def write(self, audio: np.ndarray, rate: int) -> None:
        if not len(audio):
            return
        self._ensure_open()
        data = resample(audio, rate, self.rate).astype(np.float32)
        with self._lock:
            self._blocks.append(data)
            self.queued += len(data)
            self._idle.clear()

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    def cue(self, audio: np.ndarray, rate: int) -> None:
        data = resample(audio, rate, self.rate).astype(np.float32)
        with self._lock:
            self._cue = data  # a new cue replaces one still playing

    def finish(self, timeout: float | None = None) -> None:
        """Wait until the queued audio has played. A speaker that takes none of it for
        ``timeout`` (default: its length plus 5 s) has stopped, and the rest is dropped; time
        held by :meth:`pause` does not count (a reply the user keeps pausing, or her own echo
        on open speakers, is not a dead speaker)."""
        with self._lock:
            pending = sum(len(b) for b in self._blocks) / self.rate
        left = pending + 5.0 if timeout is None else timeout
        last = time.monotonic()
        while not self._idle.wait(max(0.0, min(0.1, left))):
            now = time.monotonic()
            if not self._paused:
                left -= now - last
            last = now
            if left <= 0:
                log.warning("speaker %r stopped playing; dropping the rest of this reply", self.device.name)
                self.stop()
                self._ensure_open()
                break
        # let the device's own buffer empty so the last syllable is not cut by the next turn
        time.sleep(min(0.25, self.latency_s + 0.05))

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def stop(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._paused = False
            self._idle.set()

    def close(self) -> None:
        self.stop()
        self.close_stream()
