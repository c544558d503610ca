"""Conversation logic with stand-ins for the models (the audio path is tested elsewhere):
the request layout that keeps the LLM's prompt cache useful, and prefill between turns."""

import itertools
import time
from datetime import datetime

import numpy as np

from companion.audio.sinks import NullSink
from companion.llm.client import Brain
from companion.ops.config import LLMConfig, MemoryConfig
from companion.contracts import Recall
from companion.dialogue.conversation import Conversation
from companion.llm.embedded import Endpoint
from companion.memory.longterm import LongTermMemory
from companion.memory.store import MemoryStore
from companion.dialogue.persona import load_persona
from companion.records import Utterance
from companion.testing.stand_ins import Heard, Silent


def turn_numbers():
    """Hears each turn as "This is what I said in turn number N." """
    return Heard(f"This is what I said in turn number {n}." for n in itertools.count(1))


UTT = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)


def conversation(server, history_turns=2, prefill=False, heard=None, **kw):
    brain = Brain(LLMConfig(), Endpoint(server.base_url, "k", "m"))
    return Conversation(heard or turn_numbers(), brain, Silent(), load_persona("samantha"), history_turns=history_turns,
                        prefill_between_turns=prefill, **kw)


def test_history_is_trimmed_in_blocks_so_the_prompt_start_stays_the_same(scripted_llm):
    conv = conversation(scripted_llm, history_turns=2)
    for _ in range(7):
        conv.respond(UTT, NullSink())
    firsts = [r["messages"][1]["content"] if len(r["messages"]) > 2 and r["messages"][1]["role"] == "user" else None
              for r in scripted_llm.requests]
    # the oldest message sent stays put for several turns, then jumps (trimmed in one step)
    assert firsts[:6] == [None] + ["This is what I said in turn number 1."] * 4 + ["This is what I said in turn number 4."]
    assert all(len(r["messages"]) <= 2 + 2 * 2 * 2 + 2 for r in scripted_llm.requests)


def test_a_local_server_reads_the_history_between_turns(scripted_llm):
    conv = conversation(scripted_llm, prefill=True)
    conv.respond(UTT, NullSink())
    deadline = time.monotonic() + 5
    while len(scripted_llm.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    reply, prefill = scripted_llm.requests[:2]
    assert reply["stream"] is True and prefill.get("max_tokens") == 1
    # the prefill is exactly the start of the next request: persona, the history, the time and reminder
    assert [m["role"] for m in prefill["messages"]] == ["system", "user", "assistant", "system"]
    assert prefill["messages"][0]["content"] == load_persona("samantha").system_prompt
    assert prefill["messages"][3]["content"].startswith("It is ")
    assert prefill["messages"][3]["content"].endswith(load_persona("samantha").reminder)
    conv.respond(UTT, NullSink())
    nxt = scripted_llm.requests[2]
    assert nxt["messages"][:4] == prefill["messages"]
    assert [m["role"] for m in nxt["messages"][4:]] == ["user"]  # no memory: only the words are new


def wait_for(server, n):
    deadline = time.monotonic() + 5
    while len(server.requests) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.requests


def test_when_the_user_starts_speaking_in_a_new_minute_the_time_is_read_ahead(scripted_llm):
    now = [datetime(2026, 11, 25, 9, 30, 5)]
    conv = conversation(scripted_llm, prefill=True, clock=lambda: now[0])
    conv.respond(UTT, NullSink())
    wait_for(scripted_llm, 2)
    conv.settle()
    conv.ready_prompt()  # same minute: the server already has it
    time.sleep(0.2)
    assert len(scripted_llm.requests) == 2
    now[0] = datetime(2026, 11, 25, 9, 41, 0)
    conv.ready_prompt()
    ahead = wait_for(scripted_llm, 3)[2]
    assert ahead.get("max_tokens") == 1 and ahead["messages"][-1]["content"].startswith("It is Wednesday, November 25, 2026, 9:41 AM.")
    conv.settle()
    now[0] = datetime(2026, 11, 25, 9, 42, 10)  # the turn ends in the next minute: the line read ahead is kept
    conv.respond(UTT, NullSink())
    assert scripted_llm.requests[3]["messages"][:4] == ahead["messages"]


class Remembers:
    """Memory that knows one thing about the user and recalls one past turn."""

    def on_user_turn(self, text, now):
        return Recall("Possibly relevant, from earlier: the user said they like tea.")

    def standing(self, now, read_ahead=False):
        return "About the user: has a sister called Ana."

    def on_reply(self, turn, spoken):
        pass


def test_standing_memory_is_read_ahead_and_recalled_memories_come_just_before_the_words(scripted_llm):
    conv = conversation(scripted_llm, prefill=True, memory=Remembers())
    conv.respond(UTT, NullSink())
    conv.settle()
    msgs = scripted_llm.requests[0]["messages"]
    assert [m["role"] for m in msgs] == ["system", "system", "system", "system", "user"]
    assert msgs[1]["content"] == "About the user: has a sister called Ana." and msgs[2]["content"].startswith("It is ")
    assert msgs[3]["content"] == "Possibly relevant, from earlier: the user said they like tea."
    assert len(scripted_llm.requests) == 2
    ahead = scripted_llm.requests[1]["messages"]  # read between turns: all but what the words recall
    assert ahead[1]["content"] == "About the user: has a sister called Ana." and ahead[-1]["content"].startswith("It is ")
    assert [m["role"] for m in ahead[2:4]] == ["user", "assistant"]  # memory before the history, which grows


def test_what_memory_holds_about_the_user_is_read_between_turns_not_after_the_words(scripted_llm, tmp_path):
    store = MemoryStore(tmp_path / "memory.sqlite3")
    told = LongTermMemory(store, MemoryConfig())
    for said in ("My name is Theodore.", "I have a sister called Ana."):
        told.on_user_turn(said, datetime(2026, 11, 20, 9, 0))
    told.end_session(datetime(2026, 11, 20, 9, 5))
    conv = conversation(scripted_llm, prefill=True, memory=LongTermMemory(store, MemoryConfig()))
    conv.respond(UTT, NullSink())
    conv.settle()
    first, ahead = wait_for(scripted_llm, 2)[:2]
    standing = first["messages"][1]["content"]
    assert "name: Theodore" in standing and "sister: Ana" in standing
    conv.respond(UTT, NullSink())
    nxt = scripted_llm.requests[2]["messages"]
    assert nxt[:len(ahead["messages"])] == ahead["messages"]  # the server has read all of that already...
    assert ahead["messages"][1]["content"] == standing  # ...memory included, before the history
    assert [m["role"] for m in nxt[len(ahead["messages"]):]] == ["user"]  # only the words are new
    store.close()


def test_a_turn_that_teaches_a_fact_does_not_make_the_server_read_the_history_again(scripted_llm, tmp_path):
    told = Heard(["My name is Theodore.", "I have a sister called Ana.", "How are you?"])
    conv = conversation(scripted_llm, prefill=True, heard=told,
                        memory=LongTermMemory(MemoryStore(tmp_path / "memory.sqlite3"), MemoryConfig()))
    for turn in range(3):
        conv.respond(UTT, NullSink())
        conv.settle()
    reads = wait_for(scripted_llm, 6)
    for ahead, request in ((reads[1], reads[2]), (reads[3], reads[4])):
        assert request["messages"][:len(ahead["messages"])] == ahead["messages"]  # all read before the words
    assert "sister: Ana" in reads[5]["messages"][1]["content"]  # what was learned is read between turns
    conv.memory.store.close()


def test_no_prefill_for_a_remote_endpoint(scripted_llm):
    conv = conversation(scripted_llm, prefill=False)
    conv.respond(UTT, NullSink())
    time.sleep(0.3)
    assert len(scripted_llm.requests) == 1
