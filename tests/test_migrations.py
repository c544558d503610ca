"""The one migration scheme (database.migrate) shared by memory and skills: numbered steps
applied once each, a failed step leaves nothing behind, and databases written by the two
older schemes upgrade in place without running a step twice."""

from __future__ import annotations

import sqlite3

import pytest

from companion.database import migrate, open_database
from companion.memory import migrations as memory_migrations
from companion.memory.store import MemoryStore
from companion.skills import store as skills_store


def tables(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_steps_are_numbered_applied_once_and_appended_later(tmp_path):
    db = open_database(tmp_path / "x.sqlite3")
    steps = ["CREATE TABLE a (x)", "CREATE TABLE b (x); CREATE INDEX b_x ON b(x);"]
    assert migrate(db, steps) == [1, 2]
    assert migrate(db, steps) == []
    assert migrate(db, steps + ["ALTER TABLE a ADD COLUMN y"]) == [3]
    assert {"a", "b"} <= tables(db)
    assert [r[0] for r in db.execute("SELECT number FROM _migrations ORDER BY number")] == [1, 2, 3]


def test_a_failing_step_leaves_nothing_and_runs_again_next_time(tmp_path):
    db = open_database(tmp_path / "x.sqlite3")
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, ["CREATE TABLE a (x)", "CREATE TABLE b (x); INSERT INTO nowhere VALUES (1);"])
    assert "a" in tables(db) and "b" not in tables(db)  # step 1 kept, step 2 rolled back whole
    assert migrate(db, ["CREATE TABLE a (x)", "CREATE TABLE b (x)"]) == [2]


def test_a_memory_database_of_the_named_scheme_upgrades_in_place(tmp_path):
    path = tmp_path / "memory.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for number, sql in enumerate(memory_migrations.MIGRATIONS[:2], 1):  # the steps the named scheme had
        db.executescript(sql)
        db.execute("INSERT INTO _migrations VALUES (?, datetime('now'))", (f"00{number}_old",))
    db.execute("INSERT INTO users (name, created_at) VALUES ('Theodore', '2025-01-01')")
    db.close()
    store = MemoryStore(path)  # re-running step 1 would fail: its tables exist
    assert [r[0] for r in store.db.execute("SELECT number FROM _migrations")] == list(
        range(1, len(memory_migrations.MIGRATIONS) + 1))  # the old steps carried over, the newer ones applied
    assert store.db.execute("SELECT name FROM users").fetchone()[0] == "Theodore"
    store.close()


def test_a_skills_database_of_the_numbered_scheme_upgrades_in_place(tmp_path):
    path = tmp_path / "skills.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE migrations (number INTEGER PRIMARY KEY)")
    db.execute(skills_store.MIGRATIONS[0])
    db.execute("INSERT INTO migrations VALUES (1)")
    db.execute("INSERT INTO reminders (text, due, created) VALUES ('call mum', '2025-01-01T09:00:00+00:00', 'x')")
    db.close()
    db = skills_store.connect(path)  # step 1 is carried over, step 2 is new
    assert "migrations" not in tables(db) and "letter_drafts" in tables(db)
    assert [r[0] for r in db.execute("SELECT number FROM _migrations ORDER BY number")] == [1, 2]
    assert db.execute("SELECT text FROM reminders").fetchone()[0] == "call mum"
