"""A path or a moment that cannot work gets one line naming it and what to do, never a
traceback: exit status 2 for an argument that cannot work, 1 for a failure (issue 15)."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from companion import database
from companion.memory import DB_NAME, MemoryStore
from companion.ops.cli import main
from companion.runtime import app, instance, replay

MONDAY = datetime(2024, 3, 4, 9)


@pytest.fixture
def no_models(monkeypatch):
    """These errors must be found before the slow start: loading anything fails the test."""
    def must_not_load(*a, **k):
        raise AssertionError("models loaded although the arguments cannot work")

    monkeypatch.setattr(replay, "load_parts", must_not_load)
    monkeypatch.setattr(app, "load_synthesizer", must_not_load)


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("companion: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_replay_out_that_is_a_file(tmp_path, capsys, no_models):
    out = tmp_path / "out.txt"
    out.write_text("mine")
    assert main(["replay", "in.wav", "--out", str(out)]) == 2
    assert f"--out {out} is a file; give a folder" in one_line(capsys)
    assert out.read_text() == "mine"


def test_replay_out_under_a_file(tmp_path, capsys, no_models):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "out"
    assert main(["replay", "in.wav", "--out", str(out)]) == 1
    assert f"{out} cannot be used: a part of that path is a file" in one_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_replay_out_not_writable(tmp_path, capsys, no_models):
    out = tmp_path / "locked"
    out.mkdir(mode=0o500)
    assert main(["replay", "in.wav", "--out", str(out)]) == 1
    assert f"{out} is not accessible (permission denied)" in one_line(capsys)


def test_config_that_is_a_folder(tmp_path, capsys):
    assert main(["--config", str(tmp_path), "status"]) == 2
    assert f"{tmp_path} is a folder; pass a config file" in one_line(capsys)


def test_say_nothing_or_into_a_folder_or_a_missing_folder(tmp_path, capsys, no_models):
    assert main(["say", "  ", "--out", str(tmp_path / "x.wav")]) == 2
    assert "nothing to say" in one_line(capsys)
    assert not (tmp_path / "x.wav").exists()
    assert main(["say", "Hello.", "--out", str(tmp_path)]) == 2
    assert f"{tmp_path} is a folder; give a file name" in one_line(capsys)
    missing = tmp_path / "nonexistent"
    assert main(["say", "Hello.", "--out", str(missing / "x.wav")]) == 2
    assert f"the folder {missing} does not exist" in one_line(capsys)
    assert not missing.exists()  # no folder made for a typo


@pytest.fixture
def exported(companion_home, tmp_path) -> dict:
    store = MemoryStore(companion_home / DB_NAME)
    session = store.start_session(MONDAY)
    turn = store.add_turn(session, "user", "I live in Boston.", MONDAY)
    store.add_fact("lives_in", "Boston", MONDAY, single=True, source_turn_id=turn)
    data = store.export()
    store.close()
    return data


def test_memory_export_refuses_a_folder_a_missing_folder_and_an_existing_file(tmp_path, capsys, exported):
    assert main(["memory", "export", str(tmp_path)]) == 2
    assert f"{tmp_path} is a folder" in one_line(capsys)
    assert main(["memory", "export", str(tmp_path / "no" / "m.json")]) == 2
    assert f"the folder {tmp_path / 'no'} does not exist" in one_line(capsys)
    target = tmp_path / "m.json"
    target.write_text("precious")
    assert main(["memory", "export", str(target)]) == 2
    assert f"{target} already exists; add --force" in one_line(capsys)
    assert target.read_text() == "precious"
    assert main(["memory", "export", str(target), "--force"]) == 0
    assert json.loads(target.read_text())["facts"][0]["value"] == "Boston"


def test_memory_import_of_a_folder(tmp_path, capsys):
    assert main(["memory", "import", str(tmp_path)]) == 1
    assert f"{tmp_path} is a folder" in one_line(capsys)


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["sessions"][0].update(user_id=99), "refers to users row 99, which the export does not hold"),
    (lambda d: d["facts"][0].update(source_turn_id=7), "refers to turns row 7"),
    (lambda d: d["turns"][0].update(text=5), "text should be text, not 5"),
    (lambda d: d["facts"][0].update(id="one"), "id should be a whole number, not 'one'"),
    (lambda d: d["turns"][0].update(role="narrator"), "cannot be stored (CHECK constraint failed"),
    (lambda d: d.update(turns={"a": 1}), '"turns" in the export is not a list'),
])
def test_memory_import_of_a_damaged_export_adds_nothing(tmp_path, capsys, companion_home, exported, damage, message):
    assert main(["memory", "wipe", "--yes"]) == 0
    damage(exported)
    file = tmp_path / "damaged.json"
    file.write_text(json.dumps(exported))
    capsys.readouterr()
    assert main(["memory", "import", str(file)]) == 1
    assert message in one_line(capsys)
    store = MemoryStore(companion_home / DB_NAME)
    assert store.counts()["turns"] == 0 and store.counts()["facts"] == 0
    store.close()


def test_importing_twice_adds_nothing_the_second_time(tmp_path, capsys, companion_home, exported):
    file = tmp_path / "m.json"
    file.write_text(json.dumps(exported))
    store = MemoryStore(companion_home / DB_NAME)
    store.add_fact("likes", "tea", MONDAY, single=False)  # a memory of its own
    assert main(["memory", "import", str(file)]) == 0  # merged: fresh ids, the same current fact is not repeated
    assert main(["memory", "import", str(file)]) == 0
    assert "1 facts and 1 turns were here already" in capsys.readouterr().out
    assert sorted(f.value for f in store.facts()) == ["Boston", "tea"]
    assert store.counts()["turns"] == 1 and store.counts()["sessions"] == 1
    store.close()


def test_memory_wipe_while_another_program_holds_the_database(companion_home, capsys, monkeypatch, exported):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(companion_home / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a sqlite3 shell in the middle of a write
    try:
        assert main(["memory", "wipe", "--yes"]) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    line = one_line(capsys)
    assert f"cannot use {companion_home / DB_NAME}" in line and "close that program and try again" in line


def test_calendar_export_refuses_a_folder_and_an_existing_file(tmp_path, capsys):
    assert main(["calendar", "export", str(tmp_path)]) == 2
    assert f"{tmp_path} is a folder" in one_line(capsys)
    target = tmp_path / "cal.ics"
    target.write_text("precious")
    assert main(["calendar", "export", str(target)]) == 2
    assert "already exists; add --force" in one_line(capsys)
    assert main(["calendar", "export", str(target), "--force"]) == 0
    assert target.read_text().startswith("BEGIN:VCALENDAR")


@pytest.mark.parametrize("days", ["-5", "0", "soon"])
def test_calendar_list_needs_days_ahead(days, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["calendar", "list", "--days", days])
    assert exit_.value.code == 2
    assert "--days" in capsys.readouterr().err


def test_a_full_data_disk_is_said_in_one_line(companion_home, capsys, monkeypatch, no_models):
    def full(*a):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(instance.os, "pwrite", full)
    assert main(["replay", "in.wav", "--out", str(companion_home / "out")]) == 1
    line = one_line(capsys)
    assert f"cannot use the data directory {companion_home} (No space left on device)" in line
    assert "COMPANION_HOME" in line


@pytest.mark.slow  # the real process: the pipe closes under it
def test_a_reader_that_goes_away_ends_it_quietly(companion_home):
    store = MemoryStore(companion_home / DB_NAME)
    for i in range(2000):
        store.add_fact(f"likes_{i}", f"thing number {i}", MONDAY, single=False)
    store.close()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    head = subprocess.run(f"{sys.executable} -m companion memory list | head -1", shell=True, env=env,
                          capture_output=True, text=True, timeout=60, executable="/bin/bash")
    assert head.stdout.startswith("0 turns in 0 conversations; 2000 facts")
    assert head.stderr == ""


def test_a_data_directory_made_readable_by_others_is_tightened(tmp_path, monkeypatch, caplog):
    home = tmp_path / "mine"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    monkeypatch.setenv("COMPANION_HOME", str(home))
    assert main(["memory", "list"]) == 0
    assert os.stat(home).st_mode & 0o777 == 0o700
    assert f"{home} was readable by others (mode 755); it is now 0700" in caplog.text


def test_say_into_a_full_disk_names_the_file(tmp_path, capsys, monkeypatch):
    from companion.audio import sinks
    from companion.runtime import app
    from companion.testing.stand_ins import Silent

    def full(path, audio, rate):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as the wave module raises it: no file name

    monkeypatch.setattr(sinks, "write_wav", full)
    monkeypatch.setattr(app, "load_synthesizer", lambda cfg, data: Silent())  # the message, not the voice, is tested
    out = tmp_path / "hello.wav"
    assert main(["say", "Hello.", "--out", str(out)]) == 1
    assert f"{out} cannot be written: the disk is full" in one_line(capsys)


def test_a_log_file_on_a_full_disk_is_said_once_not_as_tracebacks(capfd):
    import logging

    from companion.ops.logs import PrivateRotatingFile

    handler = PrivateRotatingFile("/dev/full", encoding="utf-8")  # every write: No space left on device
    logger = logging.getLogger("test.full")
    logger.propagate = False  # only this handler: the root's are other tests' business
    logger.addHandler(handler)
    try:
        for n in range(3):
            logger.warning("line %d", n)
    finally:
        logger.removeHandler(handler)
        handler.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err
    assert err.count("cannot write the log /dev/full (No space left on device)") == 1


def test_an_export_that_fills_the_disk_leaves_no_half_file(tmp_path, capsys, monkeypatch, exported):
    from companion import errors

    class FullDisk:
        def __init__(self, fd):
            os.close(fd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):  # the log's own file opens as text and still works
        return FullDisk(fd) if mode == "wb" else real(fd, mode, *args, **kwargs)

    monkeypatch.setattr(errors.os, "fdopen", fdopen)
    target = tmp_path / "m.json"
    assert main(["memory", "export", str(target)]) == 1
    assert f"{target} cannot be written: the disk is full" in one_line(capsys)
    assert not target.exists()


def test_a_data_directory_under_a_file_is_named(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path / "file" / "home"))
    assert main(["memory", "list"]) == 1
    assert f"{tmp_path / 'file' / 'home'} cannot be used: a part of that path is a file" in one_line(capsys)
