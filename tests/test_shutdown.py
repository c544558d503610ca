"""Ctrl-C and SIGTERM stop her within a second, without a traceback, keeping the user's turn."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from companion.testing.scripted_llm import Reply


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_waiting_for_a_slow_endpoint(tmp_path, speech, scripted_llm, sig):
    scripted_llm.enqueue(Reply("far too late", first_token_delay=8))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "companion", "replay", str(speech("Are you awake?")), str(speech("Hello?")),
         "--out", str(out), "--set", f"llm.base_url={scripted_llm.base_url}", "--set", "llm.read_timeout_s=30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not scripted_llm.requests:  # the turn reached the endpoint, which now stalls
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    took = time.monotonic() - sent
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert took < 1.0, f"took {took:.2f}s to stop"
    assert len(scripted_llm.requests) == 1  # the second file was not started
    (turn,) = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert turn["user_text"].lower().startswith("are you awake")
