"""One reply in flight and the one way to stop it. The live loop cancels it (barge-in,
push-to-talk, shutdown); what the reply opened registers how to close it: the LLM stream's
connection, a thought made ahead, the sink's playback. Its state says where it is, instead
of flags spread over the conversation and the loop."""

from __future__ import annotations

import enum

from ..cancel import Cancel


class ReplyState(enum.Enum):
    THINKING = "thinking"  # the request is being made or answered; nothing played yet
    SPEAKING = "speaking"  # the sink has been opened for the reply
    DONE = "done"  # played to the end (or failed and apologised): too late to cancel
    CANCELLED = "cancelled"  # stopped: whatever is still open was closed


class Reply(Cancel):
    """A :class:`Cancel` with a state: THINKING -> SPEAKING -> DONE, or CANCELLED from either
    of the first two. Cancelling a DONE reply does nothing.

    ``output`` (the sink the reply plays into) is stopped when the reply is cancelled, and
    held and let go by :meth:`pause` and :meth:`resume` (the user may be starting to talk):
    the one way the live loop stops or holds a reply. A reply that is over holds nothing, and
    one that ends while held lets its output go, so a pause never outlives its reply."""

    def __init__(self, output=None):
        super().__init__()
        self._state = ReplyState.THINKING
        self._output = output
        self._paused = False
        if output is not None:
            self.on_cancel(output.stop)  # queued audio dropped at once, whatever the reply is doing
        self.text = ""  # what she has been given to say so far (the live loop knows her echo by it)

    @property
    def state(self) -> ReplyState:
        return self._state

    @property
    def paused(self) -> bool:
        return self._paused

    def speaking(self) -> None:
        with self._lock:
            if self._state is ReplyState.THINKING:
                self._state = ReplyState.SPEAKING

    def pause(self) -> bool:
        """Hold the output where it is (before the first sample, too); False when the reply is
        over or already held."""
        with self._lock:  # the output's own lock is taken inside this one, never the other way
            if self._output is None or self._paused or self._state in (ReplyState.DONE, ReplyState.CANCELLED):
                return False
            self._paused = True
            self._output.pause()
            return True

    def resume(self) -> bool:
        """Go on from where :meth:`pause` held it; False when it was not held."""
        with self._lock:
            return self._let_go()

    @property
    def held(self) -> bool:
        """Paused by :meth:`pause` and not let go yet."""
        return self._paused

    def said(self, piece: str) -> None:
        """A piece of the reply went to the voice."""
        self.text = f"{self.text} {piece}".strip()

    def finish(self) -> bool:
        """The reply has ended: DONE unless it was cancelled first. True when DONE."""
        with self._lock:
            if self._state is not ReplyState.CANCELLED:
                self._state = ReplyState.DONE
            self._let_go()
            return self._state is ReplyState.DONE

    def _let_go(self) -> bool:
        if not self._paused:
            return False
        self._paused = False
        self._output.resume()
        return True

    def _may_cancel(self) -> bool:
        if self._state in (ReplyState.DONE, ReplyState.CANCELLED):
            return False
        self._state = ReplyState.CANCELLED
        self._paused = False  # stopping the output ends its pause
        return True
