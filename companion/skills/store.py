"""The skills' own SQLite database (``skills.sqlite3`` in the data directory), separate from
memory's. WAL and synchronous=FULL: a reminder or draft that was confirmed survives a crash
or power cut. Numbered migration steps (``database.migrate``), so old databases upgrade in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..ops.config import data_dir
from ..database import migrate, open_database

MIGRATIONS = [
    """CREATE TABLE reminders (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        due TEXT NOT NULL,              -- ISO 8601 with offset
        rule TEXT,                      -- RRULE for repeating reminders
        created TEXT NOT NULL,
        announced INTEGER NOT NULL DEFAULT 0,  -- times said aloud for the current due time
        last_announced TEXT,
        finished TEXT,                  -- acknowledged (one-off) or cancelled
        cancelled INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE letter_drafts (
        id INTEGER PRIMARY KEY,
        recipient TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '',
        signature TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        stage TEXT NOT NULL,
        updated TEXT NOT NULL,
        saved_path TEXT
    )""",
]


def default_path() -> Path:
    return data_dir() / "skills.sqlite3"


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating and migrating) the skills database. ``check_same_thread=False``: the live
    loop asks for due reminders from the same thread that handles turns, but tests may not."""
    db = open_database(Path(path or default_path()))  # private, WAL, durable; a damaged file is moved aside
    db.row_factory = sqlite3.Row
    migrate(db, MIGRATIONS)
    return db
