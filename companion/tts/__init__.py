"""Text to speech: the engines behind ``contracts.Synthesizer`` and the factory that picks one
from ``[tts]``. A new engine is one module here and one line in :data:`ENGINES`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..contracts import Synthesizer
from ..ops.config import TTSConfig


def _piper(cfg: TTSConfig, data: Path, varied: bool) -> Synthesizer:
    from .piper import PiperSynthesizer

    return PiperSynthesizer(cfg, data, varied=varied)


def _kokoro(cfg: TTSConfig, data: Path, varied: bool) -> Synthesizer:
    from .kokoro import KokoroSynthesizer

    return KokoroSynthesizer(cfg, data, varied=varied)


ENGINES: dict[str, Callable[[TTSConfig, Path, bool], Synthesizer]] = {"piper": _piper, "kokoro": _kokoro}


def engine_of(cfg: TTSConfig, data: Path) -> str:
    """Which engine speaks ``[tts] voice``: the voice's manifest says (``engine = "kokoro"``);
    a Kokoro ``.bin`` path is Kokoro; Piper for the rest."""
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
