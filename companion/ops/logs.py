"""Logging: plain lines on the terminal for a person, JSON lines in the data directory's
``logs/`` for later reading (one object per record, easy to grep or load), rotated so a
companion that runs for months does not fill the disk, and private (0600), since the log
holds what the user said. With ``[memory] enabled = false`` it does not: every message that
carries words (the user's or hers) passes them as :class:`Words`, which then log only how
many there were."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from datetime import datetime
from pathlib import Path

LOG_NAME = "companion.jsonl"
MAX_BYTES = 2_000_000
BACKUPS = 5
QUIET_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "faster_whisper", "piper")


class Words:
    """Words someone said, as a log argument: the words themselves, or, while words are not
    kept (:func:`keep_words`), only that there were some and how many."""

    kept = True

    def __init__(self, text: object):
        self.text = str(text)

    def __str__(self) -> str:
        return self.text if Words.kept else f"({len(self.text.split())} words)"

    def __repr__(self) -> str:
        return repr(self.text) if Words.kept else str(self)


def keep_words(kept: bool) -> None:
    """Whether logs (terminal and file) may hold what was said; off when memory is off."""
    Words.kept = kept


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "thread": record.threadName,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating file created 0600 (rotation renames, so the backups stay private too)."""

    _said_failure = False

    def _open(self):
        return os.fdopen(os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                         "a", encoding=self.encoding or "utf-8")

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # the last lines could not be flushed (disk full): lost either way, and said already
            pass

    def handleError(self, record: logging.LogRecord) -> None:
        """A log file that cannot be written (disk full) is said once, in one line, instead of
        a traceback for every record; the terminal keeps logging."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            return super().handleError(record)
        if not self._said_failure:
            self._said_failure = True
            sys.stderr.write(f"companion: cannot write the log {self.baseFilename} ({exc.strerror}); logging to "
                             "the terminal only until there is space again\n")


def setup_logging(logs: Path, quiet: bool, verbose: bool) -> None:
    """Terminal and file handlers on the root logger; safe to call again (tests run the CLI
    in-process), replacing the handlers it added before."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_companion", False)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    term = logging.StreamHandler(sys.stderr)
    term.setLevel(logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO))
    term.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    term._companion = True
    root.addHandler(term)
    try:
        logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = PrivateRotatingFile(logs / LOG_NAME, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        fh.setFormatter(JsonLines())
        fh._companion = True
        root.addHandler(fh)
    except OSError as exc:
        root.warning("not logging to a file: %s", exc)
    for noisy in QUIET_LIBRARIES:
        logging.getLogger(noisy).setLevel(logging.WARNING)
