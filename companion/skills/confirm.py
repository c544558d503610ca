"""A destructive action the model asked for (through a tool) waits here for the user's own
"yes" on the next turn, heard by the deterministic layer: a model cannot cancel a reminder
or move an event on its own say-so, and a misheard "no" leaves everything as it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from .errors import SkillError
from .wording import is_no, is_yes


@dataclass(frozen=True)
class Pending:
    question: str  # what the user is asked, e.g. "Cancel the reminder to call Amy? Say yes to cancel it."
    act: Callable[[datetime], str]  # does it; returns what to say
    kept: str = "All right, I left it as it was."


class Confirmation:
    """One :class:`Pending` action at most; a skill in the router, heard first while it waits."""

    def __init__(self):
        self.pending: Pending | None = None

    @property
    def in_dialogue(self) -> bool:
        return self.pending is not None

    def ask(self, pending: Pending) -> str:
        self.pending = pending
        return pending.question

    def handle(self, text: str, now: datetime) -> str | None:
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        if is_yes(text):
            try:
                return pending.act(now)
            except SkillError:  # gone meanwhile (acknowledged, removed from the CLI)
                return "It's already gone."
        if is_no(text):
            return pending.kept
        return None  # something else entirely: nothing is done, the request is dropped
