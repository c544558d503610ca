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


def _kokoro(cfg: TTSConfig, data: Path, varied: bool) -> Synthesizer:
    from .kokoro import KokoroSynthesizer

    return KokoroSynthesizer(cfg, data, varied=varied)


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
    "piper": _piper, "kokoro": _kokoro, "wyoming": _remote(_wyoming), "openai": _remote(_openai)}


def engine_of(cfg: TTSConfig, data: Path) -> str:
    """Which engine speaks: a server named by ``[tts] base_url``; else ``[tts] voice`` here, whose
    manifest says (``engine = "kokoro"``); a Kokoro ``.bin`` path is Kokoro; Piper for the rest."""
    if kind_of(cfg.base_url) != "local":
        return kind_of(cfg.base_url)
    from ..model_files import voice_engine

    return voice_engine(cfg.voice, data)


def load_synthesizer(cfg: TTSConfig, data: Path, varied: bool = True) -> Synthesizer:
    """The voice ``[tts]`` names, loaded. ``varied=False`` asks for the same audio for the same
    text every time (test fixtures that must transcribe the same way), where the engine varies."""
    return ENGINES[engine_of(cfg, data)](cfg, data, varied)


def speak_to_array(voice: Synthesizer, text: str) -> np.ndarray:
    """All of ``text`` as one array (openers, earcon-like cues, tests)."""
    parts = list(voice.synthesize(text))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def speak_into(voice: Synthesizer, sink, text: str, audio: np.ndarray | None = None, cancel=None,
               on_first_block: Callable[[], None] | None = None) -> bool:
    """The one synthesise -> sink loop (replies, announcements, ``companion say``): ``text``
    block by block into ``sink`` as it is made, or ``audio`` when it was made already;
    stops between blocks once ``cancel`` (a :class:`~companion.cancel.Cancel`) is cancelled.
    Returns whether all of it was written."""
    for block in ([audio] if audio is not None else voice.synthesize(text)):
        if cancel is not None and cancel.cancelled:
            return False
        if on_first_block is not None:
            on_first_block()
            on_first_block = None
        sink.write(block, voice.sample_rate)
    return True
