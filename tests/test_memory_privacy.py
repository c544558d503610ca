"""Nothing the user said is lost or leaks: a wipe while she runs, forgetting one fact, her own
replies kept apart from the user's words, "forget everything" by voice, and memory switched off."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime

import numpy as np
import pytest

from companion.audio.sinks import NullSink
from companion.dialogue.persona import load_persona
from companion.llm.client import Brain
from companion.llm.embedded import Endpoint
from companion.memory import DB_NAME, MemoryStore
from companion.memory.longterm import LongTermMemory
from companion.memory.retrieval import related_turns
from companion.ops.cli import main
from companion.ops.config import MemoryConfig, load_config
from companion.records import Turn, Utterance
from companion.testing.stand_ins import Heard, Silent

MONDAY = datetime(2024, 3, 4, 9, 30)

# a running Samantha in another process: it holds the data directory as 'run' and 'replay' do,
# and answers each line on stdin as a user turn, from its own long-term memory
RUNNING = textwrap.dedent("""
    import sys
    from datetime import datetime
    from companion.memory import DB_NAME, MemoryStore
    from companion.memory.longterm import LongTermMemory
    from companion.ops.config import MemoryConfig, data_dir
    from companion.runtime.instance import single_instance

    with single_instance(data_dir()):
        memory = LongTermMemory(MemoryStore(data_dir() / DB_NAME), MemoryConfig())
        print("ready", flush=True)
        for line in sys.stdin:
            print(repr(memory.on_user_turn(line.strip(), datetime.now()).reply), flush=True)
""")


@pytest.fixture
def store(companion_home):
    s = MemoryStore(companion_home / DB_NAME)
    yield s
    s.close()


def tell(memory: LongTermMemory, text: str, reply: str, now: datetime = MONDAY) -> str | None:
    """One exchange: the user's words, then her reply (stored as she said it)."""
    recall = memory.on_user_turn(text, now)
    said = recall.reply or reply
    memory.on_reply(Turn(1, text, reply_text=said, heard_text=said, started_at=now.isoformat()), said)
    return recall.reply


def stored_text(store: MemoryStore) -> str:
    return json.dumps(store.export(), ensure_ascii=False)


def test_a_wipe_while_she_runs_is_refused_with_her_pid_and_loses_no_turn(companion_home, capsys):
    her = subprocess.Popen([sys.executable, "-c", RUNNING], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert her.stdout.readline().strip() == "ready"

        def say(text: str) -> str:
            her.stdin.write(text + "\n")
            her.stdin.flush()
            return her.stdout.readline().strip()

        say("My name is Theodore.")
        assert main(["memory", "wipe", "--yes"]) == 1
        err = capsys.readouterr().err
        assert f"pid {her.pid}" in err and "forget everything" in err and "Traceback" not in err
        say("I live in Boston.")
        assert say("What do you remember about me?") == repr(
            "Here's what I remember: your name is Theodore and you live in Boston.")
    finally:
        her.stdin.close()
        her.wait(10)
    store = MemoryStore(companion_home / DB_NAME)
    assert store.counts()["turns"] == 3 and store.counts()["sessions"] == 1  # every turn kept, in one session
    assert main(["memory", "wipe", "--yes"]) == 0  # once she has stopped, it goes ahead
    assert store.counts()["turns"] == 0


def test_forgetting_a_fact_cuts_every_sentence_that_states_it_hers_too_and_nothing_else(store):
    memory = LongTermMemory(store, MemoryConfig())
    tell(memory, "My name is Ann. I'm allergic to peanuts.", "Nice to meet you, Ann. I'll remember you're allergic to peanuts.")
    tell(memory, "What should I cook tonight?", "Something without peanuts, of course. Maybe a lentil curry?")
    tell(memory, "My sister is called Jo and I am allergic to shellfish.", "Jo sounds lovely.")
    memory.end_session(MONDAY)
    store.add_summary(1, "Ann is allergic to peanuts. Her sister is Jo.", "llm", MONDAY)
    assert tell(memory, "Forget my allergy.", "") == "Okay, I've forgotten your allergy."

    assert "peanut" not in stored_text(store).lower() and "shellfish" not in stored_text(store).lower()
    texts = [r[0] for r in store.db.execute("SELECT text FROM turns ORDER BY id")]
    assert texts == ["My name is Ann.", "Nice to meet you, Ann.", "What should I cook tonight?", "Maybe a lentil curry?",
                     "My sister is called Jo.", "Jo sounds lovely."]
    assert store.summary(1) == "Her sister is Jo."
    assert {(f.attribute, f.value) for f in store.facts()} == {("name", "Ann"), ("sister", "Jo")}
    assert all(f.source_turn_id is not None for f in store.facts())  # the turns they came from are still there
    assert not related_turns(store, "peanuts", 5) and related_turns(store, "curry", 5)


def test_forgetting_from_the_shell_cuts_her_sentences_too(store, capsys):
    memory = LongTermMemory(store, MemoryConfig())
    tell(memory, "I live in Boston. I like tea.", "Boston in the fall is lovely! Tea is a good choice.")
    boston = next(f.id for f in store.facts() if f.attribute == "lives_in")
    assert main(["memory", "forget", str(boston)]) == 0
    assert "Boston" not in stored_text(store)
    assert [r[0] for r in store.db.execute("SELECT text FROM turns ORDER BY id")] == ["I like tea.", "Tea is a good choice."]


def test_her_replies_are_never_offered_as_the_users_words_even_after_export_wipe_import(store, tmp_path):
    memory = LongTermMemory(store, MemoryConfig())
    tell(memory, "I went hiking in the Alps last summer.", "You told me you hate mountains and love the beach!")
    memory.end_session(MONDAY)
    file = tmp_path / "memory.json"
    assert main(["memory", "export", str(file)]) == 0
    assert main(["memory", "wipe", "--yes"]) == 0
    assert main(["memory", "import", str(file)]) == 0
    again = LongTermMemory(MemoryStore(store.path), MemoryConfig())
    context = again.on_user_turn("Do you remember my hiking in the mountains?", MONDAY).context
    assert "hiking in the Alps" in context  # the user's own words are recalled
    assert "hate mountains" not in context  # hers are not, so no one can quote them as the user's


def test_forget_everything_by_voice_asks_first_and_only_yes_wipes(store):
    memory = LongTermMemory(store, MemoryConfig())
    tell(memory, "I live in Boston.", "Nice.")
    counts = store.counts()
    assert tell(memory, "Forget everything.", "") == "Everything? Say yes to forget it all."
    assert tell(memory, "No, keep it.", "") == "All right, I haven't forgotten anything."
    assert tell(memory, "Please forget everything.", "") == "Everything? Say yes to forget it all."
    assert tell(memory, "I like tea.", "Tea is nice.") is None  # something else: nothing is erased, the turn goes on
    assert {(f.attribute, f.value) for f in store.facts()} == {("lives_in", "Boston"), ("likes", "tea")}
    assert store.counts()["turns"] > counts["turns"]
    assert tell(memory, "Forget everything.", "") == "Everything? Say yes to forget it all."
    assert memory.preview("Yes.", MONDAY) is None  # nothing is made ahead for the answer
    assert tell(memory, "Yes.", "") == "Okay, I've forgotten everything you've told me."
    assert store.counts() == {"users": 1, "sessions": 0, "turns": 0, "facts": 0, "summaries": 0}
    tell(memory, "My name is Theo.", "Hi Theo.")  # and memory goes on afterwards
    assert {(f.attribute, f.value) for f in store.facts()} == {("name", "Theo")}


@pytest.fixture
def words_kept_afterwards():
    from companion.ops.logs import keep_words

    yield
    keep_words(True)  # as every CLI run with memory on sets it; later tests in this process log words


def test_with_memory_off_nothing_the_user_said_reaches_the_disk(companion_home, scripted_llm, words_kept_afterwards):
    from companion.runtime.app import Parts, new_conversation
    from companion.stt import SpeculativeTranscriber
    from companion.dialogue.voice_control import Preferences

    assert main(["--set", "memory.enabled=false", "status"]) == 3  # the CLI sets up logging for this config
    scripted_llm.enqueue(*["Swordfish is a fine hint, Theodore."] * 2)
    cfg = load_config(flags={"memory": {"enabled": "false"}}, environ={})
    parts = Parts(SpeculativeTranscriber(Heard(["My name is Theodore and my password hint is swordfish.",
                                                "What was my password hint?"])),
                  Silent(), Brain(cfg.llm, Endpoint(scripted_llm.base_url, "k", "m")), load_persona("samantha"), None,
                  Preferences(companion_home / "preferences.json"))
    conv = new_conversation(cfg, parts, companion_home / "transcripts" / "live.jsonl")  # as the live loop makes it
    utt = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)
    assert conv.respond(utt, NullSink()).reply_text == "Swordfish is a fine hint, Theodore."
    conv.respond(utt, NullSink())
    conv.memory.end_session(MONDAY)
    written = [p for p in companion_home.rglob("*") if p.is_file() and "models" not in p.parts]
    assert any(p.parent.name == "logs" for p in written)
    for path in written:
        data = path.read_bytes().lower()
        assert b"swordfish" not in data and b"theodore" not in data, path
    log = (companion_home / "logs" / "companion.jsonl").read_text()
    assert "user: (10 words)" in log  # that a turn happened, not what was said
