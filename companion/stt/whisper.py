"""Speech to text with faster-whisper: one utterance's audio in, one :class:`Transcript` out.

A :class:`~companion.contracts.Recognizer`; the threads and the guess made at the user's
first pause are ``speculative.py``'s.

Whisper always encodes a 30 s window, which is most of the cost for a 3 s turn. With
``[stt] short_window`` the encoder gets a window fitted to the turn (at least 10 s, twice
the speech), about four times faster on this hardware with the same words on short turns.
A short window can make Whisper repeat itself or stop early; a decode that looks like a loop,
or holds far fewer words than the audio, is redone with the full window.

Names the user's memory knows ("Susan", "Biscuit", "Zoë") are given to the decoder as hint
words before the transcript (faster-whisper's ``hotwords``: the previous-text prompt), so a
name it has no reason to expect is still heard as said.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import numpy as np

from ..ops.config import STTConfig
from ..model_files import whisper_model_dir
from ..records import Transcript
from ..ops.logs import Words

log = logging.getLogger(__name__)

FRAMES_PER_S = 100  # Whisper mel frames per second
FULL_WINDOW = 3000
MIN_WINDOW = 1000
MAX_HINTS = 30  # names; Whisper's prompt holds at most 223 tokens
_LOOP = re.compile(r"(\b.{6,}?)(?:\s*\1){2,}", re.S)


def _cut_short(text: str, seconds: float) -> bool:
    """The decode stopped early: far fewer words than the audio holds ("Can" for "Can you drive
    me to work tomorrow?", or nothing at all, in 2 s). With name hints in its prompt the fitted
    window did this on about 1 spoken turn in 40; the full window heard those turns whole.
    People say two to three words a second; under 0.8 a second, over a second or more, is a
    decode cut off, not a slow speaker."""
    return seconds >= 1.0 and len(re.findall(r"[\w']+", text)) < 0.8 * seconds


def _started_over(text: str) -> bool:
    """The decode wrote the turn and began it again ("Good morning. How did you sleep? Good
    morning. How did you"): tiny.en does this in a fitted window when the speech ends the
    audio; the full window then decodes it properly."""
    words = re.findall(r"[\w']+", text.lower())
    head = words[:3]
    return len(head) == 3 and any(words[i:i + 3] == head for i in range(3, len(words) - 2))


class WhisperRecognizer:
    """faster-whisper on the CPU (or GPU): blocking; call it from one thread at a time."""

    def __init__(self, cfg: STTConfig, cache: Path):
        from faster_whisper import WhisperModel

        self.cfg = cfg
        self.model_path = whisper_model_dir(cfg.model, cache)
        t = time.perf_counter()
        self.model = WhisperModel(self.model_path, device=cfg.device, compute_type=cfg.compute_type,
                                  cpu_threads=cfg.threads)
        self.name = f"whisper {cfg.model}"
        self._tokenizer = None
        self.hints = ""  # names to listen for, as Whisper's previous-text prompt
        log.info("whisper %s loaded in %.2fs", cfg.model, time.perf_counter() - t)

    def set_hints(self, names: list[str]) -> None:
        """Listen for these names from the next turn on (at most ``MAX_HINTS``, the first kept).
        An English-only model (tiny.en) takes none: given the prompt it wrote the turn twice
        ("Can you hear me now? Can you hear me now?") and heard no more names than without it."""
        if not self.model.model.is_multilingual:
            return
        self.hints = ", ".join(list(dict.fromkeys(n.strip() for n in names if n.strip()))[:MAX_HINTS])

    def warm_up(self) -> None:
        self.transcribe(np.zeros(16000, np.float32))

    def transcribe(self, audio: np.ndarray) -> Transcript:
        t = time.perf_counter()
        text = None
        if self.cfg.short_window and self.cfg.language and len(audio) < 0.45 * FULL_WINDOW * 160:
            text = self._short_window(audio)
            if text is not None and (_LOOP.search(text) or _started_over(text)):
                log.debug("short-window decode looped (%r); using the full window", Words(text))
                text = None
            elif text is not None and _cut_short(text, len(audio) / 16000):
                log.debug("short-window decode cut short (%r); using the full window", Words(text))
                text = None
        if text is not None:
            return Transcript(text, self.cfg.language, time.perf_counter() - t)
        segments, info = self.model.transcribe(
            audio, language=self.cfg.language or None, beam_size=self.cfg.beam_size,
            condition_on_previous_text=False, vad_filter=False, without_timestamps=True, hotwords=self.hints or None)
        text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.8).strip()
        return Transcript(text, info.language, time.perf_counter() - t)

    def _short_window(self, audio: np.ndarray) -> str:
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        if self._tokenizer is None:
            # an English-only model (tiny.en) takes neither a language nor a task token
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
        hint = [tok.sot_prev, *tok.encode(" " + self.hints)] if self.hints else []  # as faster-whisper's hotwords
        result = self.model.model.generate(
            encoded, [[*hint, *tok.sot_sequence, tok.no_timestamps]], beam_size=self.cfg.beam_size,
            max_length=len(hint) + int(16 + 8 * seconds),  # the length counts the prompt
            suppress_blank=True, suppress_tokens=[-1], return_no_speech_prob=True)[0]
        if result.no_speech_prob >= 0.8:
            return ""
        return tok.decode([t for t in result.sequences_ids[0] if t < tok.eot]).strip()
