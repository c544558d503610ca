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
    of the first two. Cancelling a DONE reply does nothing."""

    def __init__(self):
        super().__init__()
        self._state = ReplyState.THINKING
        self.text = ""  # what she has been given to say so far (the live loop knows her echo by it)

    @property
    def state(self) -> ReplyState:
        return self._state

    def speaking(self) -> None:
        with self._lock:
            if self._state is ReplyState.THINKING:
                self._state = ReplyState.SPEAKING

    def said(self, piece: str) -> None:
        """A piece of the reply went to the voice."""
        self.text = f"{self.text} {piece}".strip()

    def finish(self) -> bool:
        """The reply has ended: DONE unless it was cancelled first. True when DONE."""
        with self._lock:
            if self._state is not ReplyState.CANCELLED:
                self._state = ReplyState.DONE
            return self._state is ReplyState.DONE

    def _may_cancel(self) -> bool:
        if self._state in (ReplyState.DONE, ReplyState.CANCELLED):
            return False
        self._state = ReplyState.CANCELLED
        return True
