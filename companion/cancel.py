"""Stopping work in flight one way. A :class:`Cancel` runs the close actions registered on it
(an LLM stream's connection, a thought made ahead, the sink's playback) once each, from
whichever thread cancels; :func:`until_cancelled` reads what a worker thread produces until
its end or the cancel, waking at once on either (no polling)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Iterator

log = logging.getLogger(__name__)

_WAKE = object()  # put into a queue by a cancel, so its reader stops waiting


class Cancel:
    """A thread-safe, one-shot cancel with close actions. Never call :meth:`cancel` from a
    signal handler: close actions take other objects' locks (see ``runtime/app.graceful_stop``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._set = threading.Event()
        self._actions: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._set.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` seconds, waking when cancelled; True if cancelled."""
        return self._set.wait(timeout)

    def on_cancel(self, action: Callable[[], None]) -> None:
        """Run ``action`` when cancelled (at once, here, if already cancelled)."""
        with self._lock:
            if not self._set.is_set():
                self._actions.append(action)
                return
        _run(action)

    def cancel(self) -> bool:
        """Cancel and run each registered action once; False if it was already cancelled."""
        with self._lock:
            if not self._may_cancel():
                return False
            self._set.set()
            actions, self._actions = self._actions, []
        for action in actions:
            _run(action)
        return True

    def _may_cancel(self) -> bool:
        """Called under the lock: whether a cancel takes effect now."""
        return not self._set.is_set()


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # one failing close action must not keep the others from running
        log.exception("a close action failed while cancelling")


def until_cancelled(items: queue.Queue, cancel: Cancel, end: object) -> Iterator:
    """Yield what a worker thread puts into ``items`` until it puts ``end``; an exception put
    there is raised here. Returns quietly as soon as ``cancel`` is cancelled, even while the
    worker is silent (a slow endpoint), so a barge-in or Ctrl-C never waits on it."""
    cancel.on_cancel(lambda: items.put(_WAKE))
    while True:
        item = items.get()
        if cancel.cancelled or item is end:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
