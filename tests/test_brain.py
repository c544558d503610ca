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


def _silent_endpoint():
    """A local endpoint that reads a request and never answers it (no headers): like the
    embedded server with the request queued behind another. Reports when the client hangs up."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    asked, hung_up = threading.Event(), threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            while conn.recv(65536):
                asked.set()  # the request, then nothing until the client closes
                pass
            hung_up.set()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1", asked, hung_up, listener


def test_a_dropped_request_is_cut_off_before_its_headers():
    """Cancelling a request that waits for its response headers closes its connection, so the
    server drops it too (the embedded server waited for such a request at shutdown, forever)."""
    url, asked, hung_up, listener = _silent_endpoint()
    with listener:
        brain = Brain(LLMConfig(read_timeout_s=30), Endpoint(url, "key", "m"))
        cancel = Cancel()
        threading.Thread(target=lambda: asked.wait(10) and cancel.cancel(), daemon=True).start()
        assert list(brain.stream(HI, cancel)) == []
        assert hung_up.wait(1.0)


def test_abort_requests_cuts_every_open_request():
    from companion.llm.client import abort_requests

    url, asked, hung_up, listener = _silent_endpoint()
    with listener:
        brain = Brain(LLMConfig(read_timeout_s=30), Endpoint(url, "key", "m"))
        reply = []
        reader = threading.Thread(target=lambda: reply.append(list(brain.stream(HI))), daemon=True)
        reader.start()
        assert asked.wait(10)
        assert abort_requests(url) == 1
        assert hung_up.wait(1.0)
        reader.join(2.0)
        assert not reader.is_alive()
