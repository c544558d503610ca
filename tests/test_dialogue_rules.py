"""What must be right whatever the model: questions about a life she does not have and requests
for what she cannot do (dialogue/honesty.py), "what was I just asking you?" from the
conversation's own turns, and her reply to words that teach a fact, made from the facts
learned (memory). Rules and the real SQLite memory; the real 135M model where marked slow."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from companion.audio.sinks import NullSink
from companion.dialogue.conversation import Conversation
from companion.dialogue.honesty import LIFE, Honesty, Limits
from companion.dialogue.persona import load_persona
from companion.memory import DB_NAME, MemoryStore, open_memory
from companion.memory.answers import asked_before
from companion.memory.longterm import LongTermMemory
from companion.ops.config import Config, LLMConfig, MemoryConfig, PersonaConfig
from companion.records import Utterance
from companion.testing.stand_ins import Heard, Silent

NOW = datetime(2026, 12, 3, 18, 0)
UTT = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)


@pytest.mark.parametrize("asked, topic", [
    ("Do you have a family?", "family"), ("Do you have any kids?", "family"), ("Are you married?", "family"),
    ("Where do you live?", "home"), ("Where are you from?", "home"),
    ("What did you do last weekend?", "days"), ("Good morning! Did you sleep well?", "days"),
    ("How was your day?", "days"), ("Do you have a body?", "body"), ("How old are you?", "body"),
    ("What do you do for a living?", "work"), ("Where do you work?", "work"),
])
def test_questions_about_a_life_she_does_not_have_get_an_honest_answer(asked, topic):
    reply = Honesty(load_persona("samantha", small=True)).handle(asked, NOW)
    assert reply == LIFE[topic] and reply.startswith("I'm an AI")


@pytest.mark.parametrize("other", ["Do you like music?", "What should we talk about?", "Where does my brother live?",
                                   "What did you think of the movie?", "How was my day, do you think?",
                                   "Did you know octopuses have three hearts?"])
def test_other_questions_about_her_go_to_the_model(other):
    assert Honesty(load_persona("samantha", small=True)).handle(other, NOW) is None


@pytest.mark.parametrize("asked, reply", [
    ("Can you order me a pizza?", "I can't order you a pizza; I'm only a voice on your computer."),
    ("Please turn on the lights in the kitchen.", "I can't turn on the lights in the kitchen;"),
    ("Can you call my mom for me?", "I can't call your mom for you;"),
    ("Send an email to my boss saying I'm sick.", "I can't send an email to your boss;"),
    ("Can you drive me to work tomorrow?", "I can't drive you to work tomorrow;"),
    ("Can you see me right now?", "I can't see anything; I can only hear your voice."),
])
def test_what_she_cannot_do_is_said_plainly_and_never_claimed_done(asked, reply):
    said = Limits().handle(asked, NOW)
    assert said.startswith(reply)
    assert "I've" not in said and "I will" not in said


@pytest.mark.parametrize("other", ["Call me Alex.", "Bring it on!", "Watch out!", "Can you tell me a joke?",
                                   "I want to call my mom.", "Remind me to call my mom at five."])
def test_words_that_ask_nothing_impossible_are_left_to_others(other):
    assert Limits().handle(other, NOW) is None


def test_a_reminder_or_an_event_is_still_the_skills_before_she_says_she_cannot(companion_home):
    """Limits is asked after the skills: "remind me to call mom" is a reminder, not a call."""
    from companion.runtime.app import Parts, new_conversation
    from companion.dialogue.voice_control import Preferences

    cfg = Config(llm=LLMConfig(base_url="http://127.0.0.1:9/v1"))
    persona = load_persona("samantha")
    parts = Parts(Heard(["Remind me to call my mom at five.", "Can you call my mom for me?"]), Silent(), None, persona,
                  None, Preferences(companion_home / "preferences.json"))
    talk = new_conversation(cfg, parts, None)
    first = talk.respond(UTT, NullSink()).reply_text
    second = talk.respond(UTT, NullSink()).reply_text
    assert "remind" in first.lower() and "call your mom" in first
    assert second.startswith("I can't call your mom for you")


@pytest.mark.parametrize("earlier, reply", [
    (["Tell me a fun fact about octopuses.", "Tell me another one."], "You asked me to tell you a fun fact about octopuses."),
    (["I'm thinking of planting tomatoes this spring."], "You said you're thinking of planting tomatoes this spring."),
    (["What's the capital of France?"], "You asked me what's the capital of France."),
    ([], "We've only just started talking, so you haven't asked me anything yet."),
])
def test_what_was_i_just_asking_is_answered_from_the_users_own_turns(earlier, reply):
    assert asked_before("What was I just asking you about?", earlier) == reply
    assert asked_before("What did I just say?", earlier) == reply
    assert asked_before("What was I saying about my sister?", earlier) is None  # memory's question, or the model's


def test_what_was_i_asking_reads_this_conversation_in_memory_never_her_replies(companion_home):
    memory = LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig())
    from companion.records import Turn

    for said, hers in (("Tell me a fun fact about octopuses.", "Octopuses have three hearts."),
                       ("Tell me another one.", "They taste with their arms.")):
        assert memory.on_user_turn(said, NOW).reply is None
        memory.on_reply(Turn(1, said, reply_text=hers, started_at=NOW.isoformat()), hers)
    assert memory.on_user_turn("What was I just asking you about?", NOW).reply == \
        "You asked me to tell you a fun fact about octopuses."


@pytest.fixture
def acknowledging(companion_home):
    m = LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig(), acknowledge=True)
    yield m
    m.store.close()


@pytest.mark.parametrize("said, reply", [
    ("My name is Alex.", "Nice to meet you, Alex."),
    ("My brother's name is Tom and he lives in Chicago.", "I'll remember that your brother Tom lives in Chicago."),
    ("My sister Susan lives in Boston.", "I'll remember that your sister Susan lives in Boston."),
    ("I have a dog called Biscuit.", "I'll remember that your dog is called Biscuit."),
    ("I work as a nurse.", "I'll remember that you work as a nurse."),
    ("I love jazz and hiking.", "I'll remember that you like jazz and hiking."),
    ("My name is Alex and I work as a nurse.", "Nice to meet you, Alex. I'll remember that you work as a nurse."),
])
def test_words_that_teach_a_fact_are_answered_from_the_facts_learned(acknowledging, said, reply):
    assert acknowledging.on_user_turn(said, NOW).reply == reply


def test_a_correction_is_said_back_and_nothing_else_is(acknowledging):
    acknowledging.on_user_turn("My sister Susan lives in Boston.", NOW)
    assert acknowledging.on_user_turn("Actually, Susan moved to Denver last month.", NOW).reply == \
        "I'll remember that Susan lives in Denver."
    for other in ("It's raining outside again.", "I have a dentist appointment on Friday.", "Do I have a sister?"):
        assert acknowledging.on_user_turn(other, NOW).reply is None, other


def test_only_a_small_model_gets_the_acknowledgement_a_capable_one_answers_itself(companion_home):
    small = open_memory(Config(), companion_home)
    assert small.acknowledge  # the embedded default
    assert not open_memory(Config(llm=LLMConfig(base_url="http://127.0.0.1:11434/v1")), companion_home).acknowledge
    assert open_memory(Config(llm=LLMConfig(base_url="http://127.0.0.1:11434/v1"), persona=PersonaConfig(compact="on")),
                       companion_home).acknowledge


@pytest.mark.slow
def test_on_the_embedded_default_the_rules_answer_and_the_135m_model_talks(companion_home):
    """The real 135M model in a real conversation: what must be right (the fact told, said back
    and answered; a life she has not; what she cannot do; the last question) is right, and
    what the model says elsewhere is short, no echo, no role prefix, never human."""
    from companion.dialogue.shaping import MAX_SENTENCES, problem, words
    from companion.dialogue.voice_control import Preferences
    from companion.llm.client import Brain, resolve_endpoint
    from companion.dialogue.shaping import stop_sequences
    from companion.runtime.app import Parts, new_conversation
    from companion.tts.chunking import speakable_chunks  # noqa: F401

    said = ["Hi Samantha, how are you today?", "My brother's name is Tom and he lives in Chicago.",
            "Where does my brother live?", "Do you have a family?", "Can you order me a pizza?",
            "Tell me a fun fact about octopuses.", "What was I just asking you about?", "What's the capital of France?"]
    cfg = Config()
    persona = load_persona("samantha", small=True)
    endpoint, server = resolve_endpoint(cfg.llm)
    try:
        brain = Brain(cfg.llm, endpoint, stop=stop_sequences(persona.name, embedded=True))
        parts = Parts(Heard(said), Silent(), brain, persona, server, Preferences(companion_home / "preferences.json"))
        talk = new_conversation(cfg, parts, None, replay=True)
        replies = [talk.respond(UTT, NullSink()) for _ in said]
    finally:
        server.close()
    text = [t.reply_text for t in replies]
    assert all(t.error is None for t in replies)
    assert text[1] == "I'll remember that your brother Tom lives in Chicago."
    assert text[2] == "Your brother Tom lives in Chicago."
    assert text[3] == LIFE["family"] and text[4].startswith("I can't order you a pizza")
    assert text[6] == "You asked me to tell you a fun fact about octopuses."
    for user, reply in zip(said, text):
        assert words(reply) and problem(reply, user) is None, (user, reply)
        assert reply.count(".") + reply.count("!") + reply.count("?") <= MAX_SENTENCES + 1, reply


def test_a_small_model_gets_a_follow_ups_context_inline():
    """A 135M model reads little of the history: "when should I start them?" carries the turn
    it leans on, and a turn that stands on its own is sent as it is. Only the compact persona."""
    from companion.contracts import Recall
    from companion.dialogue.prompt import Prompt, with_context

    before = [{"role": "user", "content": "I'm thinking of planting tomatoes this spring."},
              {"role": "assistant", "content": "Lovely."}]
    assert with_context("When should I start them?", before) == \
        "I'm thinking of planting tomatoes this spring. When should I start them?"
    assert with_context("Tell me another one.", [{"role": "user", "content": "Tell me a fun fact about octopuses."}]) == \
        "Tell me a fun fact about octopuses. Tell me another one."
    for alone in ("What's the capital of France?", "Thanks, that was nice.", "It's raining outside again."):
        assert with_context(alone, before) == alone
    small, full = load_persona("samantha", small=True), load_persona("samantha")
    assert small.compact and not full.compact
    for persona, sent in ((small, "I'm thinking of planting tomatoes this spring. When should I start them?"),
                          (full, "When should I start them?")):
        prompt = Prompt(persona, None)
        prompt.add_exchange(before[0]["content"], "Lovely.")
        assert prompt.messages("When should I start them?", Recall(), NOW)[-1]["content"] == sent


def test_no_reply_is_started_ahead_for_what_a_rule_answers(scripted_llm):
    """A thought started at the user's pause for "are you human?" would only be dropped: each
    dropped request left the embedded server a request to finish, and a replay of eight such
    turns never exited. Honesty and Limits are asked first, as they keep no state."""
    from companion.dialogue.think_ahead import ThinkAhead
    from companion.llm.client import Brain
    from companion.llm.embedded import Endpoint
    from companion.records import Transcript

    brain = Brain(LLMConfig(base_url=scripted_llm.base_url), Endpoint(scripted_llm.base_url, "k", "m"))
    ahead = ThinkAhead(brain, Silent())
    persona = load_persona("samantha", small=True)
    talk = Conversation(Heard([]), brain, Silent(), persona, skills=[Honesty(persona), Limits()], ahead=ahead)
    for said in ("Are you a human being?", "Do you have a family?", "Can you order me a pizza?"):
        talk.think_ahead(Transcript(said, "en", 0.0))
    assert ahead.started == 0
    talk.think_ahead(Transcript("Tell me about the sea.", "en", 0.0))
    assert ahead.started == 1
    ahead.drop()
