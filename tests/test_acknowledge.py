"""The acknowledgment ("Mm,") played from the opener cache while a slow voice makes the reply's
first piece: only when it fits, never twice the same in a row, never in what she said."""

from __future__ import annotations

import time

import numpy as np
import pytest

from companion.audio.sinks import NullSink
from companion.dialogue.acknowledge import acknowledgment_for
from companion.dialogue.conversation import Conversation
from companion.dialogue.persona import load_persona
from companion.llm.client import Brain
from companion.llm.embedded import Endpoint
from companion.ops.config import LLMConfig
from companion.records import Utterance
from companion.testing.scripted_llm import Reply, ScriptedLLM
from companion.testing.stand_ins import Heard

UTT = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)


class SlowCachedVoice:
    """A voice that takes ``make_s`` per piece, except the phrases in its cache; each piece's
    audio is a constant whose value says which piece it was (the sink can tell them apart)."""

    name, sample_rate, speed, volume, engine = "slow", 1000, 1.0, 1.0, "kokoro"

    def __init__(self, cache=("Mm,", "Hmm,", "Oh,", "Of course."), make_s=0.2):
        self.cache, self.make_s, self.made = set(cache), make_s, []

    def cached(self, text):
        return text.strip() in self.cache

    def synthesize(self, text):
        self.made.append(text)
        if not self.cached(text):
            time.sleep(self.make_s)
        yield np.full(100, (sum(map(ord, text)) % 97 + 1) / 100, np.float32)


class Recording(NullSink):
    def __init__(self):
        super().__init__()
        self.blocks = []

    def write(self, audio, rate):
        super().write(audio, rate)
        self.blocks.append((time.monotonic(), float(audio[0])))


def level(text):
    return float(np.float32((sum(map(ord, text)) % 97 + 1) / 100))


@pytest.mark.parametrize("first, expected", [
    ("That sounds like a lovely plan,", "Mm,"), ("I'm sorry to hear that.", "Oh,"),
    ("What kind of dog do you like?", "Hmm,"), ("I think pasta would be nice.", "Hmm,"),
    ("Oh, that's great.", None), ("Hi there!", None), ("Well,", None), ("Of course,", None), ("", None)])
def test_the_acknowledgment_fits_how_the_reply_begins(first, expected):
    assert acknowledgment_for(first) == expected


def test_never_the_same_acknowledgment_twice_in_a_row():
    assert acknowledgment_for("That sounds like a lovely plan,", last="Mm,") == "Hmm,"
    assert acknowledgment_for("I'm sorry to hear that.", last="Oh,") == "Mm,"


def reply_with(*texts):
    server = ScriptedLLM()
    for text in texts:
        server.enqueue(text)
    return server


def conversation(server, voice, acknowledge=True):
    brain = Brain(LLMConfig(), Endpoint(server.base_url, "k", "m"))
    return Conversation(Heard(["Hello there.", "And then?", "Right."]), brain, voice, load_persona("samantha"),
                        acknowledge=acknowledge)


def test_an_uncached_first_piece_is_acknowledged_at_once_and_kept_out_of_what_she_said():
    with reply_with("That sounds like a lovely plan, really.", "That sounds like fun.") as server:
        voice, sink = SlowCachedVoice(make_s=0.3), Recording()
        conv = conversation(server, voice)
        turn = conv.respond(UTT, sink)  # to "Hello there.": "Oh," (as in "Oh, hi!")
        assert [lvl for _, lvl in sink.blocks][:2] == [level("Oh,"), level("That sounds like a lovely plan,")]
        assert turn.reply_text == turn.heard_text == "That sounds like a lovely plan, really."
        assert "Oh" not in conv.history[-1]["content"]
        # the first sound came before the first words, which waited for the slow voice
        assert turn.timings.first_words >= turn.timings.first_audio + 0.25
        sink2 = Recording()
        conv.respond(UTT, sink2)  # "And then?": a question
        assert sink2.blocks[0][1] == level("Hmm,")


def thought_through(server, voice, first_piece):
    """A conversation that thought ahead about "Hello there." until ``first_piece`` was made."""
    from datetime import datetime

    from companion.dialogue.think_ahead import ThinkAhead
    from companion.records import Transcript

    brain = Brain(LLMConfig(), Endpoint(server.base_url, "k", "m"))
    now = datetime(2026, 12, 3, 10, 0)
    conv = Conversation(Heard(["Hello there."]), brain, voice, load_persona("samantha"), clock=lambda: now,
                        ahead=ThinkAhead(brain, voice), acknowledge=True)
    conv.think_ahead(Transcript("Hello there.", "en", 0.0))
    deadline = time.monotonic() + 5
    while first_piece not in voice.made:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return conv


def test_no_acknowledgment_when_the_reply_opens_with_one_or_is_cached_or_it_is_off():
    for text, first in [("Oh, I see. Tell me more.", "Oh,"), ("Of course. Here you are.", "Of course.")]:
        with reply_with(text) as server:
            voice, sink = SlowCachedVoice(make_s=0.05), Recording()
            turn = thought_through(server, voice, first).respond(UTT, sink)
            assert not {"Mm,", "Hmm,"} & set(voice.made), text
            assert turn.timings.first_words == pytest.approx(turn.timings.first_audio)
    with reply_with("That sounds like a lovely plan, really.") as server:
        voice, sink = SlowCachedVoice(make_s=0.05), Recording()
        turn = conversation(server, voice, acknowledge=False).respond(UTT, sink)
        assert not {"Mm,", "Hmm,", "Oh,"} & set(voice.made)
        assert turn.timings.first_words == pytest.approx(turn.timings.first_audio)


def test_a_reply_made_ahead_is_acknowledged_while_its_first_piece_is_still_being_made():
    with reply_with("That sounds like a lovely plan, really.") as server:
        voice, sink = SlowCachedVoice(make_s=0.6), Recording()
        conv = thought_through(server, voice, "That sounds like a lovely plan,")  # its first piece is being made
        turn = conv.respond(UTT, sink)
        assert turn.timings.thought_ahead is not None
        assert [lvl for _, lvl in sink.blocks][:2] == [level("Mm,"), level("That sounds like a lovely plan,")]
        assert turn.reply_text == "That sounds like a lovely plan, really."


@pytest.mark.parametrize("reply, first", [
    ("The ocean is a vast and mysterious place that has captivated people for centuries. It is deep.",
     "The ocean is a vast and mysterious place"),
    ("I think you should talk to him because he may not know how you feel.", "I think you should talk to him"),
    ("I'm sorry for your loss, I'm here for you.", "I'm sorry for your loss,"),  # a comma comes first
    ("Oh, that sounds like a wonderful idea and I love it.", "Oh,"),
    ("The weather forecast says it might rain on Saturday.", "The weather forecast says it might rain on Saturday."),
])
def test_a_slow_voice_gets_a_short_first_piece_cut_before_a_joining_word(reply, first):
    from companion.tts.chunking import speakable_chunks

    streamed = list(speakable_chunks([w + " " for w in reply.split()], first_words=4))
    whole = list(speakable_chunks([reply], first_words=4))
    assert streamed[0] == whole[0] == first
    assert " ".join(streamed) == reply  # nothing lost or added, only where the pieces end


@pytest.mark.parametrize("said, expected", [
    ("I had a rough day at work.", "Oh,"), ("What should I cook tonight?", "Hmm,"),
    ("Tell me something about the ocean.", "Hmm,"), ("I went for a walk by the river.", "Mm,"),
    ("Hi Samantha, how are you?", "Oh,"), ("Thanks, that helps.", "Mm,"), ("", None)])
def test_an_acknowledgment_at_once_is_chosen_from_the_users_words(said, expected):
    from companion.dialogue.acknowledge import acknowledgment_for_words

    assert acknowledgment_for_words(said) == expected
    if expected is not None:
        assert acknowledgment_for_words(said, last=expected) not in (None, expected)


def test_a_reply_not_yet_written_at_the_turns_end_is_acknowledged_at_once_and_a_lone_sound_is_not_stacked():
    """The model is slow to its first words: "Hmm," plays before any of them is written, and the
    reply's own opening "Oh," is then left out (not "Hmm, oh,")."""
    server = ScriptedLLM()
    server.enqueue(Reply("Oh, the ocean is deep and full of life.", first_token_delay=0.4))
    with server:
        voice, sink = SlowCachedVoice(make_s=0.3), Recording()
        brain = Brain(LLMConfig(), Endpoint(server.base_url, "k", "m"))
        conv = Conversation(Heard(["Tell me something about the ocean."]), brain, voice, load_persona("samantha"),
                            acknowledge=True)
        turn = conv.respond(UTT, sink)
        assert sink.blocks[0][1] == level("Hmm,")
        # at once, not after the model's first words (0.4 s to its first token, 0.3 s to make a piece)
        assert sink.blocks[1][0] - sink.blocks[0][0] >= 0.35
        assert level("Oh,") not in [lvl for _, lvl in sink.blocks]
        assert turn.heard_text == turn.reply_text == "the ocean is deep and full of life."
