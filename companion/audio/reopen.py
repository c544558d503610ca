"""What the microphone and the speaker share: a PortAudio stream on a device that may go away
(a Bluetooth drop, a USB unplug) and is then reopened, on the named device if it is there,
else on the default one, with the same messages for both.

Each of them says how to open its stream on a device (``_configure`` then ``_open``); when to
reopen stays theirs: the microphone when its audio stops coming, the speaker before it is
given audio (see :class:`~companion.audio.sources.MicrophoneSource` and
:class:`~companion.audio.sinks.SpeakerSink`). :class:`~companion.audio.rescan.DeviceRescan`
closes and reopens both through the same methods.
"""

from __future__ import annotations

import logging
import threading

from .devices import Device, close_quietly, open_named_else_default

ON_FALLBACK = " (the default device, until yours is back)"


class ReopeningStream:
    """A PortAudio stream that can be closed and opened again on the named device or the
    default one. Subclasses set ``kind`` ('input' or 'output'), ``part`` ('microphone') and
    ``doing`` ('listening') for the messages, and ``log``, and call :meth:`_init_stream`."""

    kind: str
    part: str
    doing: str
    log: logging.Logger
    device: Device
    rate: int

    def _init_stream(self, spec: str) -> None:
        self.spec = spec  # what the user named ('' for the default device)
        self.reopened = 0
        self.on_fallback = False  # on the default device because the named one is missing
        self._stream = None
        self._stream_lock = threading.RLock()  # opening, closing, and re-initialising PortAudio

    def _configure(self, device: Device) -> None:
        """Take ``device`` (and the rate and block size it allows) for the next :meth:`_open`."""
        raise NotImplementedError

    def _open(self) -> None:
        """Open and start the stream on ``self.device``."""
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        return self._stream is not None and self._stream.active

    @property
    def latency_s(self) -> float:
        """Seconds of audio the device's buffer holds between the stream and the air (0 when
        closed): how long a paused speaker still sounds, how old a captured block already is."""
        stream = self._stream
        return float(getattr(stream, "latency", 0) or 0) if stream is not None else 0.0

    def close_stream(self) -> None:
        with self._stream_lock:
            close_quietly(self._stream)
            self._stream = None

    def reopen(self) -> bool:
        """Open the named device if it is there, else the default one."""
        with self._stream_lock:
            self.close_stream()
            fallback = open_named_else_default(self.spec, self.kind, self._open_on)
            if fallback is not None:
                self.on_fallback = fallback
            return fallback is not None

    def _open_on(self, device: Device) -> None:
        try:
            self._configure(device)
            self._open()
        except Exception:
            self.close_stream()
            raise

    def _lost(self, why: str) -> None:
        self.log.warning("%s %r %s; reopening it", self.part, self.device.name, why)

    def _reopen_lost(self) -> bool:
        """:meth:`reopen` after the device was lost, counted and said; False if none opened."""
        if not self.reopen():
            return False
        self.reopened += 1
        self.log.warning("%s again on %r at %d Hz%s", self.doing, self.device.name, self.rate,
                         ON_FALLBACK if self.on_fallback else "")
        return True

    @property
    def where(self) -> str:
        """Where the stream is, for a message: the device, or that none opens."""
        if not self.is_open:
            return "nothing (no device opens)"
        return repr(self.device.name) + (ON_FALLBACK if self.on_fallback else "")
