"""Whisper on real speech: the fitted short window hears the same words as the full one
(also with the English-only tiny.en), and a transcription started at the first pause is reused when the turn is confirmed."""

import dataclasses

import numpy as np
import pytest

from companion.audio.files import read_audio
from companion.ops.config import STTConfig
from companion.stt import load_transcriber

from companion.testing.checks import words

pytestmark = pytest.mark.slow  # real Whisper models and Piper speech

SENTENCES = [
    "Hi.",
    "Are you still there?",
    "What should I cook for dinner tonight?",
    "Remind me to call my sister tomorrow morning.",
    "I moved to Boston last week and I really love walking along the harbor in the evening.",
]


@pytest.fixture(scope="module")
def full_window(model_cache):
    return load_transcriber(dataclasses.replace(STTConfig(), short_window=False), model_cache)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_short_window_hears_what_the_full_window_hears(sentence, speech, transcriber, full_window):
    audio = read_audio(speech(sentence))
    short = transcriber.transcribe(audio)
    full = full_window.transcribe(audio)
    assert words(short.text) == words(full.text) == words(sentence)


@pytest.fixture(scope="module")
def tiny_en(model_cache):
    return load_transcriber(STTConfig(model="bundled:tiny.en"), model_cache)


@pytest.mark.parametrize("sentence", SENTENCES[1:4])
def test_english_only_tiny_hears_the_words_in_the_short_window(sentence, speech, tiny_en):
    """tiny.en has no language or task token: the short window's prompt must still fit it."""
    audio = read_audio(speech(sentence))
    assert words(tiny_en.recognizer._short_window(audio)) == words(sentence)
    assert words(tiny_en.transcribe(audio).text) == words(sentence)


def test_long_turn_uses_the_full_window(speech, transcriber):
    sentence = "The morning was quiet and the coffee was warm."
    audio = read_audio(speech(sentence))
    audio = np.concatenate([audio, np.zeros(16000 * 14, np.float32)])  # longer than a short window covers
    assert words(transcriber.transcribe(audio).text) == words(sentence)


def test_prefetched_transcription_is_reused_only_for_the_same_audio(speech, transcriber):
    audio = read_audio(speech("Good morning, how are you?"))
    transcriber.prefetch(audio)
    first = transcriber.transcribe(audio)
    assert words(first.text) == words("Good morning, how are you?")
    transcriber.prefetch(audio)
    assert transcriber.transcribe(audio) is not first  # a new guess, not a stale cache
    transcriber.prefetch(audio[: len(audio) // 2])  # the user went on: the guess is discarded
    assert words(transcriber.transcribe(audio).text) == words("Good morning, how are you?")


def test_silence_is_not_taken_for_a_turn(transcriber):
    """Whisper invents "you" on silence; the conversation must not treat that as speech.
    (Noise never reaches Whisper: the endpointer drops it, see test_listen and test_replay.)"""
    from companion.dialogue.conversation import is_meaningful

    assert not is_meaningful(transcriber.transcribe(np.zeros(32000, np.float32)).text)


@pytest.mark.slow
@pytest.mark.parametrize("short", [True], ids=["fitted window"])  # the 30 s window still hears "Niamh" as "They've"
def test_names_memory_knows_are_heard_as_said(short, speech, model_cache):
    """Without hints Whisper base hears "Niamh" and "Siobhan" as other words (see
    benchmarks/stt_hints.py); with the names as hints it spells them, and a turn without
    them is heard the same as before. (The English-only tiny.en takes no hints: see
    test_an_english_only_model_takes_no_hints.)"""
    stt = load_transcriber(STTConfig(model="bundled:base", short_window=short), model_cache)
    named = {"Niamh called me about the wedding.": "Niamh", "I had coffee with Siobhan this morning.": "Siobhan"}
    plain = read_audio(speech("What should I cook for dinner tonight?"))
    try:
        stt.set_hints([])
        unhinted = {s: stt.transcribe(read_audio(speech(s))).text for s in named}
        stt.set_hints(["Susan", "Niamh", "Biscuit", "Siobhan", "Zoë"])
        hinted = {s: stt.transcribe(read_audio(speech(s))).text for s in named}
        assert words(stt.transcribe(plain).text) == words("What should I cook for dinner tonight?")
    finally:
        stt.set_hints([])
    assert not any(name in unhinted[s] for s, name in named.items()), unhinted  # the point of hints
    assert all(name in hinted[s] for s, name in named.items()), hinted


@pytest.mark.slow
def test_an_english_only_model_takes_no_hints(speech, tiny_en):
    """tiny.en given a prompt wrote the turn twice ("Can you hear me now? Can you hear me
    now?"); it takes no hints, and a turn written twice is decoded again in the full window."""
    audio = read_audio(speech("Can you hear me now?"))
    try:
        tiny_en.set_hints(["Samantha", "Susan"])
        heard = tiny_en.transcribe(audio).text
    finally:
        tiny_en.set_hints([])
    assert words(heard) == words("Can you hear me now?")


def test_a_decode_cut_short_is_heard_again_in_the_full_window(speech, model_cache):
    """With names to listen for, the fitted window wrote only "Can" for this turn (the dialogue
    benchmark's spoken run); a decode with far fewer words than the audio is redone whole."""
    from companion.stt.whisper import _cut_short

    stt = load_transcriber(STTConfig(), model_cache)
    stt.recognizer.set_hints(["Samantha", "Robert", "Tom", "Susan"])
    for sentence in ("Can you drive me to work tomorrow?", "And how much water do they need?"):
        audio = read_audio(speech(sentence))
        assert words(stt.recognizer.transcribe(audio).text) == words(sentence)
    assert _cut_short("Can", 2.2) and _cut_short("", 1.9)
    assert not _cut_short("", 0.6) and not _cut_short("Yes.", 1.2) and not _cut_short("Um, I think so.", 2.5)
