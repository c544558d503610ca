"""Push-to-talk: the gate's rules, the terminal key on a real pseudo-terminal, the headset
button's events, and the live loop with real speech, Whisper and Piper: speech without the
key is ignored, a held turn ends the moment the key is released, a press stops her."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pty
import termios
import threading
import time

import numpy as np
import pytest

from companion.ops.config import ConfigError, load_config
from companion.hearing.push_to_talk import InputButton, PushToTalkError, TalkGate, TerminalKey, find_button_device
from companion.records import SAMPLE_RATE
from companion.testing.stand_ins import PacedMic, PacedSink

from companion.testing.checks import words


# -- the gate ---------------------------------------------------------------------------------
def test_a_press_toggles_and_a_held_key_talks_until_released():
    gate = TalkGate()
    gate.press(1.0)
    gate.release(1.1)  # a click: talking stays on
    gate.press(3.0)  # the second click sends
    gate.release(3.05)
    gate.press(5.0)
    gate.release(7.0)  # held: the release sends
    assert gate.take(0.5) == [] and not gate.talking
    assert [(e.talking, e.t) for e in gate.take(1.5)] == [(True, 1.0)] and gate.talking
    assert [(e.talking, e.t) for e in gate.take(10)] == [(False, 3.0), (True, 5.0), (False, 7.0)]
    assert not gate.talking


def test_presses_before_she_listens_do_not_count():
    gate = TalkGate()
    gate.press(1.0)
    gate.reset()
    gate.press(2.0)  # after the reset, this one starts talking (not ends it)
    assert [e.talking for e in gate.take(3.0)] == [True]


def test_settings_are_checked_by_name():
    with pytest.raises(ConfigError, match=r"\[audio\] push_to_talk = 'always' is not allowed; choose one of: off, key, button"):
        load_config(flags={"audio": {"push_to_talk": "always"}}, environ={})
    with pytest.raises(ConfigError, match=r"\[audio\] push_to_talk_key = 'spacebar' is not a terminal key"):
        load_config(flags={"audio": {"push_to_talk_key": "spacebar"}}, environ={})
    with pytest.raises(ConfigError, match=r"\[audio\] push_to_talk_buttons = .*'play', not a Linux key name"):
        load_config(flags={"audio": {"push_to_talk_buttons": "KEY_PLAYPAUSE, play"}}, environ={})
    cfg = load_config(flags={"audio": {"push_to_talk": "button", "push_to_talk_buttons": "KEY_F12,BTN_0"}}, environ={})
    assert cfg.audio.push_to_talk_buttons == "KEY_F12,BTN_0"


# -- a key on a terminal ----------------------------------------------------------------------
def test_terminal_key_on_a_pty_restores_the_terminal():
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        gate = TalkGate([TerminalKey("space", stdin=open(slave, closefd=False))]).start()
        lflag = termios.tcgetattr(slave)[3]
        assert not lflag & termios.ICANON and not lflag & termios.ECHO  # keys one by one, not echoed
        assert lflag & termios.ISIG  # Ctrl-C still stops her
        os.write(master, b"x")  # not the key
        os.write(master, b" ")
        deadline = time.monotonic() + 2
        while not gate.take(time.monotonic()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gate.talking
        os.write(master, b" ")
        time.sleep(0.3)
        assert [e.talking for e in gate.take(time.monotonic())] == [False]
        gate.close()
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_terminal_key_without_a_terminal_says_what_to_use(tmp_path):
    with open(tmp_path / "not-a-tty", "w+") as f:
        with pytest.raises(PushToTalkError, match="needs a terminal.*'button'.*'off'"):
            TalkGate([TerminalKey("space", stdin=f)]).start()


@pytest.mark.slow
def test_doctor_says_when_push_to_talk_cannot_work(tmp_path, monkeypatch, capsys, scripted_llm):
    from companion.testing.checks import doctor

    monkeypatch.setattr("sys.stdin", open(tmp_path / "not-a-tty", "w+"))  # as under a service
    code, checks = doctor(capsys, scripted_llm, "audio.push_to_talk=key")
    assert code == 1 and checks["push-to-talk"].startswith("FAIL") and "needs a terminal" in checks["push-to-talk"]
    _, checks = doctor(capsys, scripted_llm)
    assert "push-to-talk" not in checks  # off: nothing to check


# -- a headset button (evdev) -----------------------------------------------------------------
needs_evdev = pytest.mark.skipif(importlib.util.find_spec("evdev") is None,
                                 reason="the optional evdev package (companion[buttons]) is not installed")


@needs_evdev
def test_button_press_and_release_drive_the_gate():
    from evdev import InputEvent, ecodes

    gate = TalkGate()
    button = InputButton("KEY_PLAYPAUSE")
    button._gate = gate
    for code, value in ((ecodes.KEY_VOLUMEUP, 1), (ecodes.KEY_PLAYPAUSE, 1), (ecodes.KEY_PLAYPAUSE, 2)):
        button.handle(InputEvent(0, 0, ecodes.EV_KEY, code, value))
    time.sleep(TalkGate.CLICK_S + 0.05)  # held
    button.handle(InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_PLAYPAUSE, 0))
    assert [e.talking for e in gate.take(time.monotonic())] == [True, False]  # repeat and other keys ignored


@needs_evdev
def test_button_names_and_missing_devices_are_explained(tmp_path, monkeypatch):
    with pytest.raises(PushToTalkError, match="KEY_NOPE is not a key"):
        InputButton("KEY_NOPE")
    codes = InputButton("").codes
    assert "KEY_PLAYPAUSE" in codes.values() and "KEY_PHONE" in codes.values()
    with pytest.raises(PushToTalkError, match="no input devices"):
        find_button_device(codes, "", str(tmp_path))
    (tmp_path / "event0").write_bytes(b"")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as a user outside the 'input' group
    with pytest.raises(PushToTalkError, match="permission denied.*'input' group"):
        find_button_device(codes, "", str(tmp_path))


def _uinput_usable() -> bool:
    try:
        fd = os.open("/dev/uinput", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


@needs_evdev
@pytest.mark.skipif(not _uinput_usable(), reason="/dev/uinput is not usable here (no uinput module, or not root)")
def test_a_virtual_headset_button_through_uinput():
    from evdev import UInput, ecodes

    with UInput({ecodes.EV_KEY: [ecodes.KEY_PLAYPAUSE, ecodes.KEY_VOLUMEUP]}, name="Test Headset AVRCP") as ui:
        time.sleep(0.5)  # udev creates the event node
        gate = TalkGate([InputButton("", "test headset")]).start()
        try:
            ui.write(ecodes.EV_KEY, ecodes.KEY_PLAYPAUSE, 1)
            ui.syn()
            time.sleep(TalkGate.CLICK_S + 0.1)
            ui.write(ecodes.EV_KEY, ecodes.KEY_PLAYPAUSE, 0)
            ui.syn()
            time.sleep(0.2)
            assert [e.talking for e in gate.take(time.monotonic())] == [True, False]
        finally:
            gate.close()


# -- the live loop with real speech -----------------------------------------------------------
@pytest.mark.slow
def test_only_speech_with_the_key_is_heard_and_the_release_ends_the_turn(speech, transcriber, voice, scripted_llm):
    from companion.llm.client import Brain
    from companion.ops.config import Config, LLMConfig, VADConfig
    from companion.dialogue.conversation import Conversation
    from companion.llm.embedded import Endpoint
    from companion.hearing.endpointer import EndpointSettings, Endpointer
    from companion.runtime.live_loop import LiveLoop
    from companion.dialogue.persona import load_persona
    from companion.testing.virtual_headset import read_wav
    from companion.hearing.turn_taking import TurnTaker

    ignored, asked = "What time is the train to Boston?", "Tell me a story about the sea."
    a, _ = read_wav(speech(ignored, rate=SAMPLE_RATE))
    b, _ = read_wav(speech(asked, rate=SAMPLE_RATE))
    gap = np.zeros(int(1.5 * SAMPLE_RATE), np.float32)
    audio = np.concatenate([gap, a, gap, b, np.zeros(SAMPLE_RATE, np.float32)])
    b_start = (2 * len(gap) + len(a)) / SAMPLE_RATE
    b_end = b_start + np.nonzero(np.abs(b) > 0.01)[0][-1] / SAMPLE_RATE
    scripted_llm.enqueue("Once upon a time, a small boat sailed out at dawn. The sea was calm and silver, and the "
                         "fisherman sang an old song as the gulls followed him far from the shore.")

    gate = TalkGate()
    released = []
    mic = PacedMic(audio, {b_start - 0.3: gate.press, b_end + 0.1: lambda t: (released.append(t), gate.release(t))})
    sink = PacedSink()
    brain = Brain(LLMConfig(), Endpoint(scripted_llm.base_url, "k", "m"))
    conv = Conversation(transcriber, brain, voice, load_persona("samantha"))
    heard = []
    respond = conv.respond
    conv.respond = lambda utt, *args, **kw: (heard.append(utt), respond(utt, *args, **kw))[1]
    cfg = dataclasses.replace(Config(), conversation=dataclasses.replace(Config().conversation, earcons=False))
    turns = TurnTaker(Endpointer(EndpointSettings()), conv, VADConfig())
    loop = LiveLoop(cfg, conv, mic, sink, turns, push_to_talk=gate)
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + len(audio) / SAMPLE_RATE + 30
        while sink.played < 0.5 * 22050 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.first_sample_at is not None, "she never answered the turn spoken with the key"
        pressed = time.monotonic()
        gate.press(pressed)  # barge-in by button: she stops
        while sink.stopped_at is None and time.monotonic() < pressed + 2:
            time.sleep(0.01)
        gate.press()  # and nothing was said: no turn
        time.sleep(0.5)
    finally:
        loop.stop()
        runner.join(5)
    assert len(heard) == 1 and len(scripted_llm.requests) == 1  # the speech without the key was ignored
    assert words(conv.last_turn.user_text) == words(asked)
    assert abs(heard[0].decided_at - released[0]) < 0.07  # the release ended the turn, no silence waited for
    assert sink.stopped_at is not None and sink.stopped_at - pressed < 0.15
    assert loop.barge_ins == 1 and conv.last_turn.interrupted


# -- the real process, on the virtual headset, driven through a pseudo-terminal -----------------
@pytest.mark.slow
def test_companion_talks_only_between_two_presses_of_a_terminal_key(tmp_path, companion_home, virtual_headset, speech,
                                                                    scripted_llm):
    import fcntl
    import json
    import signal
    import subprocess

    from companion.testing.checks import companion_command, voiced, wait_for

    hs = virtual_headset
    scripted_llm.enqueue("I heard you loud and clear.")
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    ear = hs.record(tmp_path / "speaker.wav").wait_started()
    log = tmp_path / "companion.stderr"

    def controlling_terminal():  # the pty becomes her terminal, so Ctrl-C on it reaches her
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def turns():
        return [json.loads(line) for f in (companion_home / "transcripts").glob("*.jsonl")
                for line in f.read_text().splitlines()]

    def her_voice_after(t):
        return [ear.time_of(i) for i in voiced(ear.audio(), ear.rate) if ear.time_of(i) > t]

    with open(log, "wb") as err:
        proc = subprocess.Popen([*companion_command(), "run", "--input-device", "pulse", "--output-device", "pulse",
                                 "--set", "audio.push_to_talk=key", "--set", "conversation.earcons=false"],
                                stdin=slave, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                preexec_fn=controlling_terminal,
                                env=hs.environ(COMPANION_LLM_BASE_URL=scripted_llm.base_url))
    try:
        wait_for(lambda: "listening (" in log.read_text(errors="replace"), 90, "'listening'", proc, log)
        time.sleep(1.0)
        unasked = time.monotonic()
        hs.play(speech("What is the capital of France?"))  # no key: she must not hear it
        time.sleep(3.0)
        assert turns() == [] and not her_voice_after(unasked) and len(scripted_llm.requests) == 0

        os.write(master, b" ")
        wait_for(lambda: "push-to-talk: listening" in log.read_text(errors="replace"), 5, "the press", proc, log)
        hs.play(speech("Can you hear me now?"))
        os.write(master, b" ")
        sent = time.monotonic()
        wait_for(lambda: len(her_voice_after(sent)) > 20, 60, "her spoken reply", proc, log)
        onset = her_voice_after(sent)[0] - sent
        wait_for(lambda: turns(), 30, "the turn in the transcript", proc, log)

        os.write(master, b"\x03")  # Ctrl-C on her terminal
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        ear.stop()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert [words(t["user_text"]) for t in turns()] == [words("Can you hear me now?")]
    assert turns()[0]["reply_text"] == "I heard you loud and clear."
    assert after == before  # the terminal is as she found it
    assert onset < 3.0, f"her reply started {onset:.2f}s after the second press"
