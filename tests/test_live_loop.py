"""The live loop's barge-in and shutdown logic, in seconds: the real LiveLoop, TurnTaker,
Endpointer, Conversation and LLM client, driven by a real-time microphone and speaker
stand-in (companion/testing/stand_ins.py). Loud noise is speech here (LoudnessVAD), so a
sound of an exact length stands for a cough, an "mm-hm" or a real interruption; the
recogniser hears scripted words. The end-to-end versions with real speech and devices are
in test_barge_in.py and test_shutdown.py."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from companion.contracts import NoMemory
from companion.dialogue.conversation import Conversation
from companion.dialogue.persona import load_persona
from companion.hearing.endpointer import EndpointSettings, Endpointer
from companion.hearing.turn_taking import TurnTaker
from companion.llm.client import Brain
from companion.llm.embedded import Endpoint
from companion.ops.config import Config, LLMConfig, VADConfig
from companion.records import SAMPLE_RATE
from companion.runtime.live_loop import LiveLoop
from companion.stt.speculative import SpeculativeTranscriber
from companion.testing.scripted_llm import ScriptedLLM
from companion.testing.stand_ins import LeakyMic, LoudnessVAD, PacedMic, PacedSink, Said, Tone, noise

QUESTION = "Tell me about the sea?"
STORY = ("The sea is wide and deep and old, and it has carried ships and stories for longer than anyone "
         "remembers, from the first small boats to the great ships of today.")


WORDS, HUM = 0.6, 0.2  # noise levels: the recogniser hears words in loud sound, "Mm-hm." in quiet sound


def heard(audio) -> str:
    sound = audio[np.abs(audio) > 0.01]
    return QUESTION if len(sound) and np.sqrt(np.mean(np.square(sound))) > 0.4 else "Mm-hm."


@dataclasses.dataclass
class Live:
    loop: LiveLoop
    conv: Conversation
    mic: PacedMic
    sink: PacedSink
    after_turn: list  # the turn count each time the loop's after_turn ran


@contextmanager
def live(llm: ScriptedLLM, sink: PacedSink | None = None, memory=None):
    """A live loop over one spoken question (0.5 s of loud noise), answered with a long reply."""
    mic = PacedMic(np.concatenate([np.zeros(int(0.1 * SAMPLE_RATE), np.float32), noise(0.5, WORDS)]))
    sink = sink or PacedSink()
    after: list[int] = []
    conv = Conversation(SpeculativeTranscriber(Said(heard)), Brain(LLMConfig(), Endpoint(llm.base_url, "k", "m")),
                        Tone(word_s=0.05), load_persona("samantha"), memory=memory)
    cfg = Config()
    cfg = dataclasses.replace(cfg, conversation=dataclasses.replace(cfg.conversation, barge_in="on", earcons=False))
    turns = TurnTaker(Endpointer(EndpointSettings(), vad=LoudnessVAD()), conv, VADConfig())
    yield Live(LiveLoop(cfg, conv, mic, sink, turns, after_turn=lambda: after.append(conv.turns)), conv, mic, sink,
               after)


def when_she_has_spoken(sink: PacedSink, seconds: float, then, timeout: float = 10.0) -> threading.Thread:
    """Call ``then()`` once ``seconds`` of her reply have played."""
    def watch():
        deadline = time.monotonic() + timeout
        while sink.played < seconds * (sink.rate or SAMPLE_RATE) and time.monotonic() < deadline:
            time.sleep(0.01)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def run_until(live: Live, done, timeout: float = 10.0) -> None:
    runner = threading.Thread(target=live.loop.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        live.loop.stop()
        runner.join(5)
    assert not runner.is_alive(), "the loop did not end after stop()"


def test_a_short_sound_pauses_her_and_she_goes_on(scripted_llm):
    scripted_llm.enqueue(STORY)
    with live(scripted_llm) as s:
        when_she_has_spoken(s.sink, 0.5, lambda: s.mic.say(noise(0.15)))
        run_until(s, lambda: s.conv.last_turn is not None)
    assert s.sink.pauses == 1 and s.loop.resumed == 1 and s.loop.barge_ins == 0
    assert not s.conv.last_turn.interrupted and s.conv.last_turn.heard_text == s.conv.last_turn.reply_text


def test_mm_hm_while_she_speaks_does_not_stop_her(scripted_llm):
    scripted_llm.enqueue(STORY)
    with live(scripted_llm) as s:
        when_she_has_spoken(s.sink, 0.5, lambda: s.mic.say(noise(0.5, HUM)))
        run_until(s, lambda: s.conv.last_turn is not None)
    assert s.loop.barge_ins == 0 and s.loop.resumed >= 1
    assert not s.conv.last_turn.interrupted and len(scripted_llm.requests) == 1


def test_talking_over_her_stops_her_and_history_keeps_what_was_heard(scripted_llm):
    scripted_llm.enqueue(STORY, "Yes?")
    with live(scripted_llm) as s:
        started = []
        when_she_has_spoken(s.sink, 0.5, lambda: (started.append(time.monotonic()), s.mic.say(noise(1.0, WORDS, 1))))
        run_until(s, lambda: s.conv.last_turn is not None and s.conv.last_turn.index == 2)
    assert s.loop.barge_ins == 1
    assert s.sink.stopped_at is not None and s.sink.stopped_at - started[0] < 0.8  # 0.3 s of speech, then its words (not the 1.3 s fallback)
    first = s.conv.history[1]["content"]
    assert first.endswith("(interrupted by the user)") and first.startswith("The sea is")
    assert len(first.split()) < len(STORY.split())  # cut where playback stopped
    assert len(scripted_llm.requests) == 2 and scripted_llm.requests[1]["messages"][-3]["content"] == first


def test_speech_while_she_stores_a_finished_reply_does_not_hold_the_next_one(scripted_llm):
    """The user speaks as soon as she has finished, while her turn is still being stored: the
    pause that speech causes has nothing left to hold, and must not hold the next reply."""
    class SlowToStore(NoMemory):
        def on_reply(self, turn, spoken):
            if turn.index == 1:
                s.mic.say(noise(1.0, WORDS, 1))
                time.sleep(0.6)

    scripted_llm.enqueue("Okay.", "Yes?")
    with live(scripted_llm, memory=SlowToStore()) as s:
        run_until(s, lambda: s.conv.last_turn is not None and s.conv.last_turn.index == 2, timeout=8)
    assert s.conv.last_turn.index == 2 and not s.conv.last_turn.interrupted
    assert s.sink.played == s.sink.queued > 0  # all of "Yes?" played
    assert s.after_turn == [1, 2]  # the status file is written after each turn


def test_stop_during_a_reply_ends_the_loop_and_the_reply_at_once(scripted_llm):
    scripted_llm.enqueue(STORY)
    with live(scripted_llm) as s:
        runner = threading.Thread(target=s.loop.run, daemon=True)
        runner.start()
        when_she_has_spoken(s.sink, 0.5, lambda: None).join()
        asked = time.monotonic()
        s.loop.stop()
        runner.join(5)
        took = time.monotonic() - asked
    assert not runner.is_alive() and took < 0.5, f"took {took:.2f}s"
    assert s.sink.stopped_at - asked < 0.2


# -- open speakers: her own voice comes back into the microphone ------------------------------
INTERRUPTION = "Wait, stop. Tell me about the mountains instead."


@contextmanager
def leaky(llm: ScriptedLLM, mode: str = "on"):
    """The live loop on open speakers with no echo gate: the microphone hears her reply (a
    tone, :class:`LeakyMic`), and the recogniser hears in it the words she is playing, as
    Whisper would, with its mistakes ("see" for "sea", a word dropped); loud noise is the user."""
    sink = PacedSink()
    mic = LeakyMic(np.concatenate([np.zeros(int(0.3 * SAMPLE_RATE), np.float32), noise(0.8, WORDS)]), sink, gain=0.5)
    said: list[str] = []
    box: list[Live] = []

    def heard(audio) -> str:
        sound = audio[np.abs(audio) > 0.01]
        if len(sound) and np.sqrt(np.mean(np.square(sound))) > 0.4:
            said.append(QUESTION if not said else INTERRUPTION)
            return said[-1]
        reply = box[0].loop._reply
        playing = reply is not None and reply.handle.text
        words = (reply.handle.text if playing else box[0].loop._said_before[0]).split()  # or the tail of the last
        if not words:
            return "Mm-hm."
        at = min(len(words) - 5, int(len(words) * sink.played / max(sink.queued, 1))) if playing else len(words)
        echo = words[max(0, at - 4):max(0, at - 4) + 6]  # the words just played, as Whisper spells them
        return " ".join(w.replace("sea", "see") for i, w in enumerate(echo) if i != 2)

    conv = Conversation(SpeculativeTranscriber(Said(heard)), Brain(LLMConfig(), Endpoint(llm.base_url, "k", "m")),
                        Tone(word_s=0.2), load_persona("samantha"))
    cfg = Config()
    cfg = dataclasses.replace(cfg, conversation=dataclasses.replace(cfg.conversation, barge_in=mode, earcons=False))
    turns = TurnTaker(Endpointer(EndpointSettings(), vad=LoudnessVAD()), conv, VADConfig())
    box.append(Live(LiveLoop(cfg, conv, mic, sink, turns), conv, mic, sink, []))
    yield box[0]


@pytest.mark.slow  # a whole leaked reply and the quiet after it, in real time (~13 s)
@pytest.mark.parametrize("mode", ["on", "auto"])
def test_her_own_words_coming_back_do_not_interrupt_her(scripted_llm, mode):
    scripted_llm.enqueue(STORY)
    with leaky(scripted_llm, mode) as s:
        ended: list[float] = []  # her last words come back too: no turn may be made of them in the next 2.5 s
        run_until(s, lambda: s.conv.last_turn is not None and (ended or ended.append(time.monotonic()) or ended)[0]
                  + 2.5 < time.monotonic(), timeout=35)
    turn = s.conv.last_turn
    assert s.loop.barge_ins == 0 and not turn.interrupted and turn.heard_text == turn.reply_text == STORY
    assert s.loop.echo_words >= 1 and len(scripted_llm.requests) == 1 and s.conv.turns == 1
    assert s.loop.barge_in is (mode == "on")  # auto: her words heard back are open speakers: listen between replies


@pytest.mark.slow  # her echo heard twice before the user speaks, in real time (~10 s)
def test_on_open_speakers_other_words_still_stop_her(scripted_llm):
    scripted_llm.enqueue(STORY, "Mountains are tall.")
    with leaky(scripted_llm) as s:
        started = []
        when_she_has_spoken(s.sink, 3.0, lambda: (started.append(time.monotonic()), s.mic.say(noise(1.0, WORDS, 1))))
        run_until(s, lambda: s.conv.last_turn is not None and s.conv.last_turn.index == 2, timeout=30)
    assert s.loop.barge_ins == 1
    # her echo was heard before: no pause at the first sound, so 0.3 s of speech and its words (an
    # echo check may be in flight), not the 1.3 s "speech went on"
    assert s.sink.stopped_at is not None and s.sink.stopped_at - started[0] < 1.0
    assert s.conv.history[1]["content"].endswith("(interrupted by the user)")
    assert scripted_llm.requests[1]["messages"][-1]["content"] == INTERRUPTION


# -- Ctrl-C at the moment of a pause, in a process of its own ----------------------------------
def ctrl_c_at_a_pause(sig: signal.Signals) -> dict:
    """Run the live loop on the main thread (where Python runs signal handlers) and send ``sig``
    from inside the sink's ``pause``, with its lock held, when a short sound pauses her."""
    from companion.runtime.app import graceful_stop

    signalled: list[float] = []

    def on_pause():
        if not signalled:
            signalled.append(time.monotonic())
            os.kill(os.getpid(), sig)
            time.sleep(0.05)  # the handler runs here, on this thread, inside the lock

    with ScriptedLLM() as llm:
        llm.enqueue(STORY)
        with live(llm, PacedSink(on_pause=on_pause)) as s:
            when_she_has_spoken(s.sink, 0.5, lambda: s.mic.say(noise(0.15)))
            with graceful_stop(s.loop.stop):
                s.loop.run()
            stopped = time.monotonic()
    return {"signalled": bool(signalled), "took": stopped - signalled[0] if signalled else None,
            "interrupted": s.conv.last_turn.interrupted if s.conv.last_turn else None}


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_at_the_moment_of_a_pause_stops_her_promptly(sig):
    proc = subprocess.run([sys.executable, __file__, sig], capture_output=True, text=True, timeout=15,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["signalled"], "the short sound never paused her"
    assert result["took"] < 1.0, f"took {result['took']:.2f}s to stop"
    assert result["interrupted"] is True  # the reply in flight was stopped, and its turn kept


if __name__ == "__main__":
    print(json.dumps(ctrl_c_at_a_pause(signal.Signals[sys.argv[1]])))
