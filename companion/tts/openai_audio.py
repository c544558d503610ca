"""Text to speech through the OpenAI audio API (``POST /v1/audio/speech``), streamed: the
answer is read as it arrives and yielded block by block, and closing the response (barge-in)
tells the server to stop. Works with OpenAI itself and with the servers that copy its API.

A :class:`~companion.contracts.Synthesizer`. The answer is asked for as WAV, whose header
carries the sample rate: raw PCM is 24 kHz at OpenAI but the voice's own rate at most servers
that copy the API, and guessing wrong would play her a semitone off.
"""

from __future__ import annotations

import struct
from typing import Iterator

import numpy as np

from ..audio.files import from_pcm16
from ..audio.resample import Resampler
from ..ops.config import TTSConfig
from ..remote import RemoteError, openai_call, openai_client

DEFAULT_MODEL, DEFAULT_VOICE = "tts-1", "alloy"  # the names OpenAI's API requires
READ_BYTES = 4096  # about 0.1 s of 22 kHz audio: blocks go to the speaker as they come


class OpenAISynthesizer:
    def __init__(self, cfg: TTSConfig, sample_rate: int):
        """``sample_rate``: what this voice yields; audio at another rate is converted."""
        self.cfg = cfg
        self.model, self.voice = cfg.remote_model or DEFAULT_MODEL, cfg.remote_voice or DEFAULT_VOICE
        self.name = f"{cfg.base_url} ({self.model}, {self.voice})"
        self.sample_rate = sample_rate
        self.speed, self.volume = cfg.speed, cfg.volume
        self._client = openai_client(cfg.base_url, cfg.api_key_env, cfg.connect_timeout_s, cfg.read_timeout_s)

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        self.speed = self.speed if speed is None else speed
        self.volume = self.volume if volume is None else volume

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        url = self.cfg.base_url
        response = openai_call(url, lambda: self._client.audio.speech.with_streaming_response.create(
            model=self.model, voice=self.voice, input=text, response_format="wav", speed=self.speed).__enter__())
        try:
            wav = WavStream(url)
            resampler = None
            try:
                for data in response.iter_bytes(READ_BYTES):
                    pcm = wav.feed(data)
                    if wav.rate is None:
                        continue
                    resampler = resampler or Resampler(wav.rate, self.sample_rate)
                    block = resampler.process(pcm)
                    if len(block):
                        yield block * self.volume
            except RemoteError:
                raise
            except Exception as exc:  # the body broke off: a timeout, a reset, a server killed mid-answer
                raise RemoteError(f"{url} stopped sending audio ({exc.__class__.__name__}: {exc})") from None
            if wav.rate is None:
                raise RemoteError(f"{url} answered without audio ({wav.seen} bytes, no WAV data)")
        finally:
            response.close()


class WavStream:
    """Reads a WAV file as it arrives: the header first (rate, 16-bit mono or stereo), then
    mono float32 for every whole sample frame. Streaming servers write an unknown length
    (0 or 0xFFFFFFFF) in the header, so the data runs to the end of the answer."""

    def __init__(self, url: str):
        self.url = url
        self.rate: int | None = None
        self.channels = 1
        self.seen = 0
        self._buf = b""

    def feed(self, data: bytes) -> np.ndarray:
        self.seen += len(data)
        self._buf += data
        if self.rate is None and not self._header():
            return np.zeros(0, np.float32)
        frame = 2 * self.channels
        usable = len(self._buf) - len(self._buf) % frame
        pcm, self._buf = self._buf[:usable], self._buf[usable:]
        audio = from_pcm16(pcm)
        return audio.reshape(-1, self.channels).mean(axis=1) if self.channels > 1 else audio

    def _header(self) -> bool:
        buf = self._buf
        if len(buf) < 12:
            return False
        if buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
            raise RemoteError(f"{self.url} did not answer with WAV audio (it starts {buf[:12]!r})")
        pos, fmt = 12, None
        while len(buf) >= pos + 8:
            kind, size = buf[pos:pos + 4], struct.unpack("<I", buf[pos + 4:pos + 8])[0]
            if kind == b"data":
                if fmt is None:
                    raise RemoteError(f"{self.url} sent WAV data before its format")
                self.channels, self.rate = fmt
                self._buf = buf[pos + 8:]
                return True
            if len(buf) < pos + 8 + size:
                return False
            if kind == b"fmt ":
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", buf[pos + 8:pos + 24])
                if tag not in (1, 0xFFFE) or bits != 16 or channels not in (1, 2):
                    raise RemoteError(f"{self.url} sent {bits}-bit, {channels}-channel WAV (format {tag}); "
                                      "only 16-bit PCM mono or stereo is supported")
                fmt = (channels, rate)
            pos += 8 + size + size % 2
        return False
