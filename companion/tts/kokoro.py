"""Text to speech with Kokoro-82M (int8 ONNX, through ``kokoro-onnx``): load the model and one
voice once, synthesise short pieces one at a time (a :class:`~companion.contracts.Synthesizer`).

Kokoro makes a whole piece in one model call (about 0.35 s plus 0.35-0.5 of the audio's length
on two cores), so a long text is cut into short pieces: a caller that stops iterating (barge-in)
waits for at most the piece in progress, and the first piece's audio comes sooner."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..model_files import ModelError, kokoro_model, resolve_kokoro_voice
from ..ops.config import TTSConfig
from .chunking import short_pieces
from .level import with_gain
from .pronounce import pronunciations

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
PIECE_WORDS = 14  # longest piece in words (about 4 s of speech, about 1.5 s to make)
SENTENCE_PAUSE_S, CLAUSE_PAUSE_S = 0.25, 0.1  # silence after a piece, as kokoro-onnx puts between its batches


class KokoroSynthesizer:
    """A loaded Kokoro model speaking with one voice. ``synthesize`` is blocking; call it from a
    worker thread. The output is deterministic, so ``varied`` changes nothing here."""

    def __init__(self, cfg: TTSConfig, data: Path, varied: bool = True, options=None):
        """``options``: ONNX Runtime session options other than :func:`session_options`' (benchmarks)."""
        files = resolve_kokoro_voice(cfg.voice, data)
        model = kokoro_model(data / "models")
        t = time.perf_counter()
        try:
            self._kokoro = _load(model, options)
        except Exception as exc:
            raise ModelError(f"the Kokoro model {model} could not be loaded ({exc}); delete its folder "
                             f"{model.parent} and it is assembled again from the installed packages") from None
        self._style = np.fromfile(files.vectors, dtype="<f4").reshape(510, 1, 256)
        self.name = files.name
        self.language = files.language
        self.sample_rate = SAMPLE_RATE
        self.speed, self.volume = cfg.speed, cfg.volume
        self._say = pronunciations(data)
        log.info("voice %s (Kokoro) loaded in %.2fs (%d Hz)", self.name, time.perf_counter() - t, self.sample_rate)

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        """Change rate and loudness from the next piece on ("slower", "louder")."""
        self.speed = self.speed if speed is None else min(2.0, max(0.5, speed))  # the model's range
        self.volume = self.volume if volume is None else volume

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield mono float32 audio at :attr:`sample_rate`, one block per short piece."""
        for piece in short_pieces(self._say(text), PIECE_WORDS):
            speed, volume = self.speed, self.volume  # one piece, one setting, even if changed meanwhile
            try:
                audio, _ = self._kokoro.create(piece, voice=self._style, speed=speed, lang=self.language)
            except ValueError as exc:  # nothing speakable in it ("...", a lone symbol)
                log.debug("Kokoro skipped %r: %s", piece, exc)
                continue
            mark = piece.rstrip("\"')]")[-1:]
            pause = SENTENCE_PAUSE_S if mark in tuple(".!?…") else CLAUSE_PAUSE_S if mark in tuple(",;:—–") else 0.0
            yield with_gain(np.concatenate([audio, np.zeros(int(pause / speed * SAMPLE_RATE), np.float32)]), volume)


def session_options(threads: int = 0, spinning: bool = False, arena: bool = False, optimization: str = "all",
                    parallel: bool = False):
    """ONNX Runtime settings for Kokoro: every core (two threads were 1.7 times faster than one
    here), no busy-waiting between model calls (a spinning thread would take a core from
    Whisper and the LLM), and no memory arena (as for Piper: lengths vary piece to piece).
    ``benchmarks/tts_voices.py`` compares each alternative."""
    import onnxruntime

    level = {"none": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.enable_cpu_mem_arena = arena
    options.enable_mem_pattern = arena
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level[optimization])
    if parallel:  # independent branches of the graph at once, on an inter-op pool of its own
        options.execution_mode = onnxruntime.ExecutionMode.ORT_PARALLEL
        options.inter_op_num_threads = 2
    return options


def _load(model: Path, options=None):
    import onnxruntime
    from kokoro_onnx import Kokoro

    # phonemizer (set up by that import) warns on every piece whose punctuation it re-attaches
    # ("words count mismatch"): harmless, and not for the user's terminal
    logging.getLogger("phonemizer").setLevel(logging.ERROR)

    session = onnxruntime.InferenceSession(str(model), sess_options=options or session_options(), providers=["CPUExecutionProvider"])
    # kokoro-onnx insists on an .npz of voices; ours come one by one as kokoro-js files and are
    # passed to create() as arrays, so it gets an empty one
    empty = model.parent / "no-voices.npz"
    if not empty.is_file():
        tmp = model.parent / f".no-voices-{os.getpid()}.npz"
        np.savez(tmp)
        os.replace(tmp, empty)
    return Kokoro.from_session(session, str(empty))
