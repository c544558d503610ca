"""``companion replay``: recorded user turns through the live pipeline (the same
:class:`TurnTaker` and :class:`Conversation`), replies written as WAV files beside a
``transcript.jsonl``."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

import numpy as np

from ..audio.files import AudioFileError, read_audio
from ..audio.sinks import WavSink
from ..audio.sources import array_frames
from ..hearing.endpointer import EndpointSettings, Endpointer
from ..hearing.turn_taking import TurnTaker
from ..ops.config import Config, data_dir
from ..records import SAMPLE_RATE
from .app import graceful_stop, load_parts, new_conversation
from .instance import single_instance

log = logging.getLogger(__name__)


def replay(cfg: Config, files: list[str], out: Path) -> int:
    """Feed recorded user turns through the live pipeline; write reply WAVs and
    ``transcript.jsonl`` to ``out``. Returns 1 when any input file could not be used."""
    with single_instance(data_dir()):  # replay writes the same memory database as 'run'
        return _replay(cfg, files, out)


def _replay(cfg: Config, files: list[str], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    parts = load_parts(cfg, data_dir())
    conv = new_conversation(cfg, parts, out / "transcript.jsonl")
    conv.log_off_record = True
    conv.prefill_between_turns = False  # recordings follow each other at once: nothing to gain
    turns = TurnTaker(Endpointer(EndpointSettings.from_config(cfg.vad)), conv, cfg.vad, wait_for_guess=True)
    trailing = np.zeros(int(SAMPLE_RATE * (cfg.vad.end_silence_ms / 1000 + 0.5)), np.float32)
    cancel = threading.Event()
    failed = 0
    t0 = 0.0
    with graceful_stop(cancel.set):
        for path in files:
            if cancel.is_set():
                break
            try:
                audio = read_audio(path)
            except AudioFileError as exc:
                log.error("skipped: %s", exc)
                failed += 1
                continue
            stream = np.concatenate([audio, trailing])
            heard = 0
            for utt in turns.turns(array_frames(stream, t0=t0)):
                heard += 1
                wav = out / f"reply-{conv.turns + 1:03d}.wav"
                turn = conv.respond(utt, WavSink(wav), source=str(path), cancel=cancel, reply_audio=str(wav))
                if turn is not None:
                    log.info("turn %d: %r -> %r (%s)", turn.index, turn.user_text, turn.reply_text, wav.name)
            if not heard:
                log.warning("%s: no speech found; nothing sent", path)
            turns.reset()
            t0 += len(stream) / SAMPLE_RATE
    conv.memory.end_session(datetime.now())
    log.info("replayed %d files, %d turns, transcript in %s", len(files), conv.turns, out / "transcript.jsonl")
    return 1 if failed else 0
