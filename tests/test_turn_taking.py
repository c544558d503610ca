"""End of turn from sound and words: a finished sentence ends sooner, a thought left hanging
("and", "um", a comma) gets more time, so slow speakers are not cut off."""

import json

import numpy as np
import pytest

from companion.audio.files import read_audio
from companion.ops.cli import main
from companion.ops.config import VADConfig
from companion.hearing.endpointer import EndpointSettings, Endpointer
from companion.hearing.turn_taking import (TurnTaker, asks_to_stop, end_silence_for, is_backchannel, is_own_echo,
                                          someone_else_talks)
from companion.records import Frame, Transcript

from companion.testing.checks import pause_between, words
from companion.testing.stand_ins import TranscriberOnly

@pytest.mark.parametrize("text, expected", [
    ("What time is it?", 400),
    ("I think that's all.", 400),
    ("I was thinking about the beach and", 1500),
    ("I was thinking about the beach, and um.", 1500),
    ("So, my sister,", 1500),
    ("Let me think...", 1500),
    ("I want to go to the.", 1500),
    ("okay", 600),
    ("", 600),
])
def test_end_silence_follows_the_words(text, expected):
    assert end_silence_for(text, 600, 400, 1500) == expected


def replay_turns(tmp_path, wav, base_url):
    out = tmp_path / "out"
    assert main(["replay", str(wav), "--out", str(out), "--set", f"llm.base_url={base_url}"]) == 0
    return [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]


def test_a_pause_after_and_does_not_cut_the_user_off(tmp_path, speech, scripted_llm):
    wav = pause_between(tmp_path, speech, "I was thinking about going to the beach and", "maybe having a picnic.", 1.0)
    turns = replay_turns(tmp_path, wav, scripted_llm.base_url)
    assert len(turns) == 1
    assert words(turns[0]["user_text"]) == words("I was thinking about going to the beach and maybe having a picnic.")


def test_the_same_pause_after_a_finished_question_ends_the_turn(tmp_path, speech, scripted_llm):
    wav = pause_between(tmp_path, speech, "What time is it?", "Also, is it going to rain?", 1.0)
    turns = replay_turns(tmp_path, wav, scripted_llm.base_url)
    assert [words(t["user_text"]) for t in turns] == [words("What time is it?"), words("Also, is it going to rain?")]
    # a finished sentence was answered after the short silence, not the default one
    assert turns[0]["timings"]["endpoint_wait"] < 0.5


class SlowTranscriber:
    """Reads a tentative turn as ``text``, but only ``delay_s`` (audio time) after it was asked:
    a CPU busy with other work."""

    def __init__(self, text, delay_s):
        self.text, self.delay_s, self.now, self.asked_at = text, delay_s, 0.0, None

    def prefetch(self, audio):
        self.asked_at = self.now

    def guess(self, wait=False):
        if self.asked_at is None or self.now - self.asked_at < self.delay_s:
            return None
        return Transcript(self.text, "en", self.delay_s)


def turns_heard(audio, transcriber):
    taker = TurnTaker(Endpointer(EndpointSettings.from_config(VADConfig())), TranscriberOnly(transcriber), VADConfig())
    found = []
    for i in range(0, len(audio) - 511, 512):
        transcriber.now = i / 16000
        found += taker.feed(Frame(audio[i:i + 512], i / 16000))
    return found


@pytest.mark.parametrize("delay_s", [0.2, 0.9])
def test_a_pause_after_and_is_held_open_even_when_its_words_come_late(tmp_path, speech, delay_s):
    """At 0.9 s the transcription arrives after the default 0.6 s silence: the turn waits for
    it instead of closing (the reply needs those words anyway), then gets the long silence."""
    wav = pause_between(tmp_path, speech, "I was thinking about going to the beach and", "maybe having a picnic.", 1.0)
    audio = np.concatenate([read_audio(wav), np.zeros(2 * 16000, np.float32)])
    heard = turns_heard(audio, SlowTranscriber("I was thinking about going to the beach and", delay_s))
    assert len(heard) == 1 and heard[0].duration > 3.0


def test_a_finished_sentence_still_ends_as_soon_as_its_words_are_read(tmp_path, speech):
    wav = pause_between(tmp_path, speech, "What time is it?", "Also, is it going to rain?", 1.2)
    audio = np.concatenate([read_audio(wav), np.zeros(2 * 16000, np.float32)])
    heard = turns_heard(audio, SlowTranscriber("What time is it?", 0.7))
    assert len(heard) == 2
    assert heard[0].decided_at - heard[0].speech_end < 1.0  # about when the words were read, not the long silence


@pytest.mark.parametrize("text, expected", [
    ("Mm-hm.", True), ("MMA", True), ("Yeah.", True), ("Okay, right.", True), ("", True), ("Uh-huh", True),
    ("Wait.", False), ("Stop!", False), ("What about the mountains?", False), ("Yeah, but why is that?", False),
])
def test_backchannels_are_told_from_interruptions(text, expected):
    assert is_backchannel(text) is expected


# -- her own voice, heard back through open speakers --------------------------------------------
HER = ("The sea is wide and deep and old, and it has carried ships and stories for longer than anyone "
       "remembers, from the first small boats to the great ships of today.")


@pytest.mark.parametrize("heard", [
    "the sea is wide and deep",
    "The see is wide and deep.",  # Whisper's near misses
    "the see is white and deep",
    "carried ships and stories",
    "Ships and stories for longer than any one.",  # a word split in two
    "carried ship sand stories",
    "And old, and it has",
    "from the first small boat",  # cut at the edge of the sound
    "The great ships of to",
    "The sea is wide and deep. Thank you.",  # and Whisper's favourite ending
    "the sea",
])
def test_her_own_words_heard_back_are_echo(heard):
    assert is_own_echo(heard, HER)


@pytest.mark.parametrize("heard", [
    "Wait, stop.",
    "stop",
    "No, I meant the mountains.",
    "What is the sea like?",  # her topic, not her words
    "Why is the sea so deep?",
    "How old is the sea?",
    "Tell me about the ships instead.",
    "the sea is wide, tell me more",  # her words, then the user's own
    "the sea is wide. Wait, what about the mountains?",
    "Thank you.",
    "",
])
def test_other_words_are_not_echo(heard):
    assert not is_own_echo(heard, HER)


def test_a_stop_word_of_hers_said_alone_is_still_the_user():
    assert not is_own_echo("Wait.", "Wait and see what happens next at the bus stop.")
    assert not is_own_echo("Stop!", "Wait and see what happens next at the bus stop.")
    assert is_own_echo("wait and see what happens", "Wait and see what happens next at the bus stop.")


def test_nothing_said_yet_means_no_echo():
    assert not is_own_echo("the sea is wide", "")


# what Whisper made of her echo with no echo gate (tests/test_barge_in.py, open speakers), and a
# user talking over it: the first must not stop her at once, the second must
OCEAN = ("The ocean covers most of our planet and holds more life than we can imagine. "
         "Near the surface, sunlight feeds plants that make the air we breathe, and whales sing across miles.")
FOREST = "Forests are full of quiet life, from mosses on the ground to birds high in the branches."


@pytest.mark.parametrize("heard, said", [
    ("Thomas, some might feed plants.", OCEAN),
    ("and we'll sing across", OCEAN),
    ("The old horse", OCEAN),
    ("Browns.com", FOREST),
    ("For us are full", FOREST),
    ("Riot Life from Mossism", FOREST),
    ("Why?", FOREST),
    ("Samantha, so make the airweep.", OCEAN),  # "sunlight feeds plants that make the air we..."
    ("No the surface sunlight feeds plants", OCEAN),
])
def test_a_garbled_piece_of_her_echo_is_neither_a_stop_nor_another_voice(heard, said):
    assert not asks_to_stop(heard, said) and not someone_else_talks(heard, said)


@pytest.mark.parametrize("heard", [
    "It's high in the brand stop.",  # "...high in the branches", then the user's "Wait, stop"
    "Wait.",
    "Hang on a second.",  # ("hang" is not her "and")
    "Hold on, the mountains.",  # ("hold" is not her "old")
    "Okay, enough about trees.",
])
def test_a_word_asking_her_to_stop_is_heard_inside_her_echo_too(heard):
    assert asks_to_stop(heard, FOREST)


def test_her_own_stop_words_do_not_stop_her():
    assert not asks_to_stop("wait and see at the bus stop", "Wait and see what happens next at the bus stop.")


def test_four_words_in_a_row_that_are_none_of_hers_are_another_voice():
    assert someone_else_talks("Oh, tell me about the mountain.", FOREST)
    assert not someone_else_talks("from mosses on the ground to birds", FOREST)
