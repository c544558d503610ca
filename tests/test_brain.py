"""The LLM client's timeouts, retries and cancellation, against a scripted endpoint."""

import threading
import time

import pytest

from companion.cancel import Cancel
from companion.llm.client import Brain, BrainError
from companion.ops.config import LLMConfig
from companion.llm.embedded import Endpoint
from companion.testing.scripted_llm import Reply

HI = [{"role": "user", "content": "hi"}]


def brain_for(server, **cfg):
    return Brain(LLMConfig(**cfg), Endpoint(server.base_url, "key", "scripted"))


def test_retries_a_server_error_then_answers(scripted_llm):
    scripted_llm.enqueue(Reply(status=503), "Hello again.")
    assert "".join(brain_for(scripted_llm, max_retries=1).stream(HI)) == "Hello again."
    assert len(scripted_llm.requests) == 2


def test_gives_up_after_max_retries(scripted_llm):
    scripted_llm.enqueue(Reply(status=500), Reply(status=500))
    with pytest.raises(BrainError, match="refused the request"):
        list(brain_for(scripted_llm, max_retries=1).stream(HI))
    assert len(scripted_llm.requests) == 2


def test_a_timeout_is_not_retried(scripted_llm):
    scripted_llm.enqueue(Reply("late", first_token_delay=1.5))
    start = time.monotonic()
    with pytest.raises(BrainError, match="did not answer within 0.5s"):
        list(brain_for(scripted_llm, max_retries=2, read_timeout_s=0.5).stream(HI))
    assert time.monotonic() - start < 1.4
    assert len(scripted_llm.requests) == 1


def test_a_client_error_is_not_retried(scripted_llm):
    scripted_llm.enqueue(Reply(status=401))
    with pytest.raises(BrainError):
        list(brain_for(scripted_llm, max_retries=2).stream(HI))
    assert len(scripted_llm.requests) == 1


def test_a_stream_cut_short_is_an_error(scripted_llm):
    scripted_llm.enqueue(Reply("one two three four five", truncate_after=2))
    with pytest.raises(BrainError, match="ended without finishing|broke off"):
        list(brain_for(scripted_llm).stream(HI))


def test_cancel_ends_a_request_waiting_for_a_slow_endpoint(scripted_llm):
    scripted_llm.enqueue(Reply("late", first_token_delay=5), "Next answer.")
    brain = brain_for(scripted_llm, read_timeout_s=30)
    cancel = Cancel()

    def stop_soon():
        time.sleep(0.3)
        cancel.cancel()

    threading.Thread(target=stop_soon).start()
    start = time.monotonic()
    assert list(brain.stream(HI, cancel)) == []  # quietly, no error: we asked for it
    assert time.monotonic() - start < 1.0
    assert "".join(brain.stream(HI)) == "Next answer."  # and the next request works


def test_dropping_one_request_leaves_the_other_going(scripted_llm):
    """A reply made ahead is dropped while the confirmed turn's request is on its way: only the
    dropped one may be closed (closing the shared client broke the other: "the client has been
    closed")."""
    scripted_llm.enqueue(Reply("one two three four five six seven eight", token_delay=0.05),
                         Reply("The real answer.", token_delay=0.05))
    brain = brain_for(scripted_llm)
    cancel = Cancel()
    ahead = brain.stream(HI, cancel)
    assert next(ahead)  # the thought is streaming
    results = []
    real = threading.Thread(target=lambda: results.append("".join(brain.stream(HI))))
    real.start()
    time.sleep(0.1)  # the real request is on its way
    cancel.cancel()
    assert list(ahead) == []
    real.join(10)
    assert results == ["The real answer."]
