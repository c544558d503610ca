"""Recorded user turns through the real pipeline (VAD, Whisper, LLM client, Piper) with a
scripted OpenAI-compatible server, so replies are deterministic."""

import errno
import json
import os
import signal
import socket
import threading
import time

import numpy as np
import pytest

from companion.audio.files import read_audio, write_wav
from companion.ops.cli import main
from companion.dialogue.persona import load_persona
from companion.testing.scripted_llm import Reply

from companion.testing.checks import assert_spoken, overlap, words

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


@pytest.mark.slow  # the real replay command: loads Whisper and the voice
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


def test_a_second_replay_into_the_same_folder_numbers_on(tmp_path, speech, scripted_llm, transcriber):
    scripted_llm.enqueue("The first answer is about apples.", "The second answer is about rivers.")
    out = tmp_path / "out"
    assert run_replay(out, [speech("Tell me about apples.")], scripted_llm.base_url) == 0
    assert run_replay(out, [speech("Tell me about rivers.")], scripted_llm.base_url) == 0
    first, second = read_turns(out)
    assert (first["index"], second["index"]) == (1, 2)
    assert (first["reply_audio"], second["reply_audio"]) == (str(out / "reply-001.wav"), str(out / "reply-002.wav"))
    assert_spoken(first["reply_audio"], "The first answer is about apples.", transcriber)  # not overwritten


def test_sigterm_mid_reply_exits_143_and_the_transcript_holds_only_what_was_written(tmp_path, speech, scripted_llm,
                                                                                     transcriber, caplog):
    reply = ("The sun comes up in the morning. We have lunch together at noon. The stars come out at night. "
             "Tomorrow we will walk down to the river. Then we can rest by the water.")
    scripted_llm.enqueue(Reply(reply, token_delay=0.25))
    inputs = [speech("Count the parts of the day for me."), speech("And what comes next?")]

    def stop_when_replying():
        deadline = time.monotonic() + 60
        while not scripted_llm.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3.5)  # a sentence in (shaping releases whole sentences): some audio made, not all
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_replying, daemon=True).start()
    out = tmp_path / "out"
    assert run_replay(out, inputs, scripted_llm.base_url) == 128 + signal.SIGTERM
    (turn,) = read_turns(out)  # the second file was not started
    assert turn["interrupted"] is True
    assert len(scripted_llm.requests) == 1
    assert "stopped by SIGTERM after 0 of 2 files and 1 turns (the last one cut short)" in caplog.text
    assert words(turn["heard_text"]) and len(words(turn["heard_text"])) < len(words(reply))
    assert turn["reply_audio"] == str(out / "reply-001.wav")
    heard = transcriber.transcribe(read_audio(turn["reply_audio"])).text
    assert overlap(turn["heard_text"], heard) >= 0.8 and overlap(heard, turn["heard_text"]) >= 0.8
    assert "water" not in words(heard)  # what was never made is neither in the file nor claimed


def test_a_reply_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path, speech, scripted_llm, monkeypatch,
                                                                         caplog):
    from companion.audio import sinks

    real, calls = sinks.write_wav, []

    def full_once(path, audio, rate):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, audio, rate)

    monkeypatch.setattr(sinks, "write_wav", full_once)
    scripted_llm.enqueue("First.", "Second.")
    out = tmp_path / "out"
    assert run_replay(out, [speech("Hello there."), speech("Are you there?")], scripted_llm.base_url) == 1
    first, second = read_turns(out)
    assert first["reply_text"] == "First." and first["reply_audio"] is None
    assert second["reply_text"] == "Second." and second["reply_audio"] == str(out / "reply-002.wav")
    assert not (out / "reply-001.wav").exists()
    assert f"could not write {out / 'reply-001.wav'} (No space left on device)" in caplog.text


@pytest.mark.slow  # the real replay command: loads Whisper and the voice
def test_silence_claims_no_transcript(tmp_path, scripted_llm, caplog):
    quiet = write_wav(tmp_path / "quiet.wav", np.zeros(32000, np.float32), 16000)
    out = tmp_path / "out"
    assert run_replay(out, [quiet], scripted_llm.base_url) == 0
    assert not (out / "transcript.jsonl").exists()
    assert "replayed 1 files, 0 turns, no transcript written" in caplog.text
