"""Opening the data directory's SQLite databases (memory, skills) one careful way, and
reporting what goes wrong with them, so a fault on a real laptop never silences her and never
loses what was stored.

- Private (0600) from the first byte, WAL, ``synchronous=FULL``, and a busy timeout, so
  another process holding the file (a ``companion memory export``, a backup) delays a write
  instead of failing it at once.
- A damaged file is never overwritten: it is moved aside to ``NAME.corrupt-<time>`` (with its
  ``-wal``), a fresh one is created, and ``companion doctor`` keeps pointing at the copy.
- One migration scheme for every database (:func:`migrate`): a plain ordered list of SQL steps,
  step N applied once and recorded in ``_migrations``, so an old file upgrades in place and a
  new one is built by the same steps.
- Every connection reports its faults (damaged, locked, disk full) to the listeners of
  :func:`faults_reported_to`; the live loop says each kind once (``faults.SpokenFaults``).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # a write waits this long for another process's lock before failing
CORRUPT_MARK = ".corrupt-"
_SIDE_FILES = ("", "-wal", "-shm")
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


@dataclass(frozen=True)
class Fault:
    path: Path
    kind: str  # "corrupt", "locked", "full" or "error"
    detail: str
    moved_to: Path | None = None


_listeners: list[Callable[[Fault], None]] = []


@contextmanager
def faults_reported_to(listener: Callable[[Fault], None]) -> Iterator[None]:
    """Call ``listener`` with every :class:`Fault` of any database opened meanwhile."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def fault_kind(exc: sqlite3.Error) -> str:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc).lower()
    if code in _CORRUPT_CODES or "malformed" in text or "not a database" in text:
        return "corrupt"
    if code in (5, 6) or "locked" in text or "busy" in text:  # SQLITE_BUSY, SQLITE_LOCKED
        return "locked"
    if code == 13 or "disk is full" in text:  # SQLITE_FULL
        return "full"
    return "error"


_ADVICE = {
    "locked": "another program is holding it (a backup, a sqlite3 shell, another companion command); "
              "close that program. This turn was answered but may not be stored",
    "full": "the disk is full; free some space. She keeps talking, but nothing new is stored until then",
    "error": "see the traceback below in this log; 'companion doctor' checks the database",
}


_COMMAND_ADVICE = {
    "locked": "another program is holding it (a sqlite3 shell, a backup, a running companion); close that "
              "program and try again",
    "full": "the disk is full; free some space and try again",
    "corrupt": "it is damaged; 'companion doctor' says how to rescue it",
    "error": "'companion doctor' checks it",
}


def explain(exc: sqlite3.Error) -> str:
    """One line for a command that failed on a database: which file, and what to do."""
    return f"cannot use {getattr(exc, 'database', 'a database in the data directory')} ({exc}): " \
           f"{_COMMAND_ADVICE[fault_kind(exc)]}"


class _Connection(sqlite3.Connection):
    """Reports the first fault of each kind on this database (logged with what to do)."""

    path: Path
    _reported: set

    def execute(self, sql, parameters=(), /):
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            exc.database = self.path  # for explain(): the error alone does not name the file
            kind = fault_kind(exc)
            if kind not in self._reported:
                self._reported.add(kind)
                log.error("%s: %s: %s", self.path, exc, _ADVICE.get(kind, _ADVICE["error"]))
                report_fault(Fault(self.path, kind, str(exc)))
            raise


def report_fault(fault: Fault) -> None:
    """Tell the listeners (the live loop says it aloud once); also for files that are not databases."""
    for listener in list(_listeners):
        try:
            listener(fault)
        except Exception:  # a listener must not turn a handled fault into a crash
            log.exception("fault listener failed")


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating) a database in the data directory: private, WAL, durable, patient with
    locks, and checked; a damaged one is moved aside and replaced by a fresh one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        if fault_kind(exc) != "corrupt":
            raise
        moved = quarantine(path)
        log.error("%s was damaged (%s). It was moved aside to %s, NOT deleted, and a fresh one was started; "
                  "'companion doctor' explains how to try to rescue it", path, exc, moved)
        report_fault(Fault(path, "corrupt", str(exc), moved))
    return _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # private before SQLite creates it
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, factory=_Connection)
    db.path, db._reported = path, set()
    try:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a committed write survives power loss too
        problem = check(db)
        if problem:
            raise sqlite3.DatabaseError(f"database disk image is malformed ({problem})")
    except BaseException:
        db.close()
        raise
    for suffix in _SIDE_FILES:
        if Path(f"{path}{suffix}").exists():
            os.chmod(f"{path}{suffix}", 0o600)
    return db


def check(db: sqlite3.Connection) -> str | None:
    """SQLite's own structural check: ``None`` when sound, else its first complaint."""
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    return None if result == "ok" else result


def quarantine(path: Path) -> Path:
    """Move a damaged database (and its WAL, which may hold the latest writes) aside."""
    target = path.with_name(f"{path.name}{CORRUPT_MARK}{datetime.now():%Y%m%d-%H%M%S}")
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{path.name}{CORRUPT_MARK}{datetime.now():%Y%m%d-%H%M%S}-{n}")
    for suffix in _SIDE_FILES:
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", f"{target}{suffix}")
    return target


def set_aside(data: Path) -> list[Path]:
    """Damaged databases moved aside earlier (not their -wal/-shm companions)."""
    return sorted(p for p in Path(data).glob(f"*{CORRUPT_MARK}*") if not p.name.endswith(("-wal", "-shm")))


MIGRATIONS_TABLE = "_migrations"


def migrate(db: sqlite3.Connection, steps: Sequence[str]) -> list[int]:
    """Apply the numbered ``steps`` (step N is ``steps[N-1]``; only ever append to the list) that
    ``_migrations`` does not record yet, each in its own transaction; returns the numbers applied."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
               "(number INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    _adopt_old_records(db)
    done = {row[0] for row in db.execute(f"SELECT number FROM {MIGRATIONS_TABLE}")}
    applied = []
    for number, sql in enumerate(steps, 1):
        if number in done:
            continue
        db.execute("BEGIN IMMEDIATE")  # all of a step or none of it
        try:
            for statement in _statements(sql):
                db.execute(statement)
            db.execute(f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, datetime('now'))", (number,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        applied.append(number)
    return applied


def _adopt_old_records(db: sqlite3.Connection) -> None:
    """Databases written before the one scheme recorded their steps differently: memory by name
    in ``_migrations(name)`` ('001_core'), skills by number in ``migrations(number)``. Their
    records are carried over, so no step runs twice."""
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({MIGRATIONS_TABLE})")}
    old_skills = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='migrations'").fetchone()
    if "name" not in columns and not old_skills:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        numbers: set[int] = set()
        if "name" in columns:
            numbers |= {int(row[0].split("_", 1)[0]) for row in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
            db.execute(f"DROP TABLE {MIGRATIONS_TABLE}")
            db.execute(f"CREATE TABLE {MIGRATIONS_TABLE} (number INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        if old_skills:
            numbers |= {row[0] for row in db.execute("SELECT number FROM migrations")}
            db.execute("DROP TABLE migrations")
        db.executemany(f"INSERT OR IGNORE INTO {MIGRATIONS_TABLE} VALUES (?, datetime('now'))",
                       [(n,) for n in sorted(numbers)])
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _statements(sql: str) -> list[str]:
    """Split a script at each ';' that ends a complete statement (trigger bodies contain ';');
    ``--`` comments are dropped. The last statement may omit its ';'."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    out, buf = [], ""
    for piece in re.split(r"(?<=;)", code):
        buf += piece
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    out.append(buf.strip())
    return [s for s in out if s.strip(" ;\n")]
