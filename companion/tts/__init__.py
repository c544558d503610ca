"""Text to speech: the engines behind ``contracts.Synthesizer`` and the factory that picks one
from ``[tts]``. A new engine is one module here and one line in :data:`ENGINES`."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from ..contracts import Synthesizer
from ..ops.config import TTSConfig
from ..remote import kind_of

log = logging.getLogger(__name__)

REMOTE_RATE = 22050  # a server's voice without a local one behind it is played at this rate


def _piper(cfg: TTSConfig, data: Path, varied: bool) -> Synthesizer:
    from .piper import PiperSynthesizer

    return PiperSynthesizer(cfg, data, varied=varied)


def _remote(engine: Callable[[TTSConfig, int], Synthesizer]) -> Callable[[TTSConfig, Path, bool], Synthesizer]:
    """A server's voice, with the local voice behind it (``[tts] fallback``), at its rate."""
    def load(cfg: TTSConfig, data: Path, varied: bool) -> Synthesizer:
        from ..fallback import FallbackSynthesizer

        local = None
        if cfg.fallback:
            try:
                local = load_synthesizer(dataclasses.replace(cfg, base_url=""), data, varied)
            except Exception as exc:  # not installed here: the server alone, said when it fails
                log.warning("no local voice to fall back on (%s)", exc)
        return FallbackSynthesizer(engine(cfg, local.sample_rate if local else REMOTE_RATE), local)
    return load


def _wyoming(cfg: TTSConfig, rate: int) -> Synthesizer:
    from .wyoming import WyomingSynthesizer

    return WyomingSynthesizer(cfg, rate)


def _openai(cfg: TTSConfig, rate: int) -> Synthesizer:
    from .openai_audio import OpenAISynthesizer

    return OpenAISynthesizer(cfg, rate)


ENGINES: dict[str, Callable[[TTSConfig, Path, bool], Synthesizer]] = {
    "piper": _piper, "wyoming": _remote(_wyoming), "openai": _remote(_openai)}


def engine_of(cfg: TTSConfig, data: Path) -> str:
    """Which engine speaks: a server named by ``[tts] base_url``, else ``[tts] voice`` here."""
    if kind_of(cfg.base_url) != "local":
        return kind_of(cfg.base_url)
    return "piper"


def load_synthesizer(cfg: TTSConfig, data: Path, varied: bool = True) -> Synthesizer:
    """The voice ``[tts]`` names, loaded. ``varied=False`` asks for the same audio for the same
    text every time (test fixtures that must transcribe the same way), where the engine varies."""
    return ENGINES[engine_of(cfg, data)](cfg, data, varied)


def speak_to_array(voice: Synthesizer, text: str) -> np.ndarray:
    """All of ``text`` as one array (openers, earcon-like cues, tests)."""
    parts = list(voice.synthesize(text))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
