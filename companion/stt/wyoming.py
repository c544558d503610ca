"""Speech to text on a Wyoming server (``wyoming-faster-whisper``, what Home Assistant users
run): Transcribe, the turn's audio as AudioStart / AudioChunk / AudioStop, then Transcript.

A :class:`~companion.contracts.StreamingRecognizer`: the pipeline opens a stream when the user
starts speaking and sends the audio in chunks as it is heard (``stt.speculative``), so when
the user pauses only the last chunk and AudioStop are left to send. ``wyoming-faster-whisper``
decodes Whisper models only at AudioStop (it writes the chunks to a file meanwhile), so
streaming saves the upload, not the decoding; the speculative pass at the user's first pause
is what hides the decoding. One connection carries one turn: the server closes it after its
Transcript.
"""

from __future__ import annotations

import time

import numpy as np

from ..audio.files import pcm16
from ..ops.config import STTConfig
from ..records import SAMPLE_RATE, Transcript
from ..remote import RemoteError, WyomingSession

CHUNK = SAMPLE_RATE // 10  # samples per AudioChunk
FORMAT = {"rate": SAMPLE_RATE, "width": 2, "channels": 1}


class WyomingStream:
    """One turn on one connection: opened at once (Transcribe + AudioStart), fed, finished."""

    def __init__(self, cfg: STTConfig):
        from wyoming.asr import Transcribe
        from wyoming.audio import AudioStart

        self.cfg = cfg
        self.link = WyomingSession(cfg.base_url, cfg.connect_timeout_s, cfg.read_timeout_s)
        try:
            self.link.send(Transcribe(name=cfg.remote_model or None, language=cfg.language or None),
                           AudioStart(**FORMAT))
        except RemoteError:
            self.link.close()
            raise
        self.sent = 0  # samples

    def feed(self, audio: np.ndarray) -> None:
        from wyoming.audio import AudioChunk

        self.link.send(*(AudioChunk(audio=pcm16(audio[i:i + CHUNK]), **FORMAT) for i in range(0, len(audio), CHUNK)))
        self.sent += len(audio)

    def finish(self) -> Transcript:
        from wyoming.asr import Transcript as Heard
        from wyoming.audio import AudioStop

        t = time.perf_counter()
        try:
            self.link.send(AudioStop())
            deadline = time.monotonic() + self.cfg.read_timeout_s
            while time.monotonic() < deadline:
                event = self.link.receive()
                if Heard.is_type(event.type):
                    heard = Heard.from_event(event)
                    if not isinstance(heard.text, str):
                        raise RemoteError(f"{self.cfg.base_url} sent a transcript without text")
                    return Transcript(heard.text.strip(), heard.language or self.cfg.language,
                                      time.perf_counter() - t)
            raise RemoteError(f"{self.cfg.base_url} sent no transcript within {self.cfg.read_timeout_s:g}s")
        finally:
            self.link.close()

    def close(self) -> None:
        self.link.close()


class WyomingRecognizer:
    def __init__(self, cfg: STTConfig):
        self.cfg = cfg
        self.name = f"wyoming {cfg.base_url}" + (f" ({cfg.remote_model})" if cfg.remote_model else "")

    def warm_up(self) -> None:
        """One second of silence: the server loads its model now, not on the first turn."""
        self.transcribe(np.zeros(SAMPLE_RATE, np.float32))

    def set_hints(self, names: list[str]) -> None:
        """Wyoming's Transcribe event carries no vocabulary: the server hears without hints."""

    def open_stream(self) -> WyomingStream:
        return WyomingStream(self.cfg)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """The whole turn at once (no stream was open for it)."""
        t = time.perf_counter()
        stream = self.open_stream()
        try:
            stream.feed(audio)
        except RemoteError:
            stream.close()
            raise
        heard = stream.finish()
        return Transcript(heard.text, heard.language, time.perf_counter() - t)
