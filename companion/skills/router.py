"""One :class:`~companion.dialogue.conversation.Skill` in front of the LLM that holds reminders, the
calendar and letters: the deterministic intent layer. A skill in the middle of a dialogue
(a read-back, a question, an open letter) hears the next turn first; otherwise each skill
recognises its own requests by keywords and the date parser, in a fixed order."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime

from ..ops.logs import Words

log = logging.getLogger(__name__)


class SkillRouter:
    def __init__(self, skills: list, clock):
        self.skills = list(skills)
        self.clock = clock  # returns the current aware datetime; tests pass a controllable one
        self.tools = None  # a tool_loop.ToolLoop when the model may also call the skills as tools

    @property
    def in_dialogue(self) -> bool:
        """A skill is waiting for the user's answer (a read-back, a question, an open letter)."""
        return any(s.in_dialogue for s in self.skills)

    def handle(self, text: str, now: datetime) -> str | None:
        try:
            return self._handle(text, now)
        except sqlite3.Error:  # locked or full: the LLM answers instead (the database reports the fault)
            log.warning("the skills could not use their database for %r; the LLM answers instead", Words(text))
            return None

    def _handle(self, text: str, now: datetime) -> str | None:
        ordered = sorted(self.skills, key=lambda s: not s.in_dialogue)  # stable: the fixed order otherwise
        for skill in ordered:
            answer = skill.handle(text, now)
            if answer is not None:
                log.info("%s answered %r", type(skill).__name__, Words(text))
                return answer
        return None

    def due_announcements(self) -> list[str]:
        """What is due now and should be said between turns (each reminder at most twice)."""
        return [a for s in self.skills if hasattr(s, "due_announcements") for a in s.due_announcements(self.clock())]

    def start_announcements(self) -> list[str]:
        """What to say when she starts: reminders that came due while she was off, open drafts."""
        return [a for s in self.skills if hasattr(s, "start_announcements") for a in s.start_announcements(self.clock())]
