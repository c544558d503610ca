"""Speech to text: the engines behind ``contracts.Recognizer`` and the factory that picks one
from ``[stt]``. A new engine is one module here and one line in :data:`ENGINES`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..contracts import Recognizer
from ..ops.config import STTConfig
from .speculative import SpeculativeTranscriber


def _whisper(cfg: STTConfig, cache: Path) -> Recognizer:
    from .whisper import WhisperRecognizer

    return WhisperRecognizer(cfg, cache)


ENGINES: dict[str, Callable[[STTConfig, Path], Recognizer]] = {"whisper": _whisper}


def engine_of(cfg: STTConfig) -> str:
    """Which engine ``[stt]`` asks for."""
    return "whisper"


def load_recognizer(cfg: STTConfig, cache: Path) -> Recognizer:
    """The recogniser ``[stt]`` names; ``cache`` is where assembled model files are kept."""
    return ENGINES[engine_of(cfg)](cfg, cache)


def load_transcriber(cfg: STTConfig, cache: Path) -> SpeculativeTranscriber:
    """The recogniser, ready for a conversation (one worker thread, guesses at pauses)."""
    return SpeculativeTranscriber(load_recognizer(cfg, cache))
