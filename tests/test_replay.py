"""Recorded user turns through the real pipeline (VAD, Whisper, LLM client, Piper) with a
scripted OpenAI-compatible server, so replies are deterministic."""

import json
import socket

import numpy as np
import pytest

from companion.audio.files import write_wav
from companion.ops.cli import main
from companion.dialogue.persona import load_persona
from companion.testing.scripted_llm import Reply

from companion.testing.checks import assert_spoken, words

def run_replay(out, inputs, base_url, *extra):
    return main(["replay", *map(str, inputs), "--out", str(out), "--set", f"llm.base_url={base_url}", *extra])


def read_turns(out):
    return [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]


def test_two_turns_any_rate_and_channels(tmp_path, speech, scripted_llm, transcriber):
    turn1 = speech("Hi Samantha, my name is Theodore.", rate=48000, stereo=True)
    turn2 = speech("What should I cook for dinner tonight?", rate=16000)
    replies = ["Hello Theodore, it is lovely to meet you. How has your day been?",
               "How about a warm bowl of pasta with tomatoes and basil?"]
    scripted_llm.enqueue(*replies)
    out = tmp_path / "out"
    assert run_replay(out, [turn1, turn2], scripted_llm.base_url) == 0

    turns = read_turns(out)
    assert [words(t["user_text"]) for t in turns] == [words("Hi Samantha, my name is Theodore."),
                                                      words("What should I cook for dinner tonight?")]
    assert [t["reply_text"] for t in turns] == replies
    for t in turns:
        assert t["error"] is None
        assert set(t["timings"]) >= {"endpoint_wait", "stt", "llm_first_token", "first_sentence", "tts_first_audio",
                                     "voice_to_voice"}
        assert all(t["timings"][k] > 0 for k in ("stt", "llm_first_token", "first_sentence", "voice_to_voice"))
        assert_spoken(t["reply_audio"], t["reply_text"], transcriber)

    first, second = scripted_llm.requests
    assert first["stream"] is True
    assert first["messages"][0]["role"] == "system"
    assert load_persona("samantha").system_prompt in first["messages"][0]["content"]
    # the second request carries the first exchange as history
    # (persona, what memory holds about the user, history, time and reminder, the words)
    assert [m["role"] for m in second["messages"]] == ["system", "system", "user", "assistant", "system", "user"]
    assert "About the user:" in second["messages"][1]["content"]
    assert second["messages"][3]["content"] == replies[0]


def test_unusable_files_are_named_and_others_still_processed(tmp_path, speech, scripted_llm, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 100)
    missing = tmp_path / "missing.wav"
    scripted_llm.enqueue("Of course.")
    out = tmp_path / "out"
    code = run_replay(out, [empty, garbage, missing, speech("Can you hear me?")], scripted_llm.base_url)
    err = capsys.readouterr().err
    assert code == 1
    assert f"{empty}: the file is empty" in err
    assert f"{garbage}: cannot be read as audio" in err
    assert f"{missing}: no such file" in err
    assert [t["reply_text"] for t in read_turns(out)] == ["Of course."]


def test_silence_and_noise_send_no_turn(tmp_path, scripted_llm):
    rng = np.random.default_rng(1)
    quiet = write_wav(tmp_path / "quiet.wav", np.zeros(32000, np.float32), 16000)
    hiss = write_wav(tmp_path / "hiss.wav", (rng.standard_normal(48000) * 0.01).astype(np.float32), 16000)
    out = tmp_path / "out"
    assert run_replay(out, [quiet, hiss], scripted_llm.base_url) == 0
    assert scripted_llm.requests == []
    assert not (out / "transcript.jsonl").exists() or read_turns(out) == []


@pytest.mark.parametrize("failure", [Reply(status=500), Reply("too late", first_token_delay=2.5),
                                     Reply("this reply is cut off half way", truncate_after=3)])
def test_endpoint_failure_gives_spoken_apology_and_keeps_listening(tmp_path, speech, scripted_llm, transcriber,
                                                                   failure):
    scripted_llm.enqueue(failure, "I'm back now.")
    out = tmp_path / "out"
    inputs = [speech("Please tell me something funny."), speech("Are you still there?")]
    assert run_replay(out, inputs, scripted_llm.base_url, "--set", "llm.read_timeout_s=1",
                      "--set", "llm.max_retries=0") == 0
    first, second = read_turns(out)
    apology = load_persona("samantha").apology
    assert first["error"]
    assert first["reply_text"].endswith(apology)
    assert words(first["user_text"]) == words("Please tell me something funny.")
    assert_spoken(first["reply_audio"], apology, transcriber)
    assert second["error"] is None and second["reply_text"] == "I'm back now."
    # the user's first words are still in the history sent with the next request
    assert any(words(m["content"]) == words("Please tell me something funny.") for m in scripted_llm.requests[-1]["messages"])


def test_endpoint_down(tmp_path, speech):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    out = tmp_path / "out"
    assert run_replay(out, [speech("Hello?")], f"http://127.0.0.1:{port}/v1", "--set", "llm.max_retries=0") == 0
    (turn,) = read_turns(out)
    assert "cannot reach" in turn["error"]
    assert turn["reply_text"] == load_persona("samantha").apology


def test_markdown_and_emoji_are_not_spoken(tmp_path, speech, scripted_llm):
    scripted_llm.enqueue("**Sure thing!** 😊 Here are some ideas:\n- a walk\n- a nap")
    out = tmp_path / "out"
    assert run_replay(out, [speech("Any ideas for the afternoon?")], scripted_llm.base_url) == 0
    (turn,) = read_turns(out)
    assert turn["reply_text"] == "Sure thing! Here are some ideas: a walk a nap"
