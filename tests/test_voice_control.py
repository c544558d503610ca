"""Voice commands by rules: matched robustly, never sent to the LLM, confirmed aloud."""

import json
from datetime import datetime, timedelta

import pytest

from companion.ops.cli import main
from companion.dialogue.voice_control import Preferences, VoiceControl, parse, wake_remainder

from companion.testing.checks import words

@pytest.mark.parametrize("text, kind", [
    ("Stop.", "stop"), ("Be quiet!", "stop"), ("Samantha, stop talking please.", "stop"),
    ("Say that again?", "repeat"), ("Um, could you repeat that?", "repeat"), ("What did you say?", "repeat"),
    ("Slower, please.", "slower"), ("Slow down.", "slower"), ("Faster", "faster"), ("Speak up!", "louder"),
    ("Louder.", "louder"), ("Softer.", "softer"), ("Not so loud.", "softer"), ("Go to sleep.", "sleep"),
    ("Mute.", "sleep"), ("Goodbye!", "goodbye"), ("Good night, Samantha.", "goodbye"),
    ("What time is it?", "time"), ("What's the time?", "time"), ("How long have we been talking?", "duration"),
    ("Go to slep.", "sleep"), ("Say that agan.", "repeat"),  # small transcription errors
])
def test_commands_are_recognised(text, kind):
    assert parse(text) == kind


@pytest.mark.parametrize("text", [
    "I need to stop smoking.", "My sister says I talk too fast.", "What time does the bakery open tomorrow?",
    "I couldn't sleep last night.", "Tell me a story about a goodbye.", "How long is the drive to Boston?", "",
])
def test_sentences_are_not_commands(text):
    assert parse(text) is None


@pytest.mark.parametrize("text, rest", [
    ("Hey Samantha.", ""), ("Hey, Samantha, what time is it?", "what time is it"), ("Hey Samanta!", ""),
    ("Samantha, are you there?", "are you there"), ("A Samantha.", ""), ("Hey there, how are you?", None),
    ("I was talking to my friend.", None),
])
def test_wake_phrase_is_found_at_the_start(text, rest):
    assert wake_remainder(text, "Hey Samantha") == rest


class FakeVoice:
    speed, volume = 1.0, 1.0

    def set_prosody(self, speed=None, volume=None):
        self.speed = speed if speed is not None else self.speed
        self.volume = volume if volume is not None else self.volume


def test_rate_and_volume_are_kept_across_restarts(tmp_path):
    prefs = Preferences(tmp_path / "preferences.json")
    voice = FakeVoice()
    control = VoiceControl(voice, prefs)
    now = datetime(2026, 11, 25, 15, 42)
    assert control.handle("Slower, please.", now) == "Okay, I'll speak more slowly."
    assert control.handle("Louder!", now) == "Okay, louder."
    assert voice.speed == pytest.approx(1 / 1.15, rel=1e-3) and voice.volume == pytest.approx(1.25)
    again = Preferences(tmp_path / "preferences.json")
    assert again.get("tts.speed", 1.0) == pytest.approx(0.87, abs=1e-3)
    assert (tmp_path / "preferences.json").stat().st_mode & 0o777 == 0o600


def test_sleep_wake_time_and_duration():
    cues = []
    control = VoiceControl(FakeVoice(), Preferences.__new__(Preferences), cue=cues.append)
    start = datetime(2026, 11, 25, 15, 0)
    assert control.admit("Hello there.", start) == "Hello there."
    assert control.handle("Go to sleep.", start).startswith("Okay, I'll be quiet. Say Hey Samantha")
    assert control.admit("What's the weather like?", start) is None
    woke = start + timedelta(minutes=5)
    assert control.admit("Hey Samantha, what time is it?", woke) == "what time is it"
    assert control.handle("what time is it", woke) == "It's 3:05 p.m."
    assert control.handle("How long have we been talking?", woke + timedelta(minutes=12)) == \
        "We've been talking for 12 minutes."
    assert cues == ["sleep", "listening"]


def test_sleep_and_wake_through_the_real_pipeline(tmp_path, speech, scripted_llm):
    scripted_llm.enqueue("It is sunny today.", "Hello again.")
    out = tmp_path / "out"
    inputs = [speech("What's the weather like?"), speech("Go to sleep."), speech("Tell me a joke."),
              speech("Hey Samantha, say that again."), speech("Please speak more slowly.")]
    assert main(["replay", *map(str, inputs), "--out", str(out), "--set", f"llm.base_url={scripted_llm.base_url}"]) == 0
    turns = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert [t["reply_text"] for t in turns] == [
        "It is sunny today.",
        "Okay, I'll be quiet. Say Hey Samantha when you need me.",
        "Okay, I'll be quiet. Say Hey Samantha when you need me.",  # "say that again" repeats her last words
        "Okay, I'll speak more slowly.",
    ]
    assert len(scripted_llm.requests) == 1  # commands never reach the LLM; the joke was asked while asleep
    assert words(turns[2]["user_text"])[-2:] == ["that", "again"]  # only what followed the wake phrase
