"""The one way to stop a reply: close actions run once each, whoever cancels and however
often; a reader of a worker's queue wakes at once; a reply's state says where it is."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from companion.cancel import Cancel, until_cancelled
from companion.dialogue.reply import Reply, ReplyState


def test_each_close_action_runs_once_even_when_many_threads_cancel():
    cancel, ran = Cancel(), []
    for name in ("stream", "thought", "sink"):
        cancel.on_cancel(lambda name=name: ran.append(name))
    start = threading.Barrier(8)
    results = []

    def hammer():
        start.wait()
        results.append(cancel.cancel())

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ran) == ["sink", "stream", "thought"]
    assert results.count(True) == 1 and cancel.cancelled


def test_an_action_registered_after_the_cancel_runs_at_once_and_a_failing_one_stops_nothing():
    cancel, ran = Cancel(), []
    cancel.on_cancel(lambda: 1 / 0)
    cancel.on_cancel(lambda: ran.append("after the failure"))
    cancel.cancel()
    cancel.on_cancel(lambda: ran.append("late"))
    assert ran == ["after the failure", "late"]


def test_the_reader_wakes_at_once_on_cancel_while_the_worker_is_silent():
    items, cancel = queue.Queue(), Cancel()
    items.put("first")
    threading.Timer(0.2, cancel.cancel).start()
    start = time.monotonic()
    assert list(until_cancelled(items, cancel, end=None)) == ["first"]
    assert time.monotonic() - start < 0.3


def test_the_reader_ends_at_the_end_mark_and_raises_what_the_worker_failed_with():
    items = queue.Queue()
    for item in ("a", "b", None):
        items.put(item)
    assert list(until_cancelled(items, Cancel(), end=None)) == ["a", "b"]
    items.put("a")
    items.put(RuntimeError("the endpoint went away"))
    with pytest.raises(RuntimeError, match="went away"):
        list(until_cancelled(items, Cancel(), end=None))


def test_a_reply_goes_thinking_speaking_done_and_a_done_reply_cannot_be_cancelled():
    reply, ran = Reply(), []
    reply.on_cancel(lambda: ran.append("sink stopped"))
    assert reply.state is ReplyState.THINKING
    reply.speaking()
    assert reply.state is ReplyState.SPEAKING
    assert reply.finish() and reply.state is ReplyState.DONE
    assert not reply.cancel() and not reply.cancelled and ran == []


def test_a_cancelled_reply_stays_cancelled():
    reply = Reply()
    reply.speaking()
    assert reply.cancel() and reply.state is ReplyState.CANCELLED
    reply.speaking()
    assert not reply.finish() and reply.state is ReplyState.CANCELLED


class Output:
    """A sink as the reply handle uses it: it records what it was told."""

    def __init__(self):
        self.calls = []

    def pause(self):
        self.calls.append("pause")

    def resume(self):
        self.calls.append("resume")

    def stop(self):
        self.calls.append("stop")


def test_a_reply_holds_and_lets_go_of_its_output_and_cancelling_stops_it():
    out = Output()
    reply = Reply(out)
    assert reply.pause() and not reply.pause()  # held once, however often the loop asks
    assert reply.paused and reply.resume() and not reply.resume()
    reply.pause()
    reply.cancel()
    assert out.calls == ["pause", "resume", "pause", "stop"]
    assert not reply.paused and not reply.resume()  # stopping ended the pause


def test_a_pause_never_outlives_its_reply():
    """Speech that starts as she finishes must not hold the next reply: a reply that is over
    holds nothing, and one that ends while held lets its output go."""
    out = Output()
    reply = Reply(out)
    reply.speaking()
    reply.pause()
    assert reply.finish() and out.calls == ["pause", "resume"] and not reply.paused
    assert not reply.pause() and out.calls == ["pause", "resume"]
