"""A reply in which the model may call the skills as tools: stream with the tools offered,
speak any text as it comes, run the calls, send their results back, and stream on, for a
few rounds at most (each round is another wait for the user).

An endpoint that refuses ``tools`` gets the same request without them, and no tools for
the rest of the session (logged once), so the user hears an answer either way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterator

from ..cancel import Cancel
from ..llm.client import ToolCall, ToolsRejected
from .tools import SkillTools

log = logging.getLogger(__name__)

TOOL_ROUNDS = 2  # then one last request without tools, for the spoken answer


class ToolLoop:
    def __init__(self, tools: SkillTools):
        self.tools = tools
        self.refused = False  # the endpoint refused tools: plain replies from now on

    def reply(self, brain, messages: list[dict], cancel: Cancel, now: datetime) -> Iterator[str]:
        """Text deltas of the spoken reply. Raises :class:`~companion.llm.client.BrainError` like
        ``Brain.stream`` when the endpoint fails."""
        if self.refused:
            yield from brain.stream(messages, cancel)
            return
        request = list(messages)
        for round_ in range(TOOL_ROUNDS + 1):
            offered = self.tools.definitions if round_ < TOOL_ROUNDS else None
            said, calls = [], []
            try:
                for item in brain.stream(request, cancel, tools=offered):
                    if isinstance(item, str):
                        said.append(item)
                        yield item
                    else:
                        calls = item
            except ToolsRejected as exc:
                yield from brain.stream(messages, cancel)  # raises on its own if the endpoint is down
                if not self.refused:
                    log.warning("%s; answering without tools for the rest of this session", exc)
                self.refused = True
                return
            if not calls or offered is None or cancel.cancelled:
                return
            if said and not said[-1][-1:].isspace():
                yield " "  # the words after the tools must not run into these
            request += self._run(calls, "".join(said), now)

    def _run(self, calls: list[ToolCall], said: str, now: datetime) -> list[dict]:
        """The assistant's tool-call message and one ``tool`` message per call, for the next request."""
        asked = {"role": "assistant", "content": said or None,
                 "tool_calls": [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                for c in calls]}
        return [asked, *({"role": "tool", "tool_call_id": c.id, "content": self.tools.call(c.name, c.arguments, now)}
                         for c in calls)]


def reply_stream(brain, skills: list, messages: list[dict], cancel: Cancel, now: datetime) -> Iterator[str]:
    """The reply's text deltas: through the tool loop when a skill router offers one, else plain."""
    loop = next((s.tools for s in skills if getattr(s, "tools", None) is not None), None)
    return brain.stream(messages, cancel) if loop is None else loop.reply(brain, messages, cancel, now)
