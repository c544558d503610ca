"""Logs: plain lines on the terminal (warnings only with --quiet), JSON lines in the data
directory's logs/, rotated, and like everything she writes, readable by the user only."""

from __future__ import annotations

import json
import logging
import os

from companion.ops.cli import main
from companion.dialogue.conversation import TranscriptLog
from companion.ops.logs import LOG_NAME, PrivateRotatingFile, JsonLines
from companion.records import Turn


def test_file_gets_json_lines_terminal_gets_plain_ones(companion_home, capsys):
    assert main(["-q", "status"]) == 3
    log = logging.getLogger("companion.test")
    log.info("heard %d words", 3)
    log.warning("the microphone went away")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("reply failed")
    err = capsys.readouterr().err
    assert "heard 3 words" not in err and "WARNING the microphone went away" in err  # --quiet: warnings only
    path = companion_home / "logs" / LOG_NAME
    records = [json.loads(line) for line in path.read_text().splitlines()]
    mine = [r for r in records if r["logger"] == "companion.test"]
    assert [(r["level"], r["message"]) for r in mine] == [("INFO", "heard 3 words"), ("WARNING", "the microphone went away"),
                                                         ("ERROR", "reply failed")]
    assert "ValueError: boom" in mine[-1]["exception"] and mine[0]["time"][:4].isdigit()
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_rotated_files_stay_private(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    umask = os.umask(0o022)  # private by the handler itself, not by the CLI's umask
    try:
        handler = PrivateRotatingFile(logs / LOG_NAME, maxBytes=300, backupCount=2)
        handler.setFormatter(JsonLines())
        for i in range(30):
            handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "line %d with some words", (i,), None))
        handler.close()
    finally:
        os.umask(umask)
    files = sorted(logs.iterdir())
    assert [f.name for f in files] == [LOG_NAME, f"{LOG_NAME}.1", f"{LOG_NAME}.2"]
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert json.loads((logs / LOG_NAME).read_text().splitlines()[-1])["message"] == "line 29 with some words"


def test_everything_written_after_the_cli_starts_is_private(companion_home):
    main(["status"])
    TranscriptLog(companion_home / "transcripts" / "x.jsonl").append(Turn(1, "hello"))
    (companion_home / "letters").mkdir()
    (companion_home / "letters" / "to-ana.md").write_text("Dear Ana")
    assert (companion_home / "transcripts").stat().st_mode & 0o777 == 0o700
    assert (companion_home / "transcripts" / "x.jsonl").stat().st_mode & 0o777 == 0o600
    assert (companion_home / "letters").stat().st_mode & 0o777 == 0o700
    assert (companion_home / "letters" / "to-ana.md").stat().st_mode & 0o777 == 0o600
