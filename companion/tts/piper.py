"""Text to speech with Piper: load a voice once, synthesise one speakable chunk at a time
(a :class:`~companion.contracts.Synthesizer`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..ops.config import TTSConfig
from ..model_files import resolve_voice
from .pronounce import pronunciations

log = logging.getLogger(__name__)


class PiperSynthesizer:
    """A loaded Piper voice. ``synthesize`` is blocking; call it from a worker thread."""

    def __init__(self, cfg: TTSConfig, data: Path, varied: bool = True):
        """``varied=False`` turns off Piper's random variation (noise), so the same text gives
        the same audio every time: for test fixtures that must transcribe the same way."""
        files = resolve_voice(cfg.voice, data)
        t = time.perf_counter()
        try:
            self._piper = _load_lean(files)
        except Exception as exc:
            raise RuntimeError(f"voice {cfg.voice!r} could not be loaded from {files.onnx} ({exc}); "
                               "the .onnx or .onnx.json may be damaged, download both again") from None
        self.name = files.name
        self.sample_rate = int(self._piper.config.sample_rate)
        self.speed, self.volume = cfg.speed, cfg.volume
        self._say = pronunciations(data)
        self._noise = {} if varied else {"noise_scale": 0.0, "noise_w_scale": 0.0}
        self.set_prosody()
        log.info("voice %s loaded in %.2fs (%d Hz)", files.name, time.perf_counter() - t, self.sample_rate)

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        """Change rate and loudness from the next sentence on ("slower", "louder")."""
        from piper import SynthesisConfig

        self.speed = self.speed if speed is None else speed
        self.volume = self.volume if volume is None else volume
        self._syn = SynthesisConfig(length_scale=1.0 / self.speed, volume=self.volume, **self._noise)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield mono float32 audio at :attr:`sample_rate`, one block per sentence Piper finds."""
        for chunk in self._piper.synthesize(self._say(text), syn_config=self._syn):
            yield chunk.audio_float_array.astype(np.float32, copy=False)


def _load_lean(files) -> "PiperVoice":
    """Piper's own loader, but with ONNX Runtime's memory arena and memory patterns off: with
    them on, every new sentence length reserves memory that is never given back (+389 MB
    over 600 sentences against +87 MB, at the same synthesis speed; ``benchmarks/tts_memory.py``)."""
    import json

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    config = PiperConfig.from_dict(json.loads(Path(files.config).read_text(encoding="utf-8")))
    session = onnxruntime.InferenceSession(str(files.onnx), sess_options=options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)
