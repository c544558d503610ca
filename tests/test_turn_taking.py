"""End of turn from sound and words: a finished sentence ends sooner, a thought left hanging
("and", "um", a comma) gets more time, so slow speakers are not cut off."""

import json

import numpy as np
import pytest

from companion.audio.files import read_audio, write_wav
from companion.cli import main
from companion.turn_taking import end_silence_for, is_backchannel

from conftest import words


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


def pause_between(tmp_path, speech, first, second, pause_s):
    a, b = read_audio(speech(first, lead_s=0)), read_audio(speech(second, lead_s=0))
    audio = np.concatenate([np.zeros(4800, np.float32), a, np.zeros(int(pause_s * 16000), np.float32), b])
    return write_wav(tmp_path / "turn.wav", audio, 16000)


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


@pytest.mark.parametrize("text, expected", [
    ("Mm-hm.", True), ("MMA", True), ("Yeah.", True), ("Okay, right.", True), ("", True), ("Uh-huh", True),
    ("Wait.", False), ("Stop!", False), ("What about the mountains?", False), ("Yeah, but why is that?", False),
])
def test_backchannels_are_told_from_interruptions(text, expected):
    assert is_backchannel(text) is expected
