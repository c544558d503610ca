"""Long-term memory in-process: the store, the rules, commands, retrieval and the CLI, on a
real SQLite file in the per-test data directory."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from datetime import datetime, timedelta

import pytest

from companion.ops.cli import main
from companion.ops.config import Config, MemoryConfig, load_config
from companion.contracts import Recall
from companion.memory import DB_NAME, MemoryStore, open_memory
from companion.memory.commands import parse_command
from companion.memory.longterm import LongTermMemory
from companion.memory.retrieval import SNIPPETS, build_context, match_query, related_turns, tokens
from companion.memory.rules import extract_facts
from companion.records import Turn

MONDAY = datetime(2024, 3, 4, 9, 30)


@pytest.fixture
def store(companion_home):
    s = MemoryStore(companion_home / DB_NAME)
    yield s
    s.close()


def session(memory: LongTermMemory, said: list[str], now: datetime, reply: str = "I see.") -> list:
    """One conversation: each user line, then a reply; returns the Recalls."""
    recalls = []
    for text in said:
        recall = memory.on_user_turn(text, now)
        memory.on_reply(Turn(1, text, reply_text=recall.reply or reply, started_at=now.isoformat()), recall.reply or reply)
        recalls.append(recall)
    memory.end_session(now)
    return recalls


def prompt_memory(memory: LongTermMemory, text: str, now: datetime) -> str:
    """What memory puts in the request for this turn: the standing part (read ahead), then
    what the words recall."""
    recalled = memory.on_user_turn(text, now).context
    return "\n".join(p for p in (memory.standing(now), recalled) if p)


def current(store) -> set[tuple[str, str]]:
    return {(f.attribute, f.value) for f in store.facts()}


def test_database_is_private_wal_and_migrated_once(store, companion_home):
    path = companion_home / DB_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    numbers = [r[0] for r in store.db.execute("SELECT number FROM _migrations ORDER BY number")]
    assert numbers == [1, 2, 3, 4]
    again = MemoryStore(path)  # reopening applies nothing twice and keeps the data
    assert [r[0] for r in again.db.execute("SELECT COUNT(*) FROM _migrations")] == [4]
    again.close()


@pytest.mark.parametrize("said, facts", [
    ("My name is Theodore and I live in Los Angeles.", {("name", "Theodore"), ("lives_in", "Los Angeles")}),
    ("I moved to Boston last month.", {("lives_in", "Boston")}),
    ("My sister is called Anna. I have a dog named Max.", {("sister", "Anna"), ("dog", "Max")}),
    ("I love hiking and jazz, but I hate coffee.", {("likes", "hiking"), ("likes", "jazz"), ("dislikes", "coffee")}),
    ("I'm allergic to peanuts and I work as a nurse.", {("allergy", "peanuts"), ("job", "nurse")}),
    ("My birthday is on May 3rd.", {("birthday", "May 3rd")}),
    ("My favorite color is green.", {("favorite_color", "green")}),
    ("I have a dentist appointment tomorrow.", {("plan", "dentist appointment on Tuesday, March 5, 2024")}),
    ("Do I like coffee? Where do I live?", set()),  # questions state nothing
    ("I love you. I'd like a coffee. It is raining.", set()),
])
def test_rules_take_facts_from_the_users_words(said, facts):
    assert {(f.attribute, f.value) for f in extract_facts(said, MONDAY)} == facts


def test_a_new_value_closes_the_old_one_instead_of_deleting_it(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["I live in LA.", "I like coffee."], MONDAY)
    session(memory, ["I moved to Boston.", "I don't like coffee anymore."], MONDAY + timedelta(days=7))
    assert current(store) == {("lives_in", "Boston"), ("dislikes", "coffee")}
    old = {(f.attribute, f.value): f for f in store.facts(current=False) if f.valid_to}
    assert set(old) == {("lives_in", "LA"), ("likes", "coffee")}
    assert old[("lives_in", "LA")].valid_to == (MONDAY + timedelta(days=7)).isoformat()


def test_samanthas_words_never_become_facts_about_the_user(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["Hello there.", "Tell me about yourself."], MONDAY,
            reply="My name is Samantha, I live in the cloud and I love jazz.")
    assert current(store) == set()
    assert {t.role for t in store.session_turns(1)} == {"user", "assistant"}  # her words are kept, as hers
    assert "Samantha" not in memory.on_user_turn("What do you remember about me?", MONDAY).reply


def test_what_do_you_remember_is_answered_from_the_database(store):
    memory = LongTermMemory(store, MemoryConfig())
    assert "don't remember anything" in memory.on_user_turn("What do you remember about me?", MONDAY).reply
    session(memory, ["My name is Theodore. I have a dog named Max.", "I'm allergic to peanuts."], MONDAY)
    reply = memory.on_user_turn("Hey Samantha, what do you know about me?", MONDAY).reply
    assert reply == ("Here's what I remember: your name is Theodore, you're allergic to peanuts "
                     "and your dog is called Max.")


def test_remember_that_keeps_the_note_and_its_facts(store):
    memory = LongTermMemory(store, MemoryConfig())
    recall = memory.on_user_turn("Remember that my sister's birthday is June 5th and my name is Theo.", MONDAY)
    assert recall.reply == "Okay, I'll remember that your sister's birthday is June 5th and your name is Theo."
    assert ("name", "Theo") in current(store)
    assert ("note", "my sister's birthday is June 5th and my name is Theo") in current(store)


@pytest.mark.parametrize("command, reply, left", [
    ("Forget my birthday.", "Okay, I've forgotten your birthday.", {("lives_in", "Boston"), ("dog", "Max")}),
    ("Can you forget that I live in Boston?", "Okay, I've forgotten that you live in Boston.",
     {("birthday", "May 3rd"), ("dog", "Max")}),
    ("Forget about my dog.", "Okay, I've forgotten your dog.", {("birthday", "May 3rd"), ("lives_in", "Boston")}),
    ("Forget my shoe size.", "I don't have anything about your shoe size to forget.",
     {("birthday", "May 3rd"), ("lives_in", "Boston"), ("dog", "Max")}),
])
def test_forget_by_voice_confirms_and_erases_the_words_too(store, command, reply, left):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["My birthday is May 3rd.", "I live in Boston.", "I have a dog named Max."], MONDAY)
    assert memory.on_user_turn(command, MONDAY).reply == reply
    assert current(store) == left
    gone = {("birthday", "May 3rd"), ("lives_in", "Boston"), ("dog", "Max")} - left
    for _, value in gone:  # search cannot bring a forgotten fact back
        assert not related_turns(store, value, 5)


def test_forget_that_and_forget_everything(store):
    memory = LongTermMemory(store, MemoryConfig())
    memory.on_user_turn("I live in Boston.", MONDAY)
    memory.on_user_turn("My ex is called Bob, by the way.", MONDAY)
    assert memory.on_user_turn("Forget that.", MONDAY).reply == "Okay, I've forgotten that."
    assert not related_turns(store, "Bob", 5)
    assert current(store) == {("lives_in", "Boston")}
    assert memory.on_user_turn("Forget everything.", MONDAY).reply == "Everything? Say yes to forget it all."
    assert memory.on_user_turn("Yes.", MONDAY).reply == "Okay, I've forgotten everything you've told me."
    assert store.counts() == {"users": 1, "sessions": 0, "turns": 0, "facts": 0, "summaries": 0}
    memory.on_user_turn("I like tea.", MONDAY)  # and memory goes on afterwards
    assert current(store) == {("likes", "tea")}


def test_dont_remember_this_conversation_stores_nothing_until_resumed(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["I live in Boston."], MONDAY)
    before = store.export()
    recalls = session(memory, ["My password hint is swordfish.", "Please don't remember this conversation.",
                               "I secretly love karaoke.", "Remember that I owe Tom money.", "What do you remember about me?"],
                      MONDAY + timedelta(days=1))
    assert recalls[1].reply.startswith("Okay, I won't remember this conversation.")
    assert recalls[3].reply.startswith("I'm not remembering this conversation right now")
    assert recalls[4].reply == "Here's what I remember: you live in Boston."
    assert "lives in: Boston" in memory.standing(MONDAY + timedelta(days=1))  # reading memory still works while paused
    after = store.export()
    assert after["turns"] == before["turns"] and after["facts"] == before["facts"]
    assert "swordfish" not in json.dumps(after)
    assert memory.on_user_turn("You can remember again.", MONDAY).reply == "Okay, I'll remember what you tell me again."
    memory.on_user_turn("I like tea.", MONDAY)
    assert ("likes", "tea") in current(store)


@pytest.mark.parametrize("text, kind", [
    ("What do you remember about me?", "recall"), ("Okay, so what do you know about me?", "recall"),
    ("Let's keep this off the record.", "pause"), ("Stop remembering.", "pause"),
    ("Start remembering again.", "resume"), ("Please forget everything.", "forget_all"),
    ("Forget it.", "forget_last"), ("Remember the time we went to Paris?", None),
    ("Do you remember when we met?", None), ("I forget things a lot.", None), ("I don't remember that.", None),
])
def test_commands_are_recognised_only_when_meant(text, kind):
    command = parse_command(text)
    assert (command.kind if command else None) == kind


def test_context_says_when_you_last_talked_and_what_was_said(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["My name is Theodore.", "I'm training for the Boston marathon in April."], MONDAY)
    context = prompt_memory(memory, "How should I train for the marathon this week?", MONDAY + timedelta(days=3))
    assert "You last talked with the user 3 days ago (Monday, March 4)." in context
    assert "name: Theodore" in context
    assert "- You're training for the Boston marathon in April." in context  # her words for it, no date or quotes
    assert "Last conversation: " in context


def test_the_standing_part_is_the_same_whatever_the_words_until_a_fact_changes(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["My name is Theodore.", "I love hiking in the mountains with my friends."], MONDAY)
    later = MONDAY + timedelta(days=1)
    before = memory.standing(later)  # read ahead before the first turn, when no session is open yet
    assert "name: Theodore" in before and "You last talked with the user yesterday" in before
    hiking = memory.on_user_turn("Any hiking ideas for the mountains?", later)
    assert memory.standing(later) == before  # the words do not change it: the server's copy stays good
    assert SNIPPETS in hiking.context and "name: Theodore" not in hiking.context  # said once
    assert memory.on_user_turn("Should I bake bread?", later).context == ""  # nothing related: nothing after the words
    memory.on_user_turn("I live in Boston.", later)
    assert "lives in: Boston" in memory.standing(later) != before


def test_a_turn_repeats_the_standing_part_read_ahead_and_a_command_never_does(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["My name is Theodore."], MONDAY)
    later = MONDAY + timedelta(days=1)
    ahead = memory.standing(later, read_ahead=True)  # what the server read between turns
    memory.on_user_turn("I live in Boston.", later)
    assert memory.standing(later) == ahead  # the words say it: the history is not read again for it
    assert "lives in: Boston" in memory.standing(later, read_ahead=True)  # read before the next turn
    memory.on_user_turn("Please forget everything.", later)
    memory.on_user_turn("Yes.", later)
    assert "Theodore" not in memory.standing(later)  # a forgotten fact is never sent again


@pytest.mark.parametrize("budget", [0, 40, 120, 400])
def test_context_never_exceeds_its_token_budget(store, budget):
    memory = LongTermMemory(store, MemoryConfig(context_tokens=budget, snippets=10))
    session(memory, [f"I love hiking number {i} in the mountains with my friends near the lake." for i in range(30)]
            + ["My name is Theodore."], MONDAY)
    context = prompt_memory(memory, "Any hiking ideas for the mountains?", MONDAY + timedelta(days=1))
    assert tokens(context) <= budget
    if budget >= 120:  # the core profile comes first when space is short
        assert "name: Theodore" in context


def test_search_text_is_never_fts_syntax(store):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ['I said "AND" OR (NEAR* - col:x) ^ to my boss.'], MONDAY)
    assert match_query('what about "AND" OR (NEAR* - col:x) boss?') == '"near" OR "col" OR "boss"'
    assert related_turns(store, 'NEAR* "AND" col:boss)', 3)[0].text.startswith("I said")


def test_retrieval_stays_under_20ms_at_100k_turns(store):
    words = ("garden dinner sister coffee boston marathon piano work meeting weekend movie birthday dog cat rain "
             "travel paris recipe book doctor school music guitar beach train office friend holiday camera").split()
    now = MONDAY.isoformat()
    with store.transaction() as db:
        db.executemany("INSERT INTO sessions (id, user_id, started_at, ended_at) VALUES (?, ?, ?, ?)",
                       [(s, store.user_id, now, now) for s in range(1, 1001)])
        db.executemany("INSERT INTO turns (session_id, role, text, created_at) VALUES (?, ?, ?, ?)",
                       [(1 + i // 100, "user" if i % 2 else "assistant",
                         " ".join(words[(i * k) % len(words)] for k in (1, 3, 7, 11, 13)) + f" and note {i}", now)
                        for i in range(100_000)])
    memory = LongTermMemory(store, MemoryConfig())
    memory.on_user_turn("My sister lives in Boston and loves the piano.", MONDAY)  # a live session, with facts
    timings = []
    for query in ["What should we cook for dinner with my sister this weekend?",
                  "I need a new book about travel in Paris and a camera", "How was the marathon in the rain?"] * 7:
        t = time.perf_counter()
        context = build_context(store, query, MONDAY, memory.session_id, 400, 3)
        timings.append(time.perf_counter() - t)
        assert SNIPPETS in context
    timings.sort()
    assert timings[len(timings) // 2] < 0.020, f"median {timings[len(timings) // 2] * 1000:.1f} ms"


def _many_facts(store, n: int) -> None:
    """``n`` current facts as a years-long memory (or an import) leaves them: likes, plans, notes."""
    things = "ocean jazz tennis hiking paris garden piano dogs films sushi chess poetry bread cycling yoga".split()
    with store.transaction() as db:
        db.executemany("INSERT INTO facts (user_id, subject, attribute, value, origin, valid_from) VALUES (?, ?, ?, ?, ?, ?)",
                       [(store.user_id, "user", ("likes", "dislikes", "plan", "note")[i % 4],
                         f"{things[i % 15]} and {things[(i * 7) % 15]} number {i}", "import", MONDAY.isoformat())
                        for i in range(n)])


def test_the_profile_read_from_the_newest_facts_is_the_one_read_from_all(store, monkeypatch):
    _many_facts(store, 3000)
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["My name is Theodore.", "I live in Boston.", "I'm allergic to peanuts."], MONDAY)
    from companion.memory.retrieval import standing_context

    bounded = standing_context(store, MONDAY, None, 400)
    everything = lambda core, newest: [f for f in store.facts() if f.attribute in core] + [  # noqa: E731
        f for f in reversed(store.facts()) if f.attribute not in core]
    monkeypatch.setattr(store, "profile_facts", everything)
    assert standing_context(store, MONDAY, None, 400) == bounded
    assert "name: Theodore" in bounded.text and "number 2999" in bounded.text


def test_memory_for_the_prompt_stays_fast_at_100k_facts(store):
    """The profile reads only the newest facts that can fit; before, every fact was read for
    every turn and every read ahead (~0.4 s at 100,000 facts on two cores)."""
    _many_facts(store, 100_000)
    memory = LongTermMemory(store, MemoryConfig(), recall_tokens=80)
    memory.on_user_turn("My name is Theodore.", MONDAY)
    timings = []
    for query in ["Do you remember the jazz and the ocean?", "What about chess and poetry number 5?"] * 5:
        t = time.perf_counter()
        memory.standing(MONDAY, read_ahead=True)
        memory.preview(query, MONDAY)
        timings.append(time.perf_counter() - t)
    timings.sort()
    assert timings[len(timings) // 2] < 0.050, f"median {timings[len(timings) // 2] * 1000:.1f} ms"


def test_what_the_words_recall_is_bounded_for_the_embedded_model(store, companion_home):
    _many_facts(store, 2000)
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, [f"I went hiking with Anna near the lake on trip number {i}." for i in range(20)], MONDAY)
    later = MONDAY + timedelta(days=1)
    unbounded = memory.on_user_turn("Tell me about hiking, jazz and the ocean.", later).context
    embedded = open_memory(Config(), companion_home)  # [llm] base_url = 'embedded' by default
    assert embedded.recall_tokens == 80
    embedded.standing(later, read_ahead=True)
    text = "Tell me about hiking, jazz and the ocean with Anna."
    bounded = embedded.preview(text, later)
    assert tokens(unbounded) > 80 >= tokens(bounded) > 0
    assert embedded.on_user_turn(text, later).context == bounded  # what was read ahead is what the turn sends
    remote = load_config(None, {"llm": {"base_url": "http://localhost:1/v1"}}, environ={})
    assert open_memory(remote, companion_home).recall_tokens == 0  # a large model reads fast: only the budget


def test_export_import_round_trips(store, tmp_path, capsys):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["I live in LA.", "My name is Theodore."], MONDAY)
    session(memory, ["I moved to Boston."], MONDAY + timedelta(days=2))
    store.add_summary(1, "We met; he lives in LA.", "llm", MONDAY)
    store.db.execute("UPDATE users SET created_at = '2020-01-01T00:00:00'")  # not the time of the wipe
    exported = store.export()
    file = tmp_path / "memory.json"
    assert main(["memory", "export", str(file)]) == 0
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    assert main(["memory", "wipe"]) == 1 and "--yes" in capsys.readouterr().out  # asks first
    assert main(["memory", "wipe", "--yes"]) == 0
    assert store.counts()["turns"] == 0
    assert main(["memory", "import", str(file)]) == 0
    assert store.export() == exported  # exactly the same, ids included
    assert main(["memory", "import", str(file)]) == 0  # into a full memory: what it holds already is not repeated
    assert store.export() == exported
    assert "were here already" in capsys.readouterr().out


def test_import_rejects_files_that_are_not_exports(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    assert main(["memory", "import", str(bad)]) == 1
    assert "not a companion memory export" in capsys.readouterr().err


def test_cli_list_search_forget(store, capsys):
    memory = LongTermMemory(store, MemoryConfig())
    session(memory, ["I live in LA.", "I moved to Boston. I love the piano."], MONDAY)
    assert main(["memory", "list"]) == 0
    out = capsys.readouterr().out
    assert "lives in: Boston" in out and "likes: the piano" in out and "LA" not in out
    assert main(["memory", "list", "--all"]) == 0
    assert "lives in: LA  (since 2024-03-04, until 2024-03-04; rule)" in capsys.readouterr().out
    assert main(["memory", "search", "piano"]) == 0
    out = capsys.readouterr().out
    assert "likes: the piano" in out and "user: I moved to Boston. I love the piano." in out
    piano = next(f.id for f in store.facts() if f.attribute == "likes")
    assert main(["memory", "forget", str(piano)]) == 0
    assert main(["memory", "forget", str(piano)]) == 1
    assert f"there is no fact {piano}" in capsys.readouterr().err
    assert current(store) == {("lives_in", "Boston")}  # heard in the same turn, but not what was forgotten
    assert not related_turns(store, "piano", 3)


def test_disabled_memory_stores_nothing(companion_home):
    memory = open_memory(load_config(flags={"memory": {"enabled": "false"}}, environ={}), companion_home)
    assert memory.on_user_turn("My name is Theodore.", MONDAY).context == ""
    assert not (companion_home / DB_NAME).exists()


def test_the_embedded_model_never_writes_memory(companion_home):
    from companion.memory import uses_model

    assert not uses_model(Config())
    assert not uses_model(load_config(flags={"llm": {"base_url": "http://x/v1"}}, environ={}))
    assert uses_model(load_config(flags={"llm": {"base_url": "http://x/v1", "model": "qwen2.5:7b"}}, environ={}))
    assert not uses_model(load_config(flags={"llm": {"base_url": "http://x/v1", "model": "m"},
                                             "memory": {"extraction": "rules"}}, environ={}))


def test_a_crash_leaves_the_session_open_and_the_next_start_closes_it(store, companion_home):
    memory = LongTermMemory(store, MemoryConfig())
    memory.on_user_turn("I live in Boston.", MONDAY)  # no end_session: the process died
    again = LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig())
    again.on_user_turn("Hello again.", MONDAY + timedelta(hours=2))
    rows = again.store.db.execute("SELECT id, ended_at FROM sessions ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(1, MONDAY.isoformat()), (2, None)]
    assert sqlite3.connect(companion_home / DB_NAME).execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 2


def test_a_failing_database_never_silences_her(store):
    memory = LongTermMemory(store, MemoryConfig())
    store.db.execute("DROP TRIGGER turns_ai")
    store.db.execute("CREATE TRIGGER turns_ai AFTER INSERT ON turns BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    assert memory.on_user_turn("My name is Theodore.", MONDAY) == Recall()
