"""The real ``companion`` process on a virtual headset: a private PulseAudio daemon whose
null sinks are the microphone and the speaker. We speak into it (a Piper-synthesised user
turn), listen to it, transcribe what it said, and stop it with SIGTERM."""

from __future__ import annotations

import json
import subprocess
import time

import numpy as np
import pytest

from companion.audio.resample import resample
from companion.testing.virtual_headset import read_wav

from companion.testing.checks import companion_command, sigterm, voiced, wait_for, words

pytestmark = pytest.mark.slow

REPLY = "Let's make a warm vegetable soup with fresh bread."
USER = "Hello Samantha, what should I cook for dinner tonight?"


def test_live_loop_on_virtual_headset(tmp_path, companion_home, virtual_headset, speech, scripted_llm, transcriber):
    hs = virtual_headset
    devices = subprocess.run([*companion_command(), "devices"], env=hs.environ(), capture_output=True, text=True,
                             timeout=60)
    if "pulse" not in devices.stdout:
        pytest.skip(f"PortAudio does not see the PulseAudio device (libasound2-plugins missing?): {devices.stdout}")

    user_wav = speech(USER)
    user_audio, user_rate = read_wav(user_wav)
    speech_end_in_file = np.nonzero(np.abs(user_audio) > 0.01)[0][-1] / user_rate
    scripted_llm.default = REPLY

    ear = hs.record(tmp_path / "speaker.wav").wait_started()
    log = tmp_path / "companion.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen([*companion_command(), "run", "--input-device", "pulse", "--output-device", "pulse"],
                                env=hs.environ(COMPANION_LLM_BASE_URL=scripted_llm.base_url),
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        wait_for(lambda: "listening (" in log.read_text(errors="replace"), 90, "the 'listening' log line", proc, log)
        time.sleep(1.0)  # a fresh PulseAudio stream can take a moment to deliver its first frames
        played_at = time.monotonic()
        hs.play(user_wav)

        transcripts = companion_home / "transcripts"
        lines = wait_for(lambda: [json.loads(l) for f in transcripts.glob("*.jsonl") for l in f.read_text().splitlines()],
                         60, "the turn in the transcript JSONL", proc, log)
        time.sleep(0.5)  # the last block of the reply leaves the device
        audio = ear.stop()

        code, shutdown_s = sigterm(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    stderr = log.read_text(errors="replace")
    assert code == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert shutdown_s < 1.0, f"shutdown took {shutdown_s:.2f}s (Ctrl-C or SIGTERM must stop her within a second)"

    # the turn was logged, with what the user said and what Samantha answered
    assert len(lines) == 1, lines
    turn = lines[0]
    assert words(turn["user_text"]) == words(USER)
    assert words(turn["reply_text"]) == words(REPLY)
    assert turn["timings"]["voice_to_voice"] is not None
    assert scripted_llm.requests and words(scripted_llm.requests[-1]["messages"][-1]["content"]) == words(USER)

    # a spoken reply came back after the user finished speaking (earlier sounds, such as a
    # start-up earcon, are not the reply); played_at is before the audio really started
    rate = ear.rate
    user_done = max(0, int((played_at + speech_end_in_file - ear.t0) * rate))
    after = audio[user_done:]
    loud = voiced(after, rate)
    assert len(loud) * 0.02 > 1.0, f"only {len(loud) * 0.02:.2f}s of non-silent audio on the speaker after the turn"
    reply_audio = after[max(0, loud[0] - rate // 5): loud[-1] + rate // 2]
    heard = transcriber.transcribe(resample(reply_audio, rate, 16000)).text
    said = words(REPLY)
    assert sum(w in set(words(heard)) for w in said) / len(said) >= 0.8, heard
