"""``companion replay``: recorded user turns through the live pipeline (the same
:class:`TurnTaker` and :class:`Conversation`), replies written as WAV files beside a
``transcript.jsonl``."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import signal
from datetime import datetime
from pathlib import Path

import numpy as np

from ..audio.files import AudioFileError, read_audio
from ..audio.sinks import WavSink
from ..audio.sources import array_frames
from ..errors import UsageError
from ..llm.discovery import with_llm_found
from ..ops.logs import Words
from ..hearing.endpointer import EndpointSettings, Endpointer
from ..hearing.turn_taking import TurnTaker
from ..ops.config import Config, data_dir
from ..records import SAMPLE_RATE
from ..cancel import Cancel
from ..dialogue.reply import Reply
from .app import graceful_stop, load_parts, new_conversation
from .instance import single_instance

log = logging.getLogger(__name__)

TRANSCRIPT = "transcript.jsonl"


def replay(cfg: Config, files: list[str], out: Path) -> int:
    """Feed recorded user turns through the live pipeline; write reply WAVs and
    ``transcript.jsonl`` to ``out``. Returns 1 when any input file could not be used or a reply
    could not be written, 128 + the signal's number when stopped by one."""
    with single_instance(data_dir(), "replay"):  # replay writes the same memory database as 'run'
        _prepare(out)  # before the slow start: a bad --out is said at once
        return _replay(with_llm_found(cfg), files, out)  # [llm] base_url = "auto": settled once


def _prepare(out: Path) -> None:
    """``out`` as a folder this process can write, or the error that says why not."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the replies and transcript.jsonl "
                         "(it is created if it does not exist)")
    out.mkdir(parents=True, exist_ok=True)  # a file on the way or no permission: OSError, worded by the CLI
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))


def turns_already_in(out: Path) -> int:
    """The highest turn number an earlier replay into ``out`` used (transcript lines and reply
    files), so this one numbers on after it: an old transcript line must never point at new audio."""
    numbers = [int(m[1]) for p in out.glob("reply-*.wav") if (m := re.fullmatch(r"reply-(\d+)\.wav", p.name))]
    try:
        lines = (out / TRANSCRIPT).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            numbers.append(int(json.loads(line)["index"]))
        except (ValueError, KeyError, TypeError):  # a line cut short by a crash
            continue
    return max(numbers, default=0)


def _replay(cfg: Config, files: list[str], out: Path) -> int:
    parts = load_parts(cfg, data_dir())
    conv = new_conversation(cfg, parts, out / TRANSCRIPT, replay=True)
    conv.turns = before = turns_already_in(out)
    turns = TurnTaker(Endpointer(EndpointSettings.from_config(cfg.vad)), conv, cfg.vad, wait_for_guess=True)
    trailing = np.zeros(int(SAMPLE_RATE * (cfg.vad.end_silence_ms / 1000 + 0.5)), np.float32)
    stopping = Cancel()  # Ctrl-C: the reply in flight is stopped, and every later one before it starts
    failed = done = 0
    t0 = 0.0
    with graceful_stop(stopping.cancel) as stop:
        for path in files:
            if stopping.cancelled:
                break
            try:
                audio = read_audio(path)
            except AudioFileError as exc:
                log.error("skipped: %s", exc)
                failed += 1
                done += 1
                continue
            stream = np.concatenate([audio, trailing])
            heard = 0
            for utt in turns.turns(array_frames(stream, t0=t0)):
                heard += 1
                wav = out / f"reply-{conv.turns + 1:03d}.wav"
                sink = WavSink(wav)
                reply = Reply()
                stopping.on_cancel(reply.cancel)
                turn = conv.respond(utt, sink, source=str(path), reply=reply, reply_audio=str(wav))
                if sink.error is not None:
                    failed += 1
                    log.error("could not write %s (%s); the turn is in the transcript without audio. "
                              "Free some space or choose another --out", wav, sink.error.strerror or sink.error)
                if turn is not None:
                    log.info("turn %d: %r -> %r (%s)", turn.index, Words(turn.user_text), Words(turn.reply_text),
                             wav.name if turn.reply_audio else "no audio")
                if stopping.cancelled:
                    break
            if not heard:
                log.warning("%s: no speech found; nothing sent", path)
            turns.reset()
            t0 += len(stream) / SAMPLE_RATE
            done += not stopping.cancelled
    conv.memory.end_session(datetime.now())
    added = conv.turns - before
    where = f"transcript in {out / TRANSCRIPT}" if (out / TRANSCRIPT).exists() else "no transcript written"
    if stop.signal is not None:
        cut = " (the last one cut short)" if conv.last_turn is not None and conv.last_turn.interrupted else ""
        log.warning("stopped by %s after %d of %d files and %d turns%s; %s", signal.Signals(stop.signal).name,
                    done, len(files), added, cut, where)
        return 128 + stop.signal
    log.info("replayed %d files, %d turns, %s; %s", len(files), added, where, parts.voice.summary())
    return 1 if failed else 0
