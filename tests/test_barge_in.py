"""Talking over her, on the virtual headset, with the real process: she stops within a
fraction of a second and remembers only what was heard; on open speakers (her voice leaking
back into the microphone) she neither stops nor answers herself."""

from __future__ import annotations

import time

import pytest

from companion.testing.checks import Session, voiced, wait_for, words

pytestmark = pytest.mark.slow

# three sentences, under 50 words: the longest reply she speaks (dialogue/shaping.py)
LONG_REPLY = ("The ocean covers most of our planet and holds more life than we can imagine. "
              "Near the surface, sunlight feeds plants that make the air we breathe, and whales sing across miles. "
              "Deeper down, it gets dark and cold, and strange creatures make their own light.")


def talked_on_for(audio, ear, since: float) -> float:
    """Seconds her voice went on after ``since``: the run of loud windows (gaps under 0.3 s)
    that is playing at ``since``."""
    loud = [ear.time_of(i) for i in voiced(audio, ear.rate)]
    run_end = None
    for t in loud:
        if t < since - 0.3:
            continue
        if run_end is None:
            if t > since + 0.1:
                return 0.0  # she was already quiet
            run_end = t
        elif t - run_end > 0.3:
            break
        else:
            run_end = t
    return max(0.0, (run_end or since) - since)


def test_interrupting_stops_her_and_history_keeps_what_was_heard(tmp_path, companion_home, pulse_ok, speech,
                                                                 scripted_llm):
    scripted_llm.enqueue(LONG_REPLY, "Mountains are lovely too.")
    s = Session(pulse_ok, tmp_path, companion_home, scripted_llm, "conversation.barge_in=on")
    try:
        asked = s.say(speech("Tell me about the ocean."))
        s.her_voice_after(asked, 2.0)
        interrupted_at = s.say(speech("Wait, what about the mountains?"), wait=False)
        turns = wait_for(lambda: len(s.turns()) >= 2 and s.turns(), 60, "the second turn", s.proc, s.log)
        time.sleep(0.3)
        audio = s.ear.audio()
    finally:
        s.close()
    first, second = turns[:2]
    assert first["interrupted"] is True
    assert first["heard_text"] and len(first["heard_text"]) < len(first["reply_text"])
    assert LONG_REPLY.startswith(first["heard_text"].rstrip(".…"))
    said = words("Wait, what about the mountains?")
    assert sum(w in words(second["user_text"]) for w in said) >= len(said) - 1  # Whisper may hear "waste"
    history = [m for m in scripted_llm.requests[1]["messages"] if m["role"] == "assistant"]
    assert history[-1]["content"].endswith("(interrupted by the user)")
    # measured on the speaker: her voice stops soon after the user starts talking
    stop_s = talked_on_for(audio, s.ear, interrupted_at)
    assert stop_s < 0.6, f"she kept talking {stop_s:.2f}s after the user started"


@pytest.mark.parametrize("mode", ["on", "auto"])  # the echo gate alone; and with auto's fallback to half-duplex
def test_her_own_voice_leaking_into_the_mic_does_not_interrupt_her(tmp_path, companion_home, pulse_ok, speech,
                                                                   scripted_llm, mode):
    hs = pulse_ok
    # open speakers: the speaker's sound reaches the microphone, delayed and quieter
    module = hs.pactl("load-module", "module-loopback", "source=spk.monitor", "sink=mic", "latency_msec=80").strip()
    for line in hs.pactl("list", "short", "sink-inputs").splitlines():
        if f"\t{module}\t" in line or line.split("\t")[1:2] == [module]:
            hs.pactl("set-sink-input-volume", line.split("\t")[0], "60%")
    scripted_llm.enqueue(LONG_REPLY)
    s = Session(hs, tmp_path, companion_home, scripted_llm, f"conversation.barge_in={mode}")
    try:
        asked = s.say(speech("Tell me about the ocean."))
        s.her_voice_after(asked, 10.0, timeout=60)
        wait_for(lambda: len(s.turns()) >= 1, 60, "the turn", s.proc, s.log)
        time.sleep(3.0)  # long enough for any echo of her reply to become a turn
        turns = s.turns()
    finally:
        err = s.close()
    assert len(turns) == 1, turns
    assert turns[0]["interrupted"] is False, err[-2000:]
    assert "stopped playing" not in err, err[-2000:]  # her own echo left her paused, silent to the end
    assert turns[0]["heard_text"] == LONG_REPLY
    assert len(scripted_llm.requests) == 1


def open_speakers(hs, volume: str = "60%") -> None:
    """Her voice reaches the microphone, delayed and quieter (benchmarks/conversation.py --leak)."""
    module = hs.pactl("load-module", "module-loopback", "source=spk.monitor", "sink=mic", "latency_msec=80").strip()
    for line in hs.pactl("list", "short", "sink-inputs").splitlines():
        if line.split("\t")[1:2] == [module]:
            hs.pactl("set-sink-input-volume", line.split("\t")[0], volume)


def test_with_no_echo_gate_her_own_words_leaking_back_do_not_stop_her(tmp_path, companion_home, pulse_ok, speech,
                                                                      scripted_llm):
    """Open speakers where the echo gate does nothing (off here; on laptops it can fail):
    her real voice comes back into the microphone at -13 dB. Neither her words nor the other
    words Whisper makes of a short piece of her echo ("The old house" for "The oce-": it dies
    away when she pauses) stop her, and no turn is made of her echo after the reply.

    That the user's words still stop her in such a room is checked with a scripted recogniser
    (tests/test_live_loop.py, tests/test_live_loop_echo.py): end to end, on this machine under
    the full suite, Whisper reading the user over her raw echo lost or delayed the interruption
    in 3 of 13 runs (issue 15's closing note)."""
    open_speakers(pulse_ok)
    scripted_llm.enqueue(LONG_REPLY)
    s = Session(pulse_ok, tmp_path, companion_home, scripted_llm, "conversation.barge_in=on",
                "conversation.echo_gate=false")
    try:
        asked = s.say(speech("Tell me about the ocean."))
        s.her_voice_after(asked, 10.0, timeout=90)
        wait_for(lambda: len(s.turns()) >= 1, 90, "the turn", s.proc, s.log)
        time.sleep(2.5)  # long enough for any echo of her reply to become a turn
        turns = s.turns()
    finally:
        err = s.close()
    assert len(turns) == 1, turns  # her echo was not answered...
    assert turns[0]["interrupted"] is False and turns[0]["heard_text"] == LONG_REPLY, err[-3000:]  # ...nor did it stop her
    assert "heard her own words" in err
    assert len(scripted_llm.requests) == 1


def test_a_backchannel_while_she_speaks_does_not_stop_her(tmp_path, companion_home, pulse_ok, speech, scripted_llm):
    scripted_llm.enqueue(LONG_REPLY)
    s = Session(pulse_ok, tmp_path, companion_home, scripted_llm, "conversation.barge_in=on")
    try:
        asked = s.say(speech("Tell me about the ocean."))
        s.her_voice_after(asked, 2.0)
        s.say(speech("Yeah."))  # (Whisper base heard Piper's "Mm-hm." as "Emma mate" in about one run of two)
        wait_for(lambda: len(s.turns()) >= 1, 60, "the turn", s.proc, s.log)
        time.sleep(2.0)
        turns = s.turns()
    finally:
        err = s.close()
    assert len(turns) == 1 and turns[0]["interrupted"] is False, err[-2000:]
    assert turns[0]["heard_text"] == LONG_REPLY
    assert "going on" in err or "resumed" in err  # she noticed, paused, and went on
