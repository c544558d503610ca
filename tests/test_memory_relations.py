"""One relation under any of its words (issue 12, the held-out miss: "my mom moved to Portland"
then "where does my mother live?" answered the old city): stored under one key, asked with
any word, corrected across words with the history kept, said back with the user's word, and
read the same from an older database that holds the other words as keys. Real SQLite memory in
the per-test data directory."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from companion.memory import DB_NAME, MemoryStore
from companion.memory.longterm import LongTermMemory
from companion.memory.relations import aliases, canonical, said_as
from companion.memory.rules import extract_facts
from companion.ops.config import MemoryConfig
from companion.records import Turn

NOW = datetime(2026, 12, 3, 18, 0)



def reopened(companion_home, acknowledge: bool = False) -> LongTermMemory:
    return LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig(), acknowledge=acknowledge)


def say(memory: LongTermMemory, text: str, now: datetime = NOW) -> str | None:
    recall = memory.on_user_turn(text, now)
    said = recall.reply or "I see."
    memory.on_reply(Turn(1, text, reply_text=said, started_at=now.isoformat()), said)
    return recall.reply


def facts(store, current: bool = True) -> set[tuple]:
    return {(f.subject, f.attribute, f.value) for f in store.facts(current=current)}


@pytest.mark.parametrize("word, key", [
    ("mom", "mother"), ("Mum", "mother"), ("mommy", "mother"), ("ma", "mother"), ("mother", "mother"),
    ("dad", "father"), ("daddy", "father"), ("pa", "father"), ("grandma", "grandmother"), ("granny", "grandmother"),
    ("grandpa", "grandfather"), ("hubby", "husband"), ("kid", "child"), ("manager", "boss"), ("bestie", "best friend"),
    ("neighbour", "neighbor"), ("puppy", "dog"), ("kitten", "cat"), ("sister", "sister"), ("Susan", "susan"),
])
def test_each_word_has_one_key(word, key):
    assert canonical(word) == key


def test_aliases_and_the_word_said():
    assert aliases("mom")[0] == "mother" and {"mum", "mom"} <= set(aliases("mother"))
    assert aliases("Susan") == ("Susan",) and aliases("lives_in") == ("lives_in",) and aliases("user") == ("user",)
    assert said_as("mother", "Actually, my mom moved to Portland.") == "mom"
    assert said_as("mother", "Where does Linda live?") == "mother"


@pytest.mark.parametrize("said, expected", [
    ("My mom Linda lives in Seattle.", {("user", "mother", "Linda"), ("Linda", "lives_in", "Seattle")}),
    ("My dad's name is Robert.", {("user", "father", "Robert")}),
    ("My grandma works at the library.", {("grandmother", "employer", "the library")}),
    ("I have a puppy called Max.", {("user", "dog", "Max")}),
])
def test_facts_are_stored_under_the_key(said, expected):
    assert {(f.subject, f.attribute, f.value) for f in extract_facts(said, NOW)} == expected


def test_a_correction_told_with_another_word_replaces_the_old_value(memory, companion_home):
    say(memory, "My mother's name is Linda and she lives in Seattle.")
    say(memory, "Actually, my mom moved to Portland.", NOW + timedelta(minutes=1))
    say(memory, "My dad lives in Denver.", NOW + timedelta(minutes=2))  # no name: the relation is the subject
    say(memory, "No, my father moved to Austin.", NOW + timedelta(minutes=3))
    assert {f for f in facts(memory.store) if f[1] == "lives_in"} == {("Linda", "lives_in", "Portland"),
                                                                      ("father", "lives_in", "Austin")}
    old = {(f.subject, f.value) for f in memory.store.facts(current=False) if f.valid_to}
    assert old == {("Linda", "Seattle"), ("father", "Denver")}  # the history is kept
    assert say(memory, "Where does my mom live now?") == "Your mom Linda lives in Portland."
    memory.end_session(NOW)
    memory.store.close()
    later = reopened(companion_home)
    day = NOW + timedelta(days=1)
    assert say(later, "Where does my mother live?", day) == "Your mother Linda lives in Portland."
    assert say(later, "Where does my dad live?", day) == "Your dad lives in Austin."
    assert say(later, "What's my mum's name?", day) == "Your mum's name is Linda."
    assert say(later, "Who is Linda?", day) == "Linda is your mother. She lives in Portland."
    assert say(later, "Tell me about my mommy.", day) == "Linda is your mommy. She lives in Portland."


def test_her_acknowledgement_uses_the_users_word(companion_home):
    memory = reopened(companion_home, acknowledge=True)
    assert say(memory, "My mom Linda lives in Seattle.") == "I'll remember that your mom Linda lives in Seattle."
    assert say(memory, "My granny works at the library.") == "I'll remember that your granny works at the library."
    assert say(memory, "My grandma's name is Rose.") == "I'll remember that your grandma is Rose."
    assert ("Rose", "employer", "the library") in facts(memory.store)  # what was told before the name moved to it


def test_an_older_database_with_the_other_words_still_answers(companion_home):
    """Before the key, "mom" and "mother" were stored as said: both are read as one relation,
    and a correction or a name learned now takes over what was stored under the old word."""
    old = MemoryStore(companion_home / DB_NAME)
    old.add_fact("mom", "Linda", NOW, single=True)
    old.add_fact("lives_in", "Seattle", NOW, single=True, subject="Linda")
    old.add_fact("lives_in", "Denver", NOW, single=True, subject="dad")
    old.add_fact("grandma", "Rose", NOW, single=False)
    old.add_fact("puppy", "Max", NOW, single=False)
    old.close()
    memory = reopened(companion_home)
    day = NOW + timedelta(days=1)
    assert say(memory, "Where does my mother live?", day) == "Your mother Linda lives in Seattle."
    assert say(memory, "Where does my father live?", day) == "Your father lives in Denver."
    assert say(memory, "What's my grandmother's name?", day) == "Your grandmother's name is Rose."
    assert say(memory, "What's my dog called?", day) == "Your dog is called Max."
    say(memory, "Actually, my father moved to Austin.", day)
    assert say(memory, "Where does my dad live?", day) == "Your dad lives in Austin."
    assert ("dad", "lives_in", "Denver") not in facts(memory.store)  # replaced across the words ...
    assert ("dad", "lives_in", "Denver") in facts(memory.store, current=False)  # ... and kept in the history
    say(memory, "My father's name is Bob.", day)
    assert {f for f in facts(memory.store) if f[0] == "Bob"} == {("Bob", "lives_in", "Austin")}
    assert say(memory, "Where does my dad live?", day) == "Your dad Bob lives in Austin."
    say(memory, "My mother's name is Linda.", day)  # told again under the key: still one mother
    assert say(memory, "What's my mom's name?", day) == "Your mom's name is Linda."


def test_forgetting_a_relation_forgets_it_under_every_word(memory):
    say(memory, "My mom Linda lives in Seattle.")
    say(memory, "My sister Susan lives in Boston.")
    assert say(memory, "Forget my mother.") == "Okay, I've forgotten your mother."
    assert facts(memory.store) == {("user", "sister", "Susan"), ("Susan", "lives_in", "Boston")}
