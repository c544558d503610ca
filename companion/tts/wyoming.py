"""Text to speech on a Wyoming server (``wyoming-piper``, what Home Assistant users run):
Synthesize, then AudioStart / AudioChunk... / AudioStop, each chunk yielded as it arrives.

A :class:`~companion.contracts.Synthesizer`. Stopping the iteration (barge-in) closes the
connection, which is how a Wyoming server is told to stop. The protocol has no speaking rate,
so "slower" / "faster" cannot change a Wyoming voice (logged once); loudness is applied here.
"""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np

from ..audio.files import from_pcm16
from ..audio.resample import Resampler
from ..ops.config import TTSConfig
from ..remote import RemoteError, WyomingSession

log = logging.getLogger(__name__)


class WyomingSynthesizer:
    def __init__(self, cfg: TTSConfig, sample_rate: int):
        """``sample_rate``: what this voice yields; audio at another rate is converted."""
        self.cfg = cfg
        self.name = f"wyoming {cfg.base_url}" + (f" ({cfg.remote_voice})" if cfg.remote_voice else "")
        self.sample_rate = sample_rate
        self.speed, self.volume = cfg.speed, cfg.volume

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        if speed is not None and speed != self.speed:
            log.warning("a Wyoming voice has no speaking rate; %s keeps its own (set it on the server)", self.name)
        self.speed = self.speed if speed is None else speed
        self.volume = self.volume if volume is None else volume

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.tts import Synthesize, SynthesizeVoice

        voice = SynthesizeVoice(name=self.cfg.remote_voice) if self.cfg.remote_voice else None
        with WyomingSession(self.cfg.base_url, self.cfg.connect_timeout_s, self.cfg.read_timeout_s) as link:
            link.send(Synthesize(text=text, voice=voice))
            convert = None  # set by AudioStart (or the first chunk, from a server that skips it)
            while True:
                event = link.receive()
                if AudioStart.is_type(event.type):
                    convert = self._converter(AudioStart.from_event(event))
                elif AudioChunk.is_type(event.type):
                    chunk = AudioChunk.from_event(event)
                    convert = convert or self._converter(chunk)
                    block = convert(chunk.audio)
                    if len(block):
                        yield block * self.volume
                elif AudioStop.is_type(event.type):
                    return

    def _converter(self, fmt):
        """16-bit PCM at the server's rate and channels -> mono float32 at :attr:`sample_rate`."""
        if fmt.width != 2:
            raise RemoteError(f"{self.cfg.base_url} sent {8 * fmt.width}-bit audio; only 16-bit is supported")
        resampler, channels = Resampler(fmt.rate, self.sample_rate), max(1, fmt.channels)

        def convert(data: bytes) -> np.ndarray:
            audio = from_pcm16(data)
            audio = audio[: len(audio) - len(audio) % channels].reshape(-1, channels).mean(axis=1)
            return resampler.process(audio)

        return convert
