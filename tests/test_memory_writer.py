"""Memory writing by a capable model: JSON-schema constrained, validated against the user's
words, run off the reply path, and falling back to the rules when the model misbehaves."""

from __future__ import annotations

import json
import time
from datetime import datetime

from companion.llm.client import Brain
from companion.ops.config import LLMConfig, MemoryConfig
from companion.llm.embedded import Endpoint
from companion.memory import DB_NAME, MemoryStore
from companion.memory.longterm import LongTermMemory
from companion.memory.writer import LLMWriter, validate
from companion.testing.scripted_llm import Reply

NOW = datetime(2024, 3, 4, 9, 30)


def facts_json(*pairs):
    return json.dumps({"facts": [{"attribute": a, "value": v} for a, v in pairs]})


def memory_with_model(companion_home, server):
    store = MemoryStore(companion_home / DB_NAME)
    brain = Brain(LLMConfig(base_url=server.base_url, model="capable", read_timeout_s=5, max_retries=0),
                  Endpoint(server.base_url, "x", "capable"))
    return LongTermMemory(store, MemoryConfig(), LLMWriter(store, brain.client, "capable")), store


def test_model_facts_are_written_in_the_background_and_validated(companion_home, scripted_llm):
    said = "Ugh, long week. Anyway my brother Jonas finally got me into bouldering, which I love."
    scripted_llm.enqueue(Reply(facts_json(("brother", "Jonas"), ("likes", "bouldering"), ("lives_in", "Paris")),
                               first_token_delay=1.0), "He told you about Jonas and bouldering.")
    memory, store = memory_with_model(companion_home, scripted_llm)
    started = time.perf_counter()
    memory.on_user_turn(said, NOW)
    assert time.perf_counter() - started < 0.5  # the model's second of thinking is not the user's wait
    memory.end_session(NOW)  # waits for the writer, then asks for a summary
    current = {(f.attribute, f.value, f.origin) for f in store.facts()}
    # Paris was never said; "my brother Jonas" the rules had already stored
    assert current == {("brother", "Jonas", "rule"), ("likes", "bouldering", "llm")}
    extract, summary = scripted_llm.requests
    assert extract["response_format"]["type"] == "json_schema"
    assert extract["response_format"]["json_schema"]["schema"]["required"] == ["facts"]
    assert extract["messages"][-1]["content"] == said
    assert "User: " + said in summary["messages"][-1]["content"]
    assert store.summary(1) == "He told you about Jonas and bouldering."


def test_broken_json_from_the_model_keeps_the_rule_facts(companion_home, scripted_llm):
    scripted_llm.enqueue('{"facts": [{"attribute": "name", "val', Reply(status=500))
    memory, store = memory_with_model(companion_home, scripted_llm)
    memory.on_user_turn("My name is Theodore and I live in Boston.", NOW)
    memory.end_session(NOW)
    assert {(f.attribute, f.value, f.origin) for f in store.facts()} == {("name", "Theodore", "rule"),
                                                                          ("lives_in", "Boston", "rule")}
    assert store.summary(1) is None


def test_validation_keeps_only_known_attributes_and_the_users_words():
    raw = json.dumps({"facts": [{"attribute": "sister", "value": "Anna"}, {"attribute": "ssn", "value": "Anna"},
                                {"attribute": "job", "value": "astronaut"}, {"attribute": "likes", "value": ""},
                                "junk"]})
    assert validate(raw, "My sister Anna says hi.") == [("sister", "Anna")]
