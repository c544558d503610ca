"""The embedded server stops promptly however its requests were dropped.

A reply started ahead of the user (think-ahead) is dropped when a rule answers the turn; with
one slot on the server, such a request may still wait in the server's queue, before its
response headers, when the app exits. The server's shutdown waited for it forever and the
process never exited. Each case runs in a subprocess with a timeout, so a hang fails the test
instead of hanging the suite."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the real llama.cpp server and model

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from companion.cancel import Cancel
    from companion.llm.client import Brain, resolve_endpoint
    from companion.ops.config import LLMConfig

    case = sys.argv[1]
    cfg = LLMConfig(max_tokens=400, temperature=0.7)
    endpoint, server = resolve_endpoint(cfg)
    brain = Brain(cfg, endpoint)
    story = [{"role": "user", "content": "Tell me a very long story about a dragon and a knight. " * 20}]

    def read(cancel):
        try:
            for _ in brain.stream(story, cancel):
                pass
        except Exception:
            pass

    def start(cancel, settle):
        threading.Thread(target=read, args=(cancel,), daemon=True).start()
        time.sleep(settle)
        return cancel

    running = start(Cancel(), 0.4)           # holds the one slot
    if case == "dropped":
        start(Cancel(), 0.3).cancel()        # queued behind it, no headers yet
        start(Cancel(), 0.0).cancel()        # dropped before it was sent
        running.cancel()                     # dropped mid-stream
    elif case == "open":
        start(Cancel(), 0.3)                 # queued, still wanted at exit (Ctrl-C mid-turn)
    t = time.perf_counter()
    if case != "exit":                       # "exit": the process just ends, the server with it
        server.close()
    print("closed in", round(time.perf_counter() - t, 2), flush=True)
""")


@pytest.mark.parametrize("case", ["dropped", "open", "exit"])
def test_the_server_stops_within_about_a_second(case):
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, case], capture_output=True, text=True, timeout=40,
                              cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: the process did not exit within 40 s (the server waited for a dropped request)")
    assert done.returncode == 0, done.stderr[-2000:]
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("closed in")]
    assert float(line.split()[-1]) < 2.5, line  # about 1 s: each server thread polls its connection once a second
