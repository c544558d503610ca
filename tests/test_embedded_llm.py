"""The default, embedded LLM for real: SmolLM2 on the in-process llama.cpp server."""

import json
import os
import threading
from pathlib import Path

import openai
import pytest

from companion.llm.client import Brain, resolve_endpoint
from companion.ops.cli import main
from companion.ops.config import LLMConfig
from companion.llm.embedded import NICE

pytestmark = pytest.mark.slow  # the real llama.cpp server and model

from companion.testing.checks import assert_spoken, words

@pytest.fixture(scope="module")
def embedded():
    endpoint, server = resolve_endpoint(LLMConfig())
    yield endpoint
    server.close()


def test_binds_loopback_with_a_random_key(embedded):
    assert embedded.base_url.startswith("http://127.0.0.1:")
    assert len(embedded.api_key) >= 24
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=embedded.base_url, api_key="wrong", max_retries=0).models.list()


def _thread_nice_values() -> dict[int, int]:
    """Nice value of each of this process's threads (Linux keeps one per thread)."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            out[int(task.name)] = int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])
        except FileNotFoundError:  # a thread that ended while we looked (the reply's stream reader)
            continue
    return out


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_server_threads_yield_the_cpu_to_speech(embedded):
    """The model writes ahead of playback; its threads must not take the CPU from Piper and
    Whisper, so they run at a lower priority than the rest of the process."""
    "".join(Brain(LLMConfig(), embedded).stream([{"role": "user", "content": "Hi."}]))  # its workers exist now
    nice = _thread_nice_values()
    mine = nice[threading.get_native_id()]
    lowered = [tid for tid, n in nice.items() if n >= mine + NICE]
    assert len(lowered) >= 2, nice  # the server's HTTP, slot and compute threads
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the caller's own thread is left alone


def test_streams_a_reply(embedded):
    text = "".join(Brain(LLMConfig(), embedded).stream([{"role": "user", "content": "Say hello to Theodore."}]))
    assert len(words(text)) >= 2


def test_replay_with_embedded_defaults(tmp_path, speech, transcriber):
    out = tmp_path / "out"
    # greedy decoding, so the reply (and this test) is the same on every run
    assert main(["replay", str(speech("Hello Samantha, how are you today?")), "--out", str(out),
                 "--set", "llm.temperature=0"]) == 0
    (turn,) = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert turn["error"] is None
    assert words(turn["user_text"]) == words("Hello Samantha, how are you today?")
    assert len(words(turn["reply_text"])) >= 2
    assert_spoken(turn["reply_audio"], turn["reply_text"], transcriber)
