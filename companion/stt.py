"""Speech to text with faster-whisper: one utterance's audio in, one :class:`Transcript` out.

All model calls run on one worker thread, one utterance at a time. ``prefetch`` starts a
transcription at the user's first pause; if the turn is then confirmed with the same
audio, ``transcribe`` returns that result instead of starting over.

Whisper always encodes a 30 s window, which is most of the cost for a 3 s turn. With
``[stt] short_window`` the encoder gets a window fitted to the turn (at least 10 s, twice
the speech), about four times faster on this hardware with the same words on short turns.
A short window can make Whisper repeat itself; a decode that looks like a loop is redone
with the full window.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .config import STTConfig
from .models import whisper_model_dir
from .turns import Transcript

log = logging.getLogger(__name__)

FRAMES_PER_S = 100  # Whisper mel frames per second
FULL_WINDOW = 3000
MIN_WINDOW = 1000
_LOOP = re.compile(r"(\b.{6,}?)(?:\s*\1){2,}", re.S)


def _fingerprint(audio: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16).hexdigest()


class Transcriber:
    def __init__(self, cfg: STTConfig, cache: Path):
        from faster_whisper import WhisperModel

        self.cfg = cfg
        self.model_path = whisper_model_dir(cfg.model, cache)
        t = time.perf_counter()
        self.model = WhisperModel(self.model_path, device=cfg.device, compute_type=cfg.compute_type,
                                  cpu_threads=cfg.threads)
        self._tokenizer = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="stt")
        self._speculative: tuple[str, Future] | None = None
        log.info("whisper %s loaded in %.2fs", cfg.model, time.perf_counter() - t)

    def warm_up(self) -> None:
        """One throw-away pass, so the first real turn does not pay for lazy initialisation."""
        self._run(np.zeros(16000, np.float32))

    def prefetch(self, audio: np.ndarray) -> None:
        """Start transcribing a tentative turn in the background."""
        if self._speculative is not None:
            self._speculative[1].cancel()  # a stale guess not yet started is dropped; a running one finishes
        self._speculative = (_fingerprint(audio), self._worker.submit(self._run, audio))

    def submit(self, audio: np.ndarray) -> Future:
        """Transcribe in the background without touching the speculative guess."""
        return self._worker.submit(self._run, audio)

    def guess(self, wait: bool = False) -> Transcript | None:
        """The speculative transcription, once it is done (or at once with ``wait``)."""
        spec = self._speculative
        if spec is None or spec[1].cancelled() or not (wait or spec[1].done()):
            return None
        return spec[1].result()

    def transcribe(self, audio: np.ndarray) -> Transcript:
        spec, self._speculative = self._speculative, None
        if spec is not None and spec[0] == _fingerprint(audio):
            return spec[1].result()
        return self._worker.submit(self._run, audio).result()

    def _run(self, audio: np.ndarray) -> Transcript:
        t = time.perf_counter()
        text = None
        if self.cfg.short_window and self.cfg.language and len(audio) < 0.45 * FULL_WINDOW * 160:
            text = self._short_window(audio)
            if text is not None and _LOOP.search(text):
                log.debug("short-window decode looped (%r); using the full window", text)
                text = None
        if text is not None:
            return Transcript(text, self.cfg.language, time.perf_counter() - t)
        segments, info = self.model.transcribe(
            audio, language=self.cfg.language or None, beam_size=self.cfg.beam_size,
            condition_on_previous_text=False, vad_filter=False, without_timestamps=True)
        text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8).strip()
        return Transcript(text, info.language, time.perf_counter() - t)

    def _short_window(self, audio: np.ndarray) -> str:
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        if self._tokenizer is None:
            self._tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual,
                                        task="transcribe", language=self.cfg.language)
        tok = self._tokenizer
        features = self.model.feature_extractor(audio)
        frames = features.shape[-1]
        window = min(FULL_WINDOW, max(MIN_WINDOW, -(-2 * frames // 100) * 100))
        padded = np.zeros((1, features.shape[0], window), np.float32)
        padded[0, :, :min(frames, window)] = features[:, :window]
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(padded), to_cpu=False)
        seconds = len(audio) / 16000
        result = self.model.model.generate(
            encoded, [[tok.sot, tok.language, tok.transcribe, tok.no_timestamps]], beam_size=self.cfg.beam_size,
            max_length=int(16 + 8 * seconds), suppress_blank=True, suppress_tokens=[-1], return_no_speech_prob=True)[0]
        if result.no_speech_prob >= 0.8:
            return ""
        return tok.decode([t for t in result.sequences_ids[0] if t < tok.eot]).strip()
