"""A second companion on the same data directory is refused with the running one's pid; a
killed one leaves nothing that blocks the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from companion.runtime.instance import LOCK_NAME, AlreadyRunning, single_instance


def test_second_holder_is_refused_with_the_pid(tmp_path):
    with single_instance(tmp_path):
        with pytest.raises(AlreadyRunning, match=rf"pid {os.getpid()}\b.*kill {os.getpid()}"):
            with single_instance(tmp_path):
                pass
    assert (tmp_path / LOCK_NAME).stat().st_mode & 0o777 == 0o600


def test_released_after_a_clean_exit(tmp_path):
    with single_instance(tmp_path):
        pass
    with single_instance(tmp_path):  # free again
        assert (tmp_path / LOCK_NAME).read_text().split() == [str(os.getpid()), "run"]
    assert (tmp_path / LOCK_NAME).read_text() == ""


def _holder(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from companion.runtime.instance import single_instance
        with single_instance({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_another_process_is_named_and_a_kill_9_leaves_no_stale_lock(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(AlreadyRunning, match=rf"pid {proc.pid}\b"):
            with single_instance(tmp_path):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(proc.pid)  # stale pid left in the file...
    with single_instance(tmp_path):  # ...but it does not block
        pass


@pytest.mark.parametrize("command", [["run"], ["replay", "turn.wav", "--out", "out"]])
def test_cli_refuses_a_second_companion_before_loading_anything(companion_home, tmp_path, capsys, monkeypatch, command):
    from companion.runtime import app, replay
    from companion.ops.cli import main

    def must_not_load(*a, **k):
        raise AssertionError("models loaded although another companion holds the data directory")

    monkeypatch.setattr(app, "load_parts", must_not_load)
    monkeypatch.setattr(replay, "load_parts", must_not_load)
    monkeypatch.setattr(app, "find_device", must_not_load)
    monkeypatch.chdir(tmp_path)
    with single_instance(companion_home):
        assert main(command) == 1
    err = capsys.readouterr().err
    assert f"already running on {companion_home} (pid {os.getpid()})" in err
