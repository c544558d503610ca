"""Storage faults that must leave her talking: the memory and skills databases locked by
another process, damaged, or on a full disk. Each time the reply still happens, the user's
words stay in the transcript, the log says what to do, and she says it aloud once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from companion import database
from companion.audio.sinks import NullSink
from companion.llm.client import Brain
from companion.ops.config import Config, PersonaConfig
from companion.dialogue.conversation import Conversation, TranscriptLog
from companion.database import faults_reported_to, open_database, set_aside
from companion.llm.embedded import Endpoint
from companion.runtime.faults import SpokenFaults
from companion.memory import DB_NAME, MemoryStore, open_memory
from companion.dialogue.persona import load_persona
from companion.skills import build_skills
from companion.skills.store import connect
from companion.testing.stand_ins import Heard, Silent
from companion.records import Utterance

UTT = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)


@pytest.fixture
def spoken():
    notices = SpokenFaults()
    with faults_reported_to(notices):
        yield notices


def converse(home, llm, said: list[str]) -> tuple[Conversation, list]:
    """Run ``said`` through a real conversation (memory and skills on ``home``); the LLM is
    scripted and replies 'Reply N.' (to every turn: the full persona, so no fact is said back by memory)."""
    cfg = Config(persona=PersonaConfig(compact="off"))
    llm.enqueue(*(f"Reply {i}." for i in range(1, len(said) + 1)))
    brain = Brain(cfg.llm, Endpoint(llm.base_url, "k", "m"))
    conv = Conversation(Heard(said), brain, Silent(), load_persona("samantha"), TranscriptLog(home / "t.jsonl"),
                        memory=open_memory(cfg, home, brain), skills=[build_skills(cfg, brain)])
    return conv, [conv.respond(UTT, NullSink()) for _ in said]


def logged_users(home) -> list[str]:
    return [json.loads(line)["user_text"] for line in (home / "t.jsonl").read_text().splitlines()]


def stored_users(home) -> list[str]:
    return [r[0] for r in MemoryStore(home / DB_NAME).db.execute("SELECT text FROM turns WHERE role = 'user' ORDER BY id")]


@pytest.fixture
def lock_holder():
    """``lock_holder(path)`` holds an exclusive lock on a database from another process."""
    procs = []

    def hold(path):
        code = textwrap.dedent(f"""
            import sqlite3, sys
            db = sqlite3.connect({str(path)!r}, isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
            db.execute("ROLLBACK")
        """)
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        if proc.returncode is None:
            proc.communicate("\n", timeout=10)


@pytest.mark.parametrize("db_name", [DB_NAME, "skills.sqlite3"])
def test_a_locked_database_delays_then_the_reply_still_happens(companion_home, scripted_llm, spoken, lock_holder,
                                                               monkeypatch, caplog, db_name):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 300)
    conv, _ = converse(companion_home, scripted_llm, [])  # create both databases
    conv.memory.store.close()
    holder = lock_holder(companion_home / db_name)
    said = ["Remind me to water the plants tomorrow at 9 am.", "My sister is called Ana."]
    conv, turns = converse(companion_home, scripted_llm, said)

    assert all(t.error is None for t in turns)
    if db_name == DB_NAME:  # the skill answered the reminder; the LLM the rest
        assert turns[1].reply_text == "Reply 1."
    else:  # the skills cannot reach their database: the LLM answers both
        assert [t.reply_text for t in turns] == ["Reply 1.", "Reply 2."]
    assert logged_users(companion_home) == said  # nothing the user said is lost
    assert "another program is holding it" in caplog.text and db_name in caplog.text
    lines = spoken.due_announcements()
    assert len(lines) == 1 and "Another program is holding" in lines[0]
    assert spoken.due_announcements() == []  # said once

    holder.communicate("\n", timeout=10)  # the other program lets go: storing resumes
    conv.transcriber = Heard(["I like tea."])
    conv.respond(UTT, NullSink())
    if db_name == DB_NAME:
        assert stored_users(companion_home)[-1] == "I like tea."


def _damage_pages(path):
    """A real database whose pages (not its header) were overwritten, as a bad sector or a
    half-written copy leaves it."""
    data = bytearray(path.read_bytes())
    data[4096 + 100:] = b"\xde\xad\xbe\xef" * ((len(data) - 4096 - 100) // 4) + b"\0" * ((len(data) - 4096 - 100) % 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_a_damaged_memory_is_moved_aside_never_overwritten(companion_home, scripted_llm, spoken, caplog, damage, capsys):
    path = companion_home / DB_NAME
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all" * 200)
    else:
        store = MemoryStore(path)
        for i in range(300):
            store.add_fact("likes", f"thing number {i} " * 5, __import__("datetime").datetime(2024, 1, 1), single=False)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        _damage_pages(path)
    before = path.read_bytes()

    conv, turns = converse(companion_home, scripted_llm, ["I live in Lisbon."])
    assert turns[0].reply_text == "Reply 1."
    moved = set_aside(companion_home)
    assert len(moved) == 1 and moved[0].name.startswith(f"{DB_NAME}.corrupt-")
    assert moved[0].read_bytes() == before  # kept byte for byte
    assert stored_users(companion_home) == ["I live in Lisbon."]  # a fresh database took over
    assert f"moved aside to {moved[0]}" in caplog.text and "NOT deleted" in caplog.text
    assert "was damaged" in spoken.start_announcements()[0]

    from companion.ops.cli import main

    # speech "on a server" that is not there: the model checks fail at once instead of loading
    # Whisper and the voice; the database lines are what this reads
    main(["--set", f"llm.base_url={scripted_llm.base_url}", "--set", "stt.base_url=tcp://127.0.0.1:9",
          "--set", "tts.base_url=tcp://127.0.0.1:9", "doctor"])
    out = capsys.readouterr().out
    assert moved[0].name in out and ".recover" in out


def test_a_damaged_skills_database_is_moved_aside(companion_home, spoken):
    path = companion_home / "skills.sqlite3"
    path.write_bytes(b"\x00garbage" * 500)
    db = connect()
    assert db.execute("SELECT COUNT(*) FROM reminders").fetchone()[0] == 0
    [moved] = set_aside(companion_home)
    assert moved.read_bytes() == b"\x00garbage" * 500
    assert "your reminders" in spoken.start_announcements()[0]


def test_disk_full_she_keeps_talking_logs_it_and_says_it_once(companion_home, scripted_llm, spoken, caplog):
    conv, _ = converse(companion_home, scripted_llm, ["Hello."])
    for db in (conv.memory.store.db, next(iter(conv.skills)).skills[0].desk.db):
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL, as on a full disk
    conv.transcriber = Heard([f"This is a long sentence number {i} about my garden. " * 200 for i in range(3)])
    scripted_llm.enqueue("Reply 1.", "Reply 2.", "Reply 3.")
    with caplog.at_level(logging.ERROR, logger="companion.database"):
        turns = [conv.respond(UTT, NullSink()) for _ in range(3)]
    assert [t.reply_text for t in turns] == ["Reply 1.", "Reply 2.", "Reply 3."]
    assert [t.error for t in turns] == [None] * 3
    assert len(logged_users(companion_home)) == 4  # every word still in the transcript log
    full = [r for r in caplog.records if r.name == "companion.database" and "disk is full" in r.getMessage()]
    assert len(full) == 1 and "free some space" in full[0].getMessage()  # logged once, with what to do
    lines = spoken.due_announcements()
    assert lines == ["I can't save anything right now: the disk is full. I'll keep talking, but I won't remember "
                     "what we say until some space is freed."]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_transcript_log_on_a_full_disk_costs_nothing_stored(companion_home, scripted_llm, spoken, caplog):
    """Writes to /dev/full fail with ENOSPC, as on a full disk: both sides of every turn still
    reach the memory database, the failure is logged once and said once."""
    cfg = Config(persona=PersonaConfig(compact="off"))  # the model answers every turn
    scripted_llm.enqueue("Reply 1.", "Reply 2.")
    brain = Brain(cfg.llm, Endpoint(scripted_llm.base_url, "k", "m"))
    conv = Conversation(Heard(["Hello.", "My sister is called Ana."]), brain, Silent(), load_persona("samantha"),
                        TranscriptLog(Path("/dev/full")), memory=open_memory(cfg, companion_home, brain))
    with caplog.at_level(logging.ERROR, logger="companion.dialogue.conversation"):
        turns = [conv.respond(UTT, NullSink()) for _ in range(2)]
    assert [t.reply_text for t in turns] == ["Reply 1.", "Reply 2."]
    store = MemoryStore(companion_home / DB_NAME)
    said = [r[0] for r in store.db.execute("SELECT spoken FROM turns WHERE role = 'assistant' ORDER BY id")]
    assert said == ["Reply 1.", "Reply 2."]
    assert stored_users(companion_home) == ["Hello.", "My sister is called Ana."]
    failed = [r for r in caplog.records if "could not write the transcript" in r.getMessage()]
    assert len(failed) == 1 and "free some space" in failed[0].getMessage()
    assert spoken.due_announcements() == [
        "I can't save anything right now: the disk is full. I'll keep talking, but I won't remember "
        "what we say until some space is freed."]


def test_open_database_is_private_and_patient(companion_home):
    db = open_database(companion_home / "x.sqlite3")
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == database.BUSY_TIMEOUT_MS
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("CREATE TABLE t (x)")
    for suffix in ("", "-wal", "-shm"):
        assert (companion_home / f"x.sqlite3{suffix}").stat().st_mode & 0o777 == 0o600
