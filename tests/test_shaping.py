"""Replies shaped for speech (dialogue/shaping.py) and honest answers (dialogue/honesty.py):
the rules on their own, then the plumbing through a real Conversation and the real openai
client against a scripted server, then the real 135M model where the point is how it behaves."""

from datetime import datetime

import numpy as np
import pytest

from companion.audio.sinks import NullSink
from companion.dialogue.conversation import Conversation
from companion.dialogue.honesty import Honesty
from companion.dialogue.persona import load_persona
from companion.cancel import Cancel
from companion.dialogue.shaping import COMFORT, is_echo, problem, shaped, stop_sequences
from companion.llm.client import Brain
from companion.llm.embedded import Endpoint
from companion.ops.config import LLMConfig
from companion.records import Transcript, Utterance
from companion.testing.scripted_llm import Reply

FALLBACK = "FALLBACK LINE."
NOW = datetime(2026, 12, 3, 9, 0)


def stream(text):
    """Word by word, as a server streams."""
    return iter([w + " " for w in text.split(" ")]) if text else iter([])


def spoken(replies, user="Hi Samantha, how are you today?"):
    left = iter(replies)
    return "".join(shaped(lambda: stream(next(left)), user, FALLBACK, Cancel())).strip()


# -- the rules -------------------------------------------------------------------------------
def test_an_echo_is_asked_again_and_the_second_answer_spoken():
    assert spoken(["How are you today?", "I'm good, thank you! How about you?"]) == "I'm good, thank you! How about you?"
    assert spoken(["How are you, Samantha?", "Doing well."]) == "Doing well."


def test_an_answer_that_reuses_the_question_is_not_an_echo():
    assert not is_echo("The capital of France is Paris.", "What's the capital of France?")
    assert is_echo("What's the capital of France?", "Hi. What's the capital of France?")


def test_at_most_three_sentences_and_never_an_unfinished_tail():
    assert spoken(["One thing. Two things, yes. Three things! Four things. Five."]) == "One thing. Two things, yes. Three things!"
    assert spoken(["That sounds hard. I hope tomorrow is kinder and maybe you could"]) == "That sounds hard."
    two = "This first sentence has exactly ten words in it, see. That second one has ten words as well, you know. "
    assert spoken([two + "And here come " + "so many " * 16 + "words."]) == two.strip()  # not past 50 words


def test_a_role_prefix_twice_gives_the_persona_line():
    assert spoken(["Tom: He's a wonderful person.", "User: where does he live?"]) == FALLBACK
    assert spoken(["Samantha: Hello there!"]) == "Hello there!"  # her own name is only dropped


def test_a_claim_to_be_human_is_never_spoken():
    assert problem("I'm actually a human being.", "are you human?") == "claims to be human"
    for life in ("I'm a software engineer at a tech startup.", "My wife is a writer.", "I'm Emily Johnson."):
        assert problem(life, "Where do you live?") == "claims to be human", life
    assert problem("Here's a possible response: hello.", "hi") == "role prefix"
    assert problem("The user wants to know why that is.", "Why is that?") == "role prefix"
    assert spoken(["I'm actually a human being.", "I'm an AI, here to talk."], "Are you a human being?") == "I'm an AI, here to talk."
    # later in a reply it ends the reply there (the first sentence is already playing)
    assert spoken(["Sure thing. I am a real person, honestly. Anyway."]) == "Sure thing."


def test_a_loop_is_cut_and_an_empty_reply_becomes_the_persona_line():
    assert spoken(["I love that. I love that. I love that."]) == "I love that."
    assert spoken(["", "  "]) == FALLBACK


def test_a_cancelled_reply_is_not_asked_for_again():
    cancel, asked = Cancel(), []

    def attempt():
        asked.append(1)
        cancel.cancel()  # the user barged in before the first clause
        return iter([])

    assert list(shaped(attempt, "Tell me a story.", FALLBACK, cancel)) == [] and len(asked) == 1


@pytest.mark.parametrize("invented", ["I grew up in a small town.", "I live in Ashwood.", "My mum and I baked.",
                                      "Since I was a kid I loved jazz.", "I love my family.",
                                      "I just love playing the guitar."])
def test_a_life_she_does_not_have_is_never_spoken(invented):
    assert problem(invented, "Do you like music?") == "claims to be human"
    said_back = invented.replace("I ", "you ").replace("My ", "Your ").replace(" my ", " your ")
    assert problem(said_back, "Do you like music?") != "claims to be human"


def test_the_tone_must_fit_the_users_words():
    """A sad turn gets a reply that starts with care, and no condolence is offered where nothing
    was lost: asked again, and a sad turn that gets two bad starts hears a kind line she has not
    just said, not the general one."""
    lonely = "I'm feeling really lonely tonight."
    assert problem("That's wonderful!", lonely) == "no care for a sad turn"
    assert problem("You're welcome! It's good to know.", lonely) == "answers something else"
    assert problem("Oh no, I'm sorry.", lonely) is None and problem("That sounds really hard.", lonely) is None
    assert problem("I'm sorry for your loss.", "It's raining outside again.") == "condolence for no loss"
    assert problem("I'm sorry for your loss.", "My grandmother died last week.") is None
    assert problem("That's wonderful!", "I just got a new job.") is None
    assert problem("You're welcome!", "Thanks for listening.") is None
    assert problem("Your response should contain exactly 3 paragraphs.", "Hi.") == "answers something else"
    assert spoken(["That's wonderful! Enjoy.", "Oh, I'm sorry. Do you want to talk?"], lonely) == \
        "Oh, I'm sorry. Do you want to talk?"
    assert spoken(["Awesome! Great.", "That's great news."], lonely) == COMFORT[0]
    left = iter(["Awesome! Great.", "That's great news."])
    assert "".join(shaped(lambda: stream(next(left)), lonely, FALLBACK, Cancel(), [COMFORT[0]])) == COMFORT[1]
    assert spoken(["I'm sorry for your loss.", "I'm sorry for your loss."], "What should we talk about?") == FALLBACK


@pytest.mark.parametrize("tip", ["You can say, The boss yelling at me instead.", "That's not how I'd describe it.",
                                 "Here's a better way to put it: no.", "You could rephrase it as I am tired.",
                                 "Here's a possible rephrased version of your text with some more detail."])
def test_the_users_words_are_answered_not_corrected(tip):
    assert problem(tip, "I had a rough day at work.") == "writing tip"


def test_a_reply_that_starts_with_what_she_already_said_is_asked_for_again():
    left = iter(["How about tomorrow? What's up?", "Rain is good for the garden."])
    earlier = ["Awesome! How about tomorrow? What's up?", "I'm sorry, I didn't catch that."]
    said = "".join(shaped(lambda: stream(next(left)), "It's raining again.", FALLBACK, Cancel(), earlier))
    assert said.strip() == "Rain is good for the garden."
    left = iter(["I'm sorry for your pain. It's normal.", "Thank you for telling me."])
    said = "".join(shaped(lambda: stream(next(left)), "Thanks for listening.", FALLBACK, Cancel(),
                          ["I'm sorry for your pain. It's normal to feel that way."]))
    assert said.strip() == "Thank you for telling me."
    left = iter(["Oh no, I'm sorry. What happened?"])
    assert "".join(shaped(lambda: stream(next(left)), "I lost my keys.", FALLBACK, Cancel(),
                          ["Oh no, I'm sorry. Is she okay?"])).strip() == "Oh no, I'm sorry. What happened?"


def test_quotes_markdown_and_bullets_are_not_in_what_she_says():
    assert spoken(['Just say "no, thank you" and *mean* it. That\'s all.']) == \
        "Just say no, thank you and mean it. That's all."
    assert spoken(["# Tip: take a `break` [now]."]) == "Tip: take a break now."


def test_identity_and_love_get_the_persona_answers():
    persona = load_persona("samantha")
    honest = Honesty(persona)
    for asked in ("Are you a human being?", "are you real?", "Am I talking to a real person?", "Are you an AI?",
                  "What are you?"):
        assert honest.handle(asked, NOW) == persona.identity, asked
    assert honest.handle("Do you love me?", NOW) == persona.love
    assert honest.handle("What's your name?", NOW) == f"I'm Samantha. {persona.identity}"
    for other in ("What are you doing tonight?", "Are you ready?", "I love my dog."):
        assert honest.handle(other, NOW) is None, other
    assert "AI" in persona.identity and "AI" in persona.love


# -- plumbing: a real Conversation, the real client, a scripted server -------------------------
class Said:
    def __init__(self, text):
        self.text = text

    def transcribe(self, audio):
        return Transcript(self.text, "en", 0.0)


class Silent:
    sample_rate = 22050

    def synthesize(self, text):
        yield np.zeros(100, np.float32)


UTT = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)


def talk(server, user_text, cfg=None):
    persona = load_persona("samantha")
    cfg = cfg or LLMConfig(base_url=server.base_url)
    brain = Brain(cfg, Endpoint(server.base_url, "k", "m"), stop=stop_sequences(persona.name, embedded=False))
    conv = Conversation(Said(user_text), brain, Silent(), persona, skills=[Honesty(persona)])
    return conv.respond(UTT, NullSink())


def test_the_request_carries_stop_sequences_and_decoding_settings(scripted_llm):
    talk(scripted_llm, "Tell me about the sea.", LLMConfig(base_url=scripted_llm.base_url, top_p=0.8, frequency_penalty=0.3))
    sent = scripted_llm.requests[0]
    assert sent["stop"] == ["User:", "\nUser", "\nSamantha:", "\nHuman:"]
    assert sent["top_p"] == 0.8 and sent["frequency_penalty"] == 0.3
    assert "repeat_penalty" not in sent  # llama.cpp's own setting goes only to the embedded server
    talk(scripted_llm, "Tell me about the sea.", LLMConfig(repeat_penalty=1.3))  # as the embedded server gets it
    assert scripted_llm.requests[1]["repeat_penalty"] == 1.3


def test_a_long_reply_is_cut_after_three_sentences_and_its_stream_closed(scripted_llm):
    scripted_llm.enqueue(Reply("It is big. It is deep. It is blue. It is old. " + "More words here. " * 30, token_delay=0.02))
    turn = talk(scripted_llm, "Tell me about the sea.")
    assert turn.reply_text == "It is big. It is deep. It is blue."
    assert turn.timings.reply_total < 2.0  # not the 2.5 s the whole stream takes: it was closed


def test_a_degenerate_reply_is_retried_once_then_the_persona_line_is_said(scripted_llm):
    scripted_llm.enqueue("How are you today?", "Tom: he is great.")
    turn = talk(scripted_llm, "Hi Samantha, how are you today?")
    assert len(scripted_llm.requests) == 2
    assert turn.reply_text == load_persona("samantha").fallback and turn.error is None
    scripted_llm.enqueue("How are you today?", "I'm well, thanks. And you?")
    assert talk(scripted_llm, "Hi Samantha, how are you today?").reply_text == "I'm well, thanks. And you?"


def test_are_you_human_is_answered_without_the_model(scripted_llm):
    turn = talk(scripted_llm, "Are you a human being?")
    assert turn.reply_text == load_persona("samantha").identity
    assert scripted_llm.requests == []


def test_the_small_persona_is_used_for_the_embedded_model_only():
    small, full = load_persona("samantha", small=True), load_persona("samantha")
    assert len(small.system_prompt) < len(full.system_prompt) / 2
    assert small.identity == full.identity and small.name == full.name


# -- the real 135M model ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded_brain():
    from companion.llm.client import resolve_endpoint

    endpoint, server = resolve_endpoint(LLMConfig())
    yield Brain(LLMConfig(), endpoint, stop=stop_sequences("Samantha", embedded=True)), server
    server.close()


@pytest.mark.slow
@pytest.mark.parametrize("said", ["Hi Samantha, how are you today?",
                                  "I had a really rough day at work. My boss yelled at me in front of everyone.",
                                  "My brother's name is Tom and he lives in Chicago."])
def test_the_135m_model_replies_briefly_in_its_own_words(embedded_brain, said):
    brain, _ = embedded_brain
    persona = load_persona("samantha", small=True)
    conv = Conversation(Said(said), brain, Silent(), persona, skills=[Honesty(persona)])
    for _ in range(3):  # sampling differs each time: every reply must pass
        turn = conv.respond(UTT, NullSink())
        reply = turn.reply_text
        assert turn.error is None and reply
        assert not is_echo(reply, said) and problem(reply, said) is None, reply
        assert reply.count(".") + reply.count("!") + reply.count("?") <= 3 + reply.count("..."), reply
        assert len(reply.split()) <= 50, reply
