"""Speech to text with faster-whisper: one :class:`Utterance` in, one :class:`Transcript` out."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .config import STTConfig
from .models import whisper_model_dir
from .turns import Transcript

log = logging.getLogger(__name__)


class Transcriber:
    """Loads the Whisper model once; ``transcribe`` is blocking and meant for a worker thread."""

    def __init__(self, cfg: STTConfig, cache: Path):
        from faster_whisper import WhisperModel

        self.cfg = cfg
        self.model_path = whisper_model_dir(cfg.model, cache)
        t = time.perf_counter()
        self.model = WhisperModel(self.model_path, device=cfg.device, compute_type=cfg.compute_type,
                                  cpu_threads=cfg.threads)
        log.info("whisper %s loaded in %.2fs", cfg.model, time.perf_counter() - t)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        t = time.perf_counter()
        segments, info = self.model.transcribe(
            audio, language=self.cfg.language or None, beam_size=self.cfg.beam_size,
            condition_on_previous_text=False, vad_filter=False, without_timestamps=True)
        text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8).strip()
        return Transcript(text, info.language, time.perf_counter() - t)
