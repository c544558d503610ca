"""Wiring: builds the stages from a :class:`Config` and runs them live, over recordings
(``replay``), or for one sentence (``say``). The live loop and replay share
:class:`TurnTaker` (endpointing with listening ahead) and :class:`Conversation`; only the
source and the sink differ."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..audio.devices import find_device
from ..audio.files import AudioFileError, read_audio
from ..audio.rescan import DeviceRescan
from ..audio.sinks import SpeakerSink, WavSink
from ..audio.sources import MicrophoneSource, array_frames
from ..llm.client import Brain, resolve_endpoint
from ..ops.config import Config, data_dir
from ..dialogue.conversation import Conversation, TranscriptLog
from ..database import faults_reported_to
from .faults import SpokenFaults
from .instance import single_instance
from ..memory import open_memory
from .heap import limit_malloc_arenas
from ..hearing.endpointer import EndpointSettings, Endpointer
from .live_loop import LiveLoop
from ..dialogue.persona import load_persona
from ..hearing.push_to_talk import push_to_talk
from ..skills import build_skills, router_of
from ..skills.announce import IdleAnnouncer
from ..ops.status import LiveStatus, models_in_use, publish_each_turn
from ..stt import SpeculativeTranscriber, load_transcriber
from ..dialogue.think_ahead import ThinkAhead
from ..hearing.turn_taking import TurnTaker
from ..records import SAMPLE_RATE
from ..contracts import Synthesizer
from ..tts import load_synthesizer, speak_to_array
from ..dialogue.voice_control import Preferences, VoiceControl

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """The loaded models and clients; loading them is the slow part of start-up."""

    transcriber: SpeculativeTranscriber
    voice: Synthesizer
    brain: Brain
    persona: object
    keepalive: object | None  # the embedded LLM server, when used
    preferences: Preferences


def load_parts(cfg: Config, data: Path) -> Parts:
    t = time.perf_counter()
    persona = load_persona(cfg.persona.name)
    result: dict = {}

    def load_llm():  # the embedded server loads (and warms up) in parallel with Whisper and Piper
        try:
            endpoint, keepalive = resolve_endpoint(cfg.llm)
            brain = Brain(cfg.llm, endpoint)
            if keepalive is not None:  # local: prime its prompt cache with the persona
                brain.warm_up([{"role": "system", "content": persona.system_prompt}, {"role": "user", "content": "Hi"}])
            result["brain"], result["keepalive"] = brain, keepalive
        except Exception as exc:  # re-raised on the main thread
            result["error"] = exc

    llm_thread = threading.Thread(target=load_llm, name="llm-start", daemon=True)
    llm_thread.start()
    transcriber = load_transcriber(cfg.stt, data / "models")
    voice = load_synthesizer(cfg.tts, data)
    preferences = Preferences(data / "preferences.json")  # "slower", "louder": said once, kept
    voice.set_prosody(speed=preferences.get("tts.speed", cfg.tts.speed), volume=preferences.get("tts.volume", cfg.tts.volume))
    transcriber.warm_up()
    speak_to_array(voice, "Hello.")
    llm_thread.join()
    if "error" in result:
        raise result["error"]
    log.info("models ready in %.2fs", time.perf_counter() - t)
    return Parts(transcriber, voice, result["brain"], persona, result["keepalive"], preferences)


def new_conversation(cfg: Config, parts: Parts, transcript: Path | None) -> Conversation:
    conv = Conversation(parts.transcriber, parts.brain, parts.voice, parts.persona,
                        TranscriptLog(transcript) if transcript else None, history_turns=cfg.llm.history_turns,
                        memory=open_memory(cfg, data_dir(), parts.brain), skills=[build_skills(cfg, parts.brain)])
    conv.prefill_between_turns = parts.keepalive is not None  # only our own server: a remote one bills tokens
    mode = cfg.conversation.think_ahead
    if mode == "on" or (mode == "auto" and parts.keepalive is not None):
        conv.ahead = ThinkAhead(parts.brain, parts.voice)
    conv.control = VoiceControl(parts.voice, parts.preferences, cfg.conversation.wake_phrase,
                                last_said=lambda: conv.last_turn.heard_text if conv.last_turn else "",
                                end_conversation=conv.memory.end_session)
    return conv


@contextmanager
def graceful_stop(on_stop):
    """SIGINT and SIGTERM call ``on_stop`` instead of raising, so shutdown is orderly and
    traceback-free; previous handlers come back afterwards."""
    previous = {}

    def handler(signum, frame):
        log.info("stopping (%s)", signal.Signals(signum).name)
        on_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


_UNTIL_EXIT: list = []  # a live run's models and server: exit_now ends the process without their slow teardown


def run_live(cfg: Config) -> int:
    limit_malloc_arenas()  # a loop that runs all day: see heap.py
    data = data_dir()
    spoken = SpokenFaults()  # a damaged, locked or full database is said aloud once
    with single_instance(data), faults_reported_to(spoken):  # the lock first: a second start is refused at once
        with push_to_talk(cfg.audio) as ptt:  # before the slow start: a key or button that cannot work is said at once
            return _run_live(cfg, data, spoken, ptt)


def _run_live(cfg: Config, data: Path, spoken: SpokenFaults, ptt=None) -> int:
    in_dev = find_device(cfg.audio.input_device, "input")
    out_dev = find_device(cfg.audio.output_device, "output")
    parts = load_parts(cfg, data)
    _UNTIL_EXIT.append(parts)  # returning must not free them: freeing the embedded server joins its threads (0.6 s)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    conv = new_conversation(cfg, parts, data / "transcripts" / f"{stamp}.jsonl")
    sink = SpeakerSink(out_dev, cfg.audio.output_block, spec=cfg.audio.output_device, latency_ms=cfg.audio.output_latency_ms)
    echo = None
    if cfg.conversation.echo_gate:
        from ..audio.echo import EchoCanceller

        echo = EchoCanceller(sink.rate)
        sink.on_output = echo.on_output  # every block played becomes the echo reference
    mic = MicrophoneSource(in_dev, cfg.audio.block_ms, spec=cfg.audio.input_device, latency_ms=cfg.audio.input_latency_ms)
    turns = TurnTaker(Endpointer(EndpointSettings.from_config(cfg.vad)), conv, cfg.vad)
    announcer = IdleAnnouncer(spoken.around(router_of(conv)), parts.voice, sink)  # due reminders and faults, said in gaps
    loop = LiveLoop(cfg, conv, mic, sink, turns, echo=echo, announcer=announcer, output_name=out_dev.name,
                    push_to_talk=ptt, devices=DeviceRescan(mic, sink, cfg.audio.device_rescan_s))
    status = LiveStatus(data, input_device=in_dev.name, output_device=out_dev.name, models=models_in_use(cfg, parts))
    publish_each_turn(conv, status)

    with graceful_stop(loop.stop):
        mic.start()
        log.info("listening (input %r, output %r); Ctrl-C to stop", in_dev.name, out_dev.name)
        try:
            loop.run()
        finally:
            mic.close()
            sink.close()
    status.stopped()
    # no conv.settle(): a prefill in flight only warms the embedded server's cache, and the
    # process ends through exit_now (os._exit) without tearing the server down, so nothing can
    # hang on it; waiting for it made SIGTERM take ~2 s after a turn
    conv.memory.end_session(datetime.now())
    log.info("stopped after %d turns (%d barge-ins)", conv.turns, loop.barge_ins)
    return 0


def exit_now(code: int) -> int:
    """End the process once the live loop has shut down in order: everything is saved (turns
    fsynced, memory committed, logs flushed), and the native libraries' own teardown (llama.cpp,
    CTranslate2, ONNX Runtime, PortAudio) can take seconds that a Ctrl-C should not wait for."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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


def say(cfg: Config, text: str, out: Path | None) -> int:
    voice = load_synthesizer(cfg.tts, data_dir())
    if out is not None:
        sink = WavSink(out)
    else:
        sink = SpeakerSink(find_device(cfg.audio.output_device, "output"))
    sink.begin()
    for audio in voice.synthesize(text):
        sink.write(audio, voice.sample_rate)
    sink.finish()
    sink.close()
    return 0

