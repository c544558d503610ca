"""Wiring: builds the stages from a :class:`Config` and runs them live, over recordings
(``replay``, in replay.py), or for one sentence (``say``). The live loop and replay share
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
from types import SimpleNamespace
from typing import Callable

from ..audio.devices import find_device
from ..audio.earcons import Earcons
from ..audio.rescan import DeviceRescan
from ..audio.sinks import SpeakerSink, WavSink
from ..audio.sources import MicrophoneSource
from ..llm.client import Brain, resolve_endpoint
from ..llm.discovery import with_llm_found
from ..ops.config import Config, data_dir
from ..dialogue.conversation import Conversation, TranscriptLog
from ..database import faults_reported_to
from ..errors import UsageError, check_new_file
from .faults import SpokenFaults
from .instance import single_instance
from ..memory import open_memory
from .heap import limit_malloc_arenas
from ..hearing.endpointer import EndpointSettings, Endpointer
from .live_loop import LiveLoop
from ..dialogue.honesty import Honesty, Limits
from ..dialogue.persona import load_persona
from ..dialogue.shaping import stop_sequences
from ..hearing.push_to_talk import push_to_talk
from ..skills import build_skills, router_of
from ..skills.announce import IdleAnnouncer
from ..ops.status import LiveStatus, models_in_use
from ..stt import SpeculativeTranscriber, load_transcriber
from ..dialogue.think_ahead import ThinkAhead
from ..hearing.turn_taking import TurnTaker
from ..tts import engine_of, load_synthesizer, speak_into, speak_to_array
from ..tts.opener_cache import OpenerCache
from ..dialogue.openers import opener_phrases
from ..dialogue.voice_control import Preferences, VoiceControl

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """The loaded models and clients; loading them is the slow part of start-up."""

    transcriber: SpeculativeTranscriber
    voice: OpenerCache
    brain: Brain
    persona: object
    keepalive: object | None  # the embedded LLM server, when used
    preferences: Preferences


def load_parts(cfg: Config, data: Path) -> Parts:
    t = time.perf_counter()
    persona = configured_persona(cfg)
    result: dict = {}

    def load_llm():  # the embedded server loads (and warms up) in parallel with Whisper and Piper
        try:
            endpoint, keepalive = resolve_endpoint(cfg.llm)
            brain = Brain(cfg.llm, endpoint, stop=stop_sequences(persona.name, embedded=keepalive is not None))
            if keepalive is not None:  # local: prime its prompt cache with the persona
                brain.warm_up([{"role": "system", "content": persona.system_prompt}, {"role": "user", "content": "Hi"}])
            result["brain"], result["keepalive"] = brain, keepalive
        except Exception as exc:  # re-raised on the main thread
            result["error"] = exc

    llm_thread = threading.Thread(target=load_llm, name="llm-start", daemon=True)
    llm_thread.start()
    transcriber = load_transcriber(cfg.stt, data / "models")
    voice = cached_voice(cfg, data, persona)
    preferences = Preferences(data / "preferences.json")  # "slower", "louder": said once, kept
    voice.set_prosody(speed=preferences.get("tts.speed", cfg.tts.speed), volume=preferences.get("tts.volume", cfg.tts.volume))
    transcriber.warm_up()
    speak_to_array(voice, "Hello.")
    llm_thread.join()
    if "error" in result:
        raise result["error"]
    log.info("models ready in %.2fs", time.perf_counter() - t)
    return Parts(transcriber, voice, result["brain"], persona, result["keepalive"], preferences)


def configured_persona(cfg: Config):
    compact = cfg.persona.compact == "on" or (cfg.persona.compact == "auto" and cfg.llm.base_url == "embedded")
    return load_persona(cfg.persona.name, small=compact)  # a 135M model follows a short prompt better


def prepare_opener_cache(cfg: Config, data: Path) -> OpenerCache | None:
    """Make the configured voice's opener cache now, at the speed she will start with
    (``scripts/setup.sh``, through ``python -m companion.model_files``), so that a first start
    does not build it while she talks: on two cores every phrase built then is CPU taken from
    the user's first replies. ``None`` for a voice on a server (nothing is cached for it)."""
    if cfg.tts.base_url:
        return None
    voice = cached_voice(cfg, data, configured_persona(cfg))
    preferences = Preferences(data / "preferences.json")
    voice.set_prosody(speed=preferences.get("tts.speed", cfg.tts.speed))
    voice.build()
    return voice


def cached_voice(cfg: Config, data: Path, persona) -> OpenerCache:
    """The configured voice behind its opener cache (which ``run`` builds in the background
    after start; ``replay`` and the benchmarks use what is there)."""
    return OpenerCache(load_synthesizer(cfg.tts, data), engine_of(cfg.tts, data), data / "voice-cache",
                       opener_phrases(persona, cfg.conversation.wake_phrase))


FIRST_WORDS = 4  # a slow voice's first sentence is cut before a joining word after this many words


def new_conversation(cfg: Config, parts: Parts, transcript: Path | None, replay: bool = False,
                     cue: Callable[[str], None] = lambda kind: None) -> Conversation:
    """A conversation on the loaded parts. ``replay``: recordings follow each other at once
    (nothing to gain from prefill) and the transcript, the output asked for, keeps every turn.
    ``cue(kind)`` plays an earcon when voice control wakes her or puts her to sleep."""
    memory = open_memory(cfg, data_dir(), parts.brain)
    mode = cfg.conversation.think_ahead
    slow_voice = getattr(parts.voice, "engine", None) == "kokoro"  # ~0.35 s + half the audio's length for any piece
    first_words = FIRST_WORDS if slow_voice else 0
    ahead = (ThinkAhead(parts.brain, parts.voice, parts.persona.fallback, first_words)
             if mode == "on" or (mode == "auto" and parts.keepalive is not None) else None)
    control = VoiceControl(parts.voice, parts.preferences, cfg.conversation.wake_phrase,
                           last_said=lambda: conv.last_turn.heard_text if conv.last_turn else "",
                           end_conversation=memory.end_session, cue=cue)
    conv = Conversation(parts.transcriber, parts.brain, parts.voice, parts.persona,
                        TranscriptLog(transcript) if transcript else None, history_turns=cfg.llm.history_turns,
                        memory=memory, skills=[Honesty(parts.persona), build_skills(cfg, parts.brain), Limits()], control=control,
                        ahead=ahead,
                        # only our own server: a remote one bills tokens
                        prefill_between_turns=parts.keepalive is not None and not replay, log_off_record=replay,
                        acknowledge=cfg.conversation.acknowledge == "on"
                        or (cfg.conversation.acknowledge == "auto" and slow_voice), first_words=first_words)
    return conv


@contextmanager
def graceful_stop(on_stop):
    """SIGINT and SIGTERM call ``on_stop`` instead of raising, so shutdown is orderly and
    traceback-free; previous handlers come back afterwards.

    The handler itself only writes the signal's number to a pipe (no lock, no call into the
    pipeline): it runs on the main thread between two bytecodes, maybe inside the sink's
    non-reentrant lock (``pause``), so calling into the sink there could deadlock. ``on_stop``
    runs on a thread of its own, which simply waits for such a lock to be let go. Yields a
    record whose ``signal`` is the number of the signal that stopped it (``None`` while none has)."""
    stopped = SimpleNamespace(signal=None)
    read_end, write_end = os.pipe()

    def handler(signum, frame):
        stopped.signal = signum
        os.write(write_end, bytes([signum]))

    def stopper():
        while (got := os.read(read_end, 1)) and got[0]:  # 0: the context ended
            log.info("stopping (%s)", signal.Signals(got[0]).name)
            try:
                on_stop()
            except Exception:  # a failed stop must not leave a second Ctrl-C unanswered
                log.exception("could not stop in order")

    thread = threading.Thread(target=stopper, name="stopper", daemon=True)
    thread.start()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
        os.write(write_end, b"\0")
        thread.join(5)
        os.close(read_end)
        os.close(write_end)


_UNTIL_EXIT: list = []  # a live run's models and server: exit_now ends the process without their slow teardown


def run_live(cfg: Config) -> int:
    limit_malloc_arenas()  # a loop that runs all day: see heap.py
    cfg = with_llm_found(cfg)  # [llm] base_url = "auto": settled once, for every part
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
    spoken.watch(parts.transcriber.recognizer, parts.voice)  # a speech server that stops answering is said once
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    sink = SpeakerSink(out_dev, cfg.audio.output_block, spec=cfg.audio.output_device, latency_ms=cfg.audio.output_latency_ms)
    earcons = Earcons(cfg.conversation.earcon_volume) if cfg.conversation.earcons else None
    cue = (lambda kind: earcons.play(kind, sink)) if earcons else (lambda kind: None)
    conv = new_conversation(cfg, parts, data / "transcripts" / f"{stamp}.jsonl", cue=cue)
    echo = None
    if cfg.conversation.echo_gate:
        from ..audio.echo import EchoCanceller

        echo = EchoCanceller(sink.rate)
        sink.on_output = echo.on_output  # every block played becomes the echo reference
    mic = MicrophoneSource(in_dev, cfg.audio.block_ms, spec=cfg.audio.input_device, latency_ms=cfg.audio.input_latency_ms)
    turns = TurnTaker(Endpointer(EndpointSettings.from_config(cfg.vad)), conv, cfg.vad)
    announcer = IdleAnnouncer(spoken.around(router_of(conv)), parts.voice, sink)  # due reminders and faults, said in gaps
    status = LiveStatus(data, input_device=in_dev.name, output_device=out_dev.name, models=models_in_use(cfg, parts))
    loop = LiveLoop(cfg, conv, mic, sink, turns, echo=echo, announcer=announcer, output_name=out_dev.name,
                    push_to_talk=ptt, devices=DeviceRescan(mic, sink, cfg.audio.device_rescan_s), earcons=earcons,
                    after_turn=lambda: status.turn(conv.turns, conv.last_turn))

    with graceful_stop(loop.stop):
        parts.voice.build_in_background()  # the phrases she says most, made in the gaps
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
    log.info("stopped after %d turns (%d barge-ins); %s", conv.turns, loop.barge_ins, parts.voice.summary())
    return 0


def exit_now(code: int) -> int:
    """End the process once the live loop has shut down in order: everything is saved (turns
    fsynced, memory committed, logs flushed), and the native libraries' own teardown (llama.cpp,
    CTranslate2, ONNX Runtime, PortAudio) can take seconds that a Ctrl-C should not wait for."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def play_sample(cfg: Config, name: str) -> int:
    """``companion voices --play NAME``: the sample sentence in that voice, on the speaker."""
    from ..tts.catalog import sample

    audio, rate = sample(cfg.tts, data_dir(), name)
    sink = SpeakerSink(find_device(cfg.audio.output_device, "output"))
    sink.begin()
    sink.write(audio, rate)
    sink.finish()
    sink.close()
    return 0


def say(cfg: Config, text: str, out: Path | None) -> int:
    if not text.strip():
        raise UsageError("nothing to say: give a sentence, e.g. companion say \"Hello there.\"")
    if out is not None:
        check_new_file(out, force=True)  # before the voice loads; no folder is created for a typo
    voice = load_synthesizer(cfg.tts, data_dir())
    if out is not None:
        sink = WavSink(out)
    else:
        sink = SpeakerSink(find_device(cfg.audio.output_device, "output"))
    sink.begin()
    speak_into(voice, sink, text)
    sink.finish()
    sink.close()
    if getattr(sink, "error", None) is not None:  # a WavSink keeps its write error (disk full) for the caller
        raise sink.error
    return 0

