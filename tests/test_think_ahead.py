"""Thinking ahead: the reply starts from the words heard at the user's first pause, is taken
over when the turn ends with the same request, and is dropped, unplayed and unstored, when the
user goes on or the turn is not the model's to answer. Real Whisper and Piper; the scripted
server answers each request with what it was asked, so a reply shows which request it came from."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from companion.audio.files import read_audio
from companion.audio.sinks import WavSink
from companion.llm.client import Brain
from companion.ops.cli import main
from companion.ops.config import Config, LLMConfig, MemoryConfig
from companion.dialogue.conversation import Conversation
from companion.llm.embedded import Endpoint
from companion.memory import DB_NAME, MemoryStore
from companion.memory.longterm import LongTermMemory
from companion.dialogue.persona import load_persona
from companion.skills import build_skills
from companion.testing.scripted_llm import ScriptedLLM
from companion.dialogue.think_ahead import ThinkAhead
from companion.records import Transcript, Utterance
from companion.dialogue.voice_control import Preferences, VoiceControl

from companion.testing.checks import assert_spoken, pause_between, words

def answer(body: dict) -> str:
    """The reply names the words it answers, so the test can tell which request was spoken."""
    asked = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return f"You said {len(words(asked))} words. I heard you."


@pytest.fixture
def echo_llm():
    with ScriptedLLM(answer=answer) as server:
        yield server


@pytest.fixture
def conversation(echo_llm, transcriber, voice, companion_home):
    brain = Brain(LLMConfig(), Endpoint(echo_llm.base_url, "k", "m"))
    memory = LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig())
    return Conversation(transcriber, brain, voice, load_persona("samantha"), memory=memory,
                        skills=[build_skills(Config(), brain)], ahead=ThinkAhead(brain, voice),
                        control=VoiceControl(voice, Preferences(companion_home / "preferences.json")))


def utterance(audio) -> Utterance:
    end = len(audio) / 16000
    return Utterance(audio, 0.0, end, end + 0.4)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stored_turns(home) -> list[tuple[str, str]]:
    with sqlite3.connect(home / DB_NAME) as db:
        return db.execute("SELECT role, text FROM turns ORDER BY id").fetchall()


def test_the_reply_made_ahead_is_the_one_spoken(conversation, echo_llm, speech, transcriber, tmp_path, companion_home):
    audio = read_audio(speech("What should I cook for dinner tonight?"))
    conversation.think_ahead(transcriber.transcribe(audio))  # the first pause: the words so far
    wait_for(lambda: echo_llm.requests)
    time.sleep(0.3)  # the thought has its first clause synthesised by now; the turn is confirmed later
    turn = conversation.respond(utterance(audio), WavSink(tmp_path / "reply.wav"))
    assert len(echo_llm.requests) == 1  # the confirmed turn asked nothing more
    assert turn.reply_text == "You said 7 words. I heard you."
    assert turn.timings.thought_ahead > 0.2
    assert_spoken(tmp_path / "reply.wav", turn.reply_text, transcriber)
    assert stored_turns(companion_home) == [("user", turn.user_text), ("assistant", turn.reply_text)]


def test_going_on_after_the_pause_drops_the_reply_made_ahead(conversation, echo_llm, speech, tmp_path, companion_home):
    conversation.think_ahead(Transcript("I was thinking about going to the beach and", "en", 0.3))
    wait_for(lambda: echo_llm.requests)
    time.sleep(0.3)  # its reply is complete, waiting to be taken
    conversation.drop_thought()  # what the turn taker does when speech starts again
    full = read_audio(speech("I was thinking about going to the beach and maybe having a picnic."))
    turn = conversation.respond(utterance(full), WavSink(tmp_path / "reply.wav"))
    assert len(echo_llm.requests) == 2
    assert turn.reply_text == f"You said {len(words(turn.user_text))} words. I heard you."
    assert turn.timings.thought_ahead is None
    assert stored_turns(companion_home) == [("user", turn.user_text), ("assistant", turn.reply_text)]


def test_words_that_change_memory_are_not_answered_ahead(conversation, echo_llm, speech, transcriber, tmp_path):
    """The confirmed turn stores the fact first and recalls it: a reply made before would not
    know it, so none is asked for."""
    audio = read_audio(speech("My name is Peter."))
    conversation.think_ahead(transcriber.transcribe(audio))
    conversation.ahead._thought.built.wait(5)
    time.sleep(0.2)
    assert echo_llm.requests == []
    conversation.respond(utterance(audio), WavSink(tmp_path / "reply.wav"))
    (request,) = echo_llm.requests
    assert any("Peter" in m["content"] for m in request["messages"] if m["role"] == "system")


@pytest.mark.parametrize("said", ["What time is it?", "Remember that my sister is called Anna."])
def test_commands_are_left_to_the_confirmed_turn(conversation, echo_llm, speech, transcriber, tmp_path, said):
    audio = read_audio(speech(said))
    conversation.think_ahead(transcriber.transcribe(audio))
    if conversation.ahead.pending:  # a memory command is caught when the request is built
        conversation.ahead._thought.built.wait(5)
    time.sleep(0.2)
    assert echo_llm.requests == []
    turn = conversation.respond(utterance(audio), WavSink(tmp_path / "reply.wav"))
    assert echo_llm.requests == [] and not turn.reply_text.startswith("You said")


def test_a_skill_request_answered_ahead_by_the_model_is_not_spoken(conversation, echo_llm, speech, transcriber,
                                                                   tmp_path, companion_home):
    """Skills are recognised only when the turn is confirmed (their rules act on what they
    recognise), so the model may have started on the words: its reply is dropped."""
    audio = read_audio(speech("Remind me to call my sister tomorrow at six."))
    conversation.think_ahead(transcriber.transcribe(audio))
    wait_for(lambda: echo_llm.requests)
    turn = conversation.respond(utterance(audio), WavSink(tmp_path / "reply.wav"))
    assert "six" in turn.reply_text.lower() or "6" in turn.reply_text  # the reminder's read-back
    assert "You said" not in turn.reply_text and turn.timings.thought_ahead is None
    assert stored_turns(companion_home)[-1] == ("assistant", turn.reply_text)


def test_not_while_the_skills_are_offered_as_tools(tmp_path, speech, echo_llm):
    """A thought asks without tools, so it could never be the request the turn sends."""
    out = tmp_path / "out"
    assert main(["replay", str(speech("Tell me about the sea.")), "--out", str(out), "--set",
                 f"llm.base_url={echo_llm.base_url}", "--set", "conversation.think_ahead=on", "--set", "skills.tools=on"]) == 0
    (turn,) = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert turn["timings"]["thought_ahead"] is None and len(echo_llm.requests) == 1 and echo_llm.requests[0].get("tools")


def test_replay_with_a_mid_sentence_pause_speaks_only_the_reply_to_the_whole_turn(tmp_path, speech, echo_llm,
                                                                                companion_home):
    wav = pause_between(tmp_path, speech, "I was thinking about going to the beach and", "maybe having a picnic.", 1.0)
    out = tmp_path / "out"
    assert main(["replay", str(wav), "--out", str(out), "--set", f"llm.base_url={echo_llm.base_url}",
                 "--set", "conversation.think_ahead=on", "--set", "skills.tools=off"]) == 0  # (never with tools)
    (turn,) = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert words(turn["user_text"]) == words("I was thinking about going to the beach and maybe having a picnic.")
    assert turn["reply_text"] == "You said 13 words. I heard you."
    assert turn["timings"]["thought_ahead"] is not None  # thought ahead at the last pause, and taken over
    asked = [[m["content"] for m in r["messages"] if m["role"] == "user"][-1] for r in echo_llm.requests]
    assert words(asked[-1]) == words(turn["user_text"])  # a dropped thought, if it got as far as asking, came first
    assert [role for role, _ in stored_turns(companion_home)] == ["user", "assistant"]
