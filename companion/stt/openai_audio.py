"""Speech to text through the OpenAI audio API (``POST /v1/audio/transcriptions``): the
turn's audio as a WAV file in memory, its words back. Works with OpenAI itself and with the
servers that copy its API (Speaches, LocalAI, faster-whisper-server, ...).

A :class:`~companion.contracts.Recognizer`; the ``openai`` client is the one the LLM uses.
"""

from __future__ import annotations

import io
import time

import numpy as np

from ..audio.files import write_wav
from ..ops.config import STTConfig
from ..records import SAMPLE_RATE, Transcript
from ..remote import RemoteError, openai_call, openai_client

DEFAULT_MODEL = "whisper-1"  # the name OpenAI's API requires; servers that copy it accept it


class OpenAIRecognizer:
    def __init__(self, cfg: STTConfig):
        self.cfg = cfg
        self.model = cfg.remote_model or DEFAULT_MODEL
        self._hints: list[str] = []
        self.name = f"{cfg.base_url} ({self.model})"
        self._client = openai_client(cfg.base_url, cfg.api_key_env, cfg.connect_timeout_s, cfg.read_timeout_s)

    def warm_up(self) -> None:
        self.transcribe(np.zeros(SAMPLE_RATE, np.float32))

    def set_hints(self, names: list[str]) -> None:
        self._hints = list(names)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        t = time.perf_counter()
        wav = write_wav(io.BytesIO(), audio, SAMPLE_RATE).getvalue()
        extra = {"language": self.cfg.language} if self.cfg.language else {}
        if self._hints:  # the API's prompt: words to expect, spelled as the user spells them
            extra["prompt"] = ", ".join(self._hints)
        result = openai_call(self.cfg.base_url, lambda: self._client.audio.transcriptions.create(
            model=self.model, file=("turn.wav", wav, "audio/wav"), response_format="json", **extra))
        text = getattr(result, "text", None)
        if not isinstance(text, str):
            raise RemoteError(f"{self.cfg.base_url} answered without a transcript ({str(result)[:80]!r})")
        return Transcript(text.strip(), self.cfg.language, time.perf_counter() - t)
