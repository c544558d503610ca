"""``companion status``: the live loop's status file (atomic, private, marked stopped on a
clean exit) and what the command says about it, running, stopped or killed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from companion.ops.cli import main
from companion.ops.status import STATUS_NAME, LiveStatus, describe, read_status
from companion.records import Timings, Turn

MODELS = {"stt": "bundled:base", "voice": "joe", "llm": "embedded smollm2"}


def _status(home):
    return LiveStatus(home, input_device="Jabra Evolve", output_device="Jabra Evolve", models=MODELS)


class FakeConversation:
    """Counts turns and keeps ``last_turn`` like :class:`Conversation`."""

    def __init__(self):
        self.turns, self.last_turn = 0, None

    def respond(self, utt, sink, **kw):
        self.turns += 1
        self.last_turn = Turn(index=self.turns, user_text=utt, timings=Timings(voice_to_voice=0.8 + self.turns / 10))
        return self.last_turn


def test_running_status_lists_devices_models_turns_and_latency(companion_home, capsys):
    status = _status(companion_home)
    conv = FakeConversation()
    for said in ("hello", "how are you"):
        conv.respond(said, None)
        status.turn(conv.turns, conv.last_turn)  # as the live loop's after_turn does (runtime/app.py)

    path = companion_home / STATUS_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert not [p for p in companion_home.iterdir() if p.name.endswith(".tmp")]
    state = read_status(companion_home)
    assert state["running"] and state["pid"] == os.getpid() and state["turns"] == 2
    assert state["last_voice_to_voice_s"] == 1.0

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"running (pid {os.getpid()})" in out
    for expected in ("Jabra Evolve", "bundled:base", "joe", "embedded smollm2", "turns:      2", "1000 ms"):
        assert expected in out


def test_clean_exit_marks_it_stopped(companion_home, capsys):
    _status(companion_home).stopped()
    state = read_status(companion_home)
    assert state["state"] == "stopped" and not state["running"]
    assert main(["status"]) == 3
    assert "not running; stopped at" in capsys.readouterr().out


def test_a_killed_process_is_not_reported_running(companion_home):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _status(companion_home)
    state = json.loads((companion_home / STATUS_NAME).read_text())
    state["pid"] = int(dead.stdout)  # as if that process had written it and was killed
    (companion_home / STATUS_NAME).write_text(json.dumps(state))
    state = read_status(companion_home)
    assert not state["running"]
    assert "ended without stopping cleanly" in describe(state, companion_home)


def test_never_ran(companion_home, capsys):
    assert main(["status"]) == 3
    assert "has not run" in capsys.readouterr().out


def test_a_failed_write_does_not_raise(companion_home, monkeypatch, caplog):
    status = _status(companion_home)

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("companion.ops.status.write_private_json", full)
    status.turn(1, None)
    assert "could not update" in caplog.text


def test_models_in_use_names_the_embedded_weights_or_the_remote_model():
    from types import SimpleNamespace

    from companion.ops.config import load_config
    from companion.llm.embedded import Endpoint
    from companion.ops.status import models_in_use

    cfg = load_config(None, {"llm": {"model": "llama3.2:3b"}}, environ={})
    remote = SimpleNamespace(brain=SimpleNamespace(endpoint=Endpoint("http://localhost:11434/v1", "k", "default")),
                             keepalive=None)
    assert models_in_use(cfg, remote) == {"stt": "bundled:base", "voice": "heart",
                                          "llm": "llama3.2:3b at http://localhost:11434/v1"}
    local = SimpleNamespace(brain=remote.brain, keepalive=object())
    assert models_in_use(cfg, local)["llm"].startswith("embedded llama.cpp, smollm2")


def test_a_replay_holding_the_data_directory_is_reported(companion_home, capsys):
    code = ("import sys, time\nfrom companion.runtime.instance import single_instance\n"
            f"with single_instance({str(companion_home)!r}, 'replay'):\n    print('held', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert main(["status"]) == 0
        out = capsys.readouterr().out
        assert f"running 'companion replay' (pid {proc.pid})" in out and "has not run" not in out
    finally:
        proc.kill()
        proc.wait()
    assert main(["status"]) == 3  # killed: the pid in the lock file is not believed
    assert "has not run" in capsys.readouterr().out
