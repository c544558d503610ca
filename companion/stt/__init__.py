"""Speech to text: the engines behind ``contracts.Recognizer`` and the factory that picks one
from ``[stt]``. A new engine is one module here and one line in :data:`ENGINES`."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable

from ..contracts import Recognizer
from ..ops.config import STTConfig
from ..remote import kind_of
from .speculative import SpeculativeTranscriber

log = logging.getLogger(__name__)


def _whisper(cfg: STTConfig, cache: Path) -> Recognizer:
    from .whisper import WhisperRecognizer

    return WhisperRecognizer(cfg, cache)


def _remote(engine: Callable[[STTConfig], Recognizer]) -> Callable[[STTConfig, Path], Recognizer]:
    """A server's recogniser, with the local model behind it (``[stt] fallback``)."""
    def load(cfg: STTConfig, cache: Path) -> Recognizer:
        from ..fallback import FallbackRecognizer

        local = None
        if cfg.fallback:
            try:
                local = load_recognizer(dataclasses.replace(cfg, base_url=""), cache)
            except Exception as exc:  # not installed here: the server alone, said when it fails
                log.warning("no local speech recognition to fall back on (%s)", exc)
        return FallbackRecognizer(engine(cfg), local)
    return load


def _wyoming(cfg: STTConfig) -> Recognizer:
    from .wyoming import WyomingRecognizer

    return WyomingRecognizer(cfg)


def _openai(cfg: STTConfig) -> Recognizer:
    from .openai_audio import OpenAIRecognizer

    return OpenAIRecognizer(cfg)


ENGINES: dict[str, Callable[[STTConfig, Path], Recognizer]] = {
    "whisper": _whisper, "wyoming": _remote(_wyoming), "openai": _remote(_openai)}


def engine_of(cfg: STTConfig) -> str:
    """Which engine ``[stt]`` asks for: a server named by ``base_url``, else Whisper here."""
    return "whisper" if kind_of(cfg.base_url) == "local" else kind_of(cfg.base_url)


def load_recognizer(cfg: STTConfig, cache: Path) -> Recognizer:
    """The recogniser ``[stt]`` names; ``cache`` is where assembled model files are kept."""
    return ENGINES[engine_of(cfg)](cfg, cache)


def load_transcriber(cfg: STTConfig, cache: Path) -> SpeculativeTranscriber:
    """The recogniser, ready for a conversation (one worker thread, guesses at pauses)."""
    return SpeculativeTranscriber(load_recognizer(cfg, cache))
