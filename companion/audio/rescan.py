"""Finding a named headset again after it came back under a new entry.

PortAudio reads the list of devices once, when it is initialised: a headset that comes back
(a Bluetooth reconnect, a USB replug: ALSA gives it a new card number) gets an entry that a
running process never sees, so without this she would stay on the default device until a
restart. PortAudio re-reads the list only when it is terminated and initialised again, which
needs every stream closed first: that is why one owner does it for the microphone and the
speaker together, between turns, while either of them runs without its named device.
"""

from __future__ import annotations

import logging
import threading
import time

from .devices import _sd

log = logging.getLogger(__name__)


def reinitialise_portaudio() -> None:
    """Terminate and initialise PortAudio (every stream must be closed): the device list is
    read again."""
    sd = _sd()
    if sd._initialized:
        sd._terminate()
    sd._initialize()


class DeviceRescan:
    """Owns the re-reading of the device list for one microphone and one speaker.

    :meth:`tick` (from the live loop, between turns) re-scans every ``every_s`` while the
    microphone or the speaker is on the default device because its named one was missing,
    or has no stream at all; the microphone's own reopen loop calls :meth:`rescan` while it
    waits (at the same pace). Each re-scan costs a gap of about a tenth of a second in both streams."""

    def __init__(self, mic, sink, every_s: float = 5.0):
        self.mic, self.sink, self.every_s = mic, sink, every_s
        self.rescans = 0
        self._next = time.monotonic() + every_s
        self._lock = threading.Lock()
        if every_s > 0:
            mic.rescan = self.tick

    @property
    def wanted(self) -> bool:
        """A named device is missing (or a stream is gone)."""
        return self.mic.on_fallback or self.sink.on_fallback or not self.mic.is_open or not self.sink.is_open

    def tick(self) -> None:
        if self.every_s > 0 and self.wanted and time.monotonic() >= self._next:
            self.rescan()

    def rescan(self) -> None:
        """Close both streams, re-read the device list, reopen each on its named device if
        it is there, else where it can."""
        with self._lock:
            self._next = time.monotonic() + self.every_s
            before = self._where()
            t = time.perf_counter()
            with self.sink.suspended():  # reopened on leaving, after the microphone
                self.mic.close_stream()
                try:
                    reinitialise_portaudio()
                except Exception as exc:  # tried again at the next re-scan
                    log.error("could not re-read the audio devices (PortAudio: %s)", exc)
                else:
                    self.mic.reopen()
            self.rescans += 1
            after = self._where()
            took = time.perf_counter() - t
            if after == before:
                log.debug("re-read the audio devices in %.2fs: nothing new", took)
                return
            log.warning("re-read the audio devices in %.2fs: listening on %s, speaking on %s", took,
                        *after)

    def _where(self) -> tuple[str, str]:
        return self.mic.where, self.sink.where
