"""Speech to text on a Wyoming server (``wyoming-faster-whisper``, what Home Assistant users
run): Transcribe, the turn's audio as AudioStart / AudioChunk / AudioStop, then Transcript.

A :class:`~companion.contracts.Recognizer`. The audio goes in 100 ms chunks as Home
Assistant sends it; the server only starts decoding at AudioStop, so the speculative pass at
the user's first pause (``speculative.py``) is what hides the round trip.
"""

from __future__ import annotations

import time

import numpy as np

from ..audio.files import pcm16
from ..ops.config import STTConfig
from ..records import SAMPLE_RATE, Transcript
from ..remote import RemoteError, WyomingSession

CHUNK = SAMPLE_RATE // 10  # samples per AudioChunk


class WyomingRecognizer:
    def __init__(self, cfg: STTConfig):
        self.cfg = cfg
        self.name = f"wyoming {cfg.base_url}" + (f" ({cfg.remote_model})" if cfg.remote_model else "")

    def warm_up(self) -> None:
        """One second of silence: the server loads its model now, not on the first turn."""
        self.transcribe(np.zeros(SAMPLE_RATE, np.float32))

    def set_hints(self, names: list[str]) -> None:
        """Wyoming's Transcribe event carries no vocabulary: the server hears without hints."""

    def transcribe(self, audio: np.ndarray) -> Transcript:
        from wyoming.asr import Transcribe
        from wyoming.asr import Transcript as Heard
        from wyoming.audio import AudioChunk, AudioStart, AudioStop

        t = time.perf_counter()
        fmt = {"rate": SAMPLE_RATE, "width": 2, "channels": 1}
        with WyomingSession(self.cfg.base_url, self.cfg.connect_timeout_s, self.cfg.read_timeout_s) as link:
            link.send(Transcribe(name=self.cfg.remote_model or None, language=self.cfg.language or None),
                      AudioStart(**fmt))
            link.send(*(AudioChunk(audio=pcm16(audio[i:i + CHUNK]), **fmt) for i in range(0, len(audio), CHUNK)))
            link.send(AudioStop())
            deadline = time.monotonic() + self.cfg.read_timeout_s
            while time.monotonic() < deadline:
                event = link.receive()
                if Heard.is_type(event.type):
                    heard = Heard.from_event(event)
                    if not isinstance(heard.text, str):
                        raise RemoteError(f"{self.cfg.base_url} sent a transcript without text")
                    return Transcript(heard.text.strip(), heard.language or self.cfg.language,
                                      time.perf_counter() - t)
            raise RemoteError(f"{self.cfg.base_url} sent no transcript within {self.cfg.read_timeout_s:g}s")
