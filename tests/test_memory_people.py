"""The user's people in memory: facts about them from the user's words (relations, pronouns,
corrections with history), personal questions answered from the fact store (told, not told,
after a restart; other questions left to the model), her replies never recalled as the user's,
and the names given to the recogniser. Real SQLite memory in the per-test data directory."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from companion.contracts import NoMemory
from companion.memory import DB_NAME, MemoryStore, migrations
from companion.memory.longterm import LongTermMemory
from companion.memory.retrieval import SNIPPETS
from companion.memory.rules import People, extract_facts, read_turn
from companion.ops.config import MemoryConfig
from companion.records import Turn

NOW = datetime(2026, 12, 3, 18, 0)



def reopened(companion_home) -> LongTermMemory:
    """The same data directory in a new process: nothing kept but the database."""
    return LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig())


def say(memory: LongTermMemory, text: str, now: datetime = NOW, reply: str = "I see.") -> str | None:
    """One turn: the user's words, then her reply (memory's own answer when it gave one)."""
    recall = memory.on_user_turn(text, now)
    said = recall.reply or reply
    memory.on_reply(Turn(1, text, reply_text=said, started_at=now.isoformat()), said)
    return recall.reply


def facts(store, current: bool = True) -> set[tuple]:
    return {(f.subject, f.attribute, f.value) for f in store.facts(current=current)}


@pytest.mark.parametrize("said, expected", [
    ("My sister Susan lives in Boston.", {("user", "sister", "Susan"), ("Susan", "lives_in", "Boston")}),
    ("My sister's name is Susan and she lives in Boston.", {("user", "sister", "Susan"), ("Susan", "lives_in", "Boston")}),
    ("My brother Tom works at a bakery.", {("user", "brother", "Tom"), ("Tom", "employer", "a bakery")}),
    ("My brother's name is Tom and he lives in Chicago.", {("user", "brother", "Tom"), ("Tom", "lives_in", "Chicago")}),
    ("My dog Biscuit is two.", {("user", "dog", "Biscuit"), ("Biscuit", "age", "two")}),
    ("I have a sister called Ana.", {("user", "sister", "Ana")}),
    ("My wife is a nurse.", {("wife", "job", "nurse")}),
    ("Tom is my brother. He just moved to Denver last month.", {("user", "brother", "Tom"), ("Tom", "lives_in", "Denver")}),
    ("My sister, Ana, is from Madrid and she works as a dentist.",
     {("user", "sister", "Ana"), ("Ana", "hometown", "Madrid"), ("Ana", "job", "dentist")}),
    ("My cat Luna turned three years old.", {("user", "cat", "Luna"), ("Luna", "age", "three")}),
    ("My friend Émile lives in Zürich.", {("user", "friend", "Émile"), ("Émile", "lives_in", "Zürich")}),
    ("My mom's birthday is on June 5th.", {("mother", "birthday", "June 5th")}),  # under the key (test_memory_relations)
    ("My sister lives in Boston with her husband.", {("sister", "lives_in", "Boston")}),
    # the user's own attributes
    ("My name is Peter, I'm 34 and I'm a teacher.", {("user", "name", "Peter"), ("user", "age", "34"),
                                                    ("user", "job", "teacher")}),
    ("I work at the hospital and I'm allergic to cats.", {("user", "employer", "the hospital"), ("user", "allergy", "cats")}),
    ("I work as a nurse at Mercy. My wife works as a chef for Hilton.",
     {("user", "job", "nurse"), ("user", "employer", "Mercy"), ("wife", "job", "chef"), ("wife", "employer", "Hilton")}),
    ("My husband is a firefighter and my son is a student.", {("husband", "job", "firefighter")}),
    # a name the recogniser wrote in lower case, after "called" or "name is"
    ("I have a dog called biscuit.", {("user", "dog", "Biscuit")}),
    ("My brother's name is tom and he lives in chicago.", {("user", "brother", "Tom"), ("Tom", "lives_in", "Chicago")}),
    ("My name is alex.", {("user", "name", "Alex")}),
    # ... or right after "my sister", "my cat" when a fact about them follows (issue 12: Whisper's "my cat pepper")
    ("My cat pepper is three years old.", {("user", "cat", "Pepper"), ("Pepper", "age", "three")}),
    ("my dog biscuit is two", {("user", "dog", "Biscuit"), ("Biscuit", "age", "two")}),
    ("my sister susan lives in boston", {("user", "sister", "Susan"), ("Susan", "lives_in", "Boston")}),
    ("My brother tom just moved to denver.", {("user", "brother", "Tom"), ("Tom", "lives_in", "Denver")}),
    ("My friend emily works at the bakery.", {("user", "friend", "Emily"), ("Emily", "employer", "the bakery")}),
    ("My mom linda's from ohio.", {("user", "mother", "Linda"), ("Linda", "hometown", "Ohio")}),
    # ... and never an ordinary word in its place: the sentence going on, an adverb, a compound
    ("My cat is old. My dog likes walks.", set()),
    ("My sister really loves boston. My brother usually works late.", set()),
    ("My dog food is expensive. My dog training is going well. My cat sitter is lovely.", set()),
    ("My brother still lives in chicago.", {("brother", "lives_in", "Chicago")}),
    ("My mom just moved to portland and my sister has moved to denver.",
     {("mother", "lives_in", "Portland"), ("sister", "lives_in", "Denver")}),
    ("I walked my dog today. My son will be ten.", set()),
    # nothing, or nothing wrong
    ("My name is not important. My dog is called that by everyone.", set()),
    ("I'm a lucky man. I'm a people person.", set()),  # "a …" is a job only when it looks like one
    ("My dog is a labrador.", set()),  # a breed is no job
    ("She's a sweetheart. I'm a bit tired. It's two o'clock.", set()),  # no one named: no pronoun to bind
    ("Paris lives in my heart. Boston is lovely.", set()),  # names no one told about are not people
    ("Where does my sister live? Is my brother a doctor?", set()),  # questions state nothing
])
def test_facts_about_people_come_from_each_form_of_words(said, expected):
    assert {(f.subject, f.attribute, f.value) for f in extract_facts(said, NOW)} == expected


def test_a_pronoun_means_the_person_just_named_if_it_fits():
    people = People({"sister": ["Susan"], "brother": ["Tom"], "dog": ["Biscuit"]})
    read = read_turn("My brother Tom lives in Chicago and my sister Susan lives in Austin. She is a nurse.", NOW, people)
    assert ("Susan", "job", "nurse") in {(f.subject, f.attribute, f.value) for f in read.facts}
    assert read.focus == "Susan"
    # the next turn: "she" is Susan, whom the conversation is about; "he" fits no one talked about
    people.focus = read.focus
    assert [(f.subject, f.value) for f in extract_facts("Actually she moved to Denver.", NOW, people)] == [("Susan", "Denver")]
    assert extract_facts("Actually he moved to Denver.", NOW, people) == []
    assert extract_facts("It is two.", NOW, people) == []  # "it" is never a person
    people.focus = "Biscuit"
    assert [(f.subject, f.value) for f in extract_facts("It is three now.", NOW, people)] == [("Biscuit", "three")]
    assert extract_facts("Actually she moved to Denver.", NOW, People({"sister": ["Susan"]})) == []  # no one in focus


def test_corrections_replace_the_value_and_keep_its_history(memory):
    say(memory, "My sister Susan lives in Boston.")
    say(memory, "Actually she moved to Denver.", NOW + timedelta(minutes=1))
    say(memory, "My brother's name is Tom and he lives in Chicago.", NOW + timedelta(minutes=2))
    memory.end_session(NOW)
    again = reopened(memory.store.path.parent)
    say(again, "No, Tom lives in Seattle now.", NOW + timedelta(days=1))
    assert {f for f in facts(again.store) if f[1] == "lives_in"} == {("Susan", "lives_in", "Denver"),
                                                                      ("Tom", "lives_in", "Seattle")}
    old = {(f.subject, f.value): f.valid_to for f in again.store.facts(current=False) if f.valid_to}
    assert old == {("Susan", "Boston"): (NOW + timedelta(minutes=1)).isoformat(),
                   ("Tom", "Chicago"): (NOW + timedelta(days=1)).isoformat()}
    assert say(again, "Where does my sister live?") == "Your sister Susan lives in Denver."
    assert say(again, "Where does Tom live?") == "Tom lives in Seattle."


def test_what_was_told_before_a_name_moves_to_the_name(memory):
    say(memory, "My sister lives in Boston.")
    assert facts(memory.store) == {("sister", "lives_in", "Boston")}
    say(memory, "My sister's name is Susan.")
    assert facts(memory.store) == {("user", "sister", "Susan"), ("Susan", "lives_in", "Boston")}
    assert say(memory, "Who is Susan?") == "Susan is your sister. She lives in Boston."
    assert memory.store.search_facts('"susan"', 5)  # found by the person's name too (migration 003)


TOLD = ["My sister Susan lives in Boston.", "My brother Tom works at a bakery.", "My dog Biscuit is two.",
        "My birthday is on May 3rd.", "I work as a nurse.", "My brother's name is Tom and he lives in Chicago.",
        "I'm allergic to peanuts.", "My wife works as a cook for Hilton."]
ANSWERS = [
    ("Where does my sister live?", "Your sister Susan lives in Boston."),
    ("What's my dog called?", "Your dog is called Biscuit."),
    ("When is my birthday?", "Your birthday is May 3rd."),
    ("What do I do?", "You work as a nurse."),
    ("Who is Tom?", "Tom is your brother. He lives in Chicago and works at a bakery."),
    ("Hey Samantha, where does my brother live?", "Your brother Tom lives in Chicago."),
    ("How old is Biscuit?", "Biscuit is two."),
    ("What's my sister's name?", "Your sister's name is Susan."),
    ("Do you know where my brother works?", "Your brother Tom works at a bakery."),
    ("What does my wife do?", "Your wife works as a cook at Hilton."),
    ("What am I allergic to?", "You're allergic to peanuts."),
    ("Where's my sister living now?", "Your sister Susan lives in Boston."),
    ("Do you remember my dog's name?", "Your dog is called Biscuit."),
    ("Tell me about my sister.", "Susan is your sister. She lives in Boston."),
    ("Where did I say my brother lives?", "Your brother Tom lives in Chicago."),
    ("What's my sister's name again?", "Your sister's name is Susan."),
    ("Do you remember my brother?", "Tom is your brother. He lives in Chicago and works at a bakery."),
]
NOT_TOLD = [
    ("Where does my sister live?", "I don't think you've told me where your sister lives."),
    ("What's my dog called?", "I don't think you've told me your dog's name."),
    ("When is my birthday?", "I don't think you've told me when your birthday is."),
    ("What do I do?", "I don't think you've told me what you do."),
    ("How old is my cat?", "I don't think you've told me how old your cat is."),
    ("What's my name?", "I don't think you've told me your name."),
    ("Tell me about my wife.", "I don't think you've told me about your wife."),
]


@pytest.mark.parametrize("question, reply", ANSWERS)
def test_personal_questions_are_answered_from_what_was_told(memory, question, reply):
    for text in TOLD:
        say(memory, text)
    assert say(memory, question) == reply


@pytest.mark.parametrize("question, reply", NOT_TOLD)
def test_nothing_told_is_said_plainly(memory, question, reply):
    say(memory, "I like tea.")
    assert say(memory, question) == reply


def test_answers_hold_after_a_restart(memory, companion_home):
    for text in TOLD:
        say(memory, text)
    memory.end_session(NOW)
    memory.store.close()
    later = reopened(companion_home)
    for question, reply in ANSWERS:
        assert say(later, question, NOW + timedelta(days=2)) == reply
    say(later, "Who is Tom?")
    assert say(later, "Where does he live?") == "Tom lives in Chicago."  # the last person asked about
    assert say(later, "Where does she live?") is None  # fits no one the conversation was about: the model's


@pytest.mark.parametrize("question", [
    "Where does the sun rise?", "Who is the president?", "What's the capital of France?", "What do you do?",
    "Who is Tom Hanks?", "Who is Zeus?", "What does it do?", "What do I do now?", "Where do birds live?",
    "How old is the universe?",
])
def test_other_questions_go_to_the_model(memory, question):
    for text in TOLD:
        say(memory, text)
    recall = memory.on_user_turn(question, NOW)
    assert recall.reply is None
    assert memory.preview(question, NOW) is not None  # thinking ahead is allowed for the model's questions


def test_a_personal_question_is_never_thought_ahead_by_the_model(memory):
    say(memory, "My sister Susan lives in Boston.")
    assert memory.preview("Where does my sister live?", NOW) is None


def test_her_replies_are_never_an_answer_nor_recalled_as_the_users(memory, companion_home):
    say(memory, "I had a long day.", reply="Your brother lives in San Francisco, California. I'm training for a marathon.")
    say(memory, "My friend is visiting San Francisco.", reply="San Francisco is lovely.")
    memory.end_session(NOW)
    later = reopened(companion_home)
    day = NOW + timedelta(days=1)
    assert say(later, "Where does my brother live?", day) == "I don't think you've told me where your brother lives."
    context = later.on_user_turn("Any ideas for San Francisco or a marathon?", day).context
    prompt = later.standing(day) + "\n" + context
    assert "California" not in prompt and "training" not in prompt  # her own lines are not recalled at all
    assert f"{SNIPPETS}\n- Your friend is visiting San Francisco." in context  # the user's, as she'd say it back
    assert not re.search(r"the user said|\w+ \d{1,2}, \d{4},|\"", context)  # no snippet format to read aloud
    roles = [t.role for t in later.store.session_turns(1)]
    assert roles == ["user", "assistant"] * 2  # her replies are stored, as hers


def test_forgetting_a_person_forgets_what_was_told_about_them(memory):
    for text in TOLD:
        say(memory, text)
    assert say(memory, "Forget my brother.") == "Okay, I've forgotten your brother."
    assert not any("Tom" in f for f in facts(memory.store))
    assert say(memory, "Forget where I live.") == "I don't have anything about where you live to forget."
    assert ("Susan", "lives_in", "Boston") in facts(memory.store)  # her home is not the user's


def test_what_do_you_remember_tells_people_apart_from_the_user(memory):
    say(memory, "My sister Susan lives in Boston. I live in Denver.")
    assert say(memory, "What do you remember about me?") == (
        "Here's what I remember: you live in Denver, your sister is Susan and Susan lives in Boston.")
    standing = memory.standing(NOW)
    assert "lives in: Denver" in standing and "Susan (sister): lives in Boston" in standing


def test_known_names_are_the_latest_people_pets_and_places(memory):
    say(memory, "My name is Zoë and I live in Reykjavík.")
    say(memory, "My sister Susan lives in Boston.")
    say(memory, "My dog Biscuit is two and my brother Tom works at Acme Bakery.")
    say(memory, "I like tea.")
    assert memory.known_names() == ["Acme Bakery", "Tom", "Biscuit", "Boston", "Susan", "Reykjavík", "Zoë"]
    assert memory.known_names(most=2) == ["Acme Bakery", "Tom"]
    say(memory, "Actually I moved to Oslo.")
    assert "Reykjavík" not in memory.known_names() and memory.known_names()[0] == "Oslo"
    assert NoMemory().known_names() == []


def test_an_older_database_is_upgraded_and_its_facts_found(companion_home, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
    old = MemoryStore(companion_home / DB_NAME)
    old.add_fact("sister", "Susan", NOW, single=False)
    old.add_fact("lives_in", "Boston", NOW, single=True)
    old.close()
    monkeypatch.undo()
    store = MemoryStore(companion_home / DB_NAME)
    assert [f.value for f in store.search_facts('"boston"', 5)] == ["Boston"]
    assert [f.value for f in store.search_facts('"sister"', 5)] == ["Susan"]
    store.add_fact("lives_in", "Denver", NOW, single=True, subject="Susan")
    assert [f.subject for f in store.search_facts('"susan"', 5)] == ["user", "Susan"]
    assert json.loads(json.dumps(store.export()))["facts"][0]["subject"] == "user"


def test_the_cli_lists_a_persons_history(memory, capsys):
    from companion.ops.cli import main

    say(memory, "My sister Susan lives in Boston.")
    say(memory, "Actually she moved to Denver.", NOW + timedelta(days=1))
    assert main(["memory", "list", "--all"]) == 0
    out = capsys.readouterr().out
    assert "Susan lives in: Boston  (since 2026-12-03, until 2026-12-04; rule)" in out
    assert "Susan lives in: Denver  (since 2026-12-04; rule)" in out and "sister: Susan" in out


@pytest.mark.parametrize("said, back", [
    ("I'm training for the marathon.", "You're training for the marathon."),
    ("I love you and you know me.", "You love me and I know you."),
    ("My sister told me about your voice.", "Your sister told you about my voice."),
    ("Yesterday I saw my friend.", "Yesterday you saw your friend."),
])
def test_the_users_words_are_said_back_in_her_voice(said, back):
    """Recalled turns and "I'll remember that …" turn the user's words around, once."""
    from companion.memory.phrasing import flip

    assert flip(said) == back
