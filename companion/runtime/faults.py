"""Storage faults said aloud, once each: with no screen, a full disk or a damaged memory file
is only noticed if she says so. She says it between turns (through the live loop's
announcer, after the reply that met the fault), so the reply itself is never replaced."""

from __future__ import annotations

from ..database import Fault

WHAT = {"memory.sqlite3": "my memory", "skills.sqlite3": "your reminders and drafts"}
LINES = {
    "full": "I can't save anything right now: the disk is full. I'll keep talking, but I won't remember what we say "
            "until some space is freed.",
    "locked": "Another program is holding {what}, so I may not have saved the last thing you said. "
              "Closing that program fixes it.",
    "corrupt": "The file with {what} was damaged, so I put it aside and started a fresh one. Nothing was deleted; "
               "companion doctor says how to rescue it.",
    "error": "Something went wrong saving {what}. I'll keep talking; the log has the details.",
}


class SpokenFaults:
    """Collects :class:`Fault` reports (a listener for ``database.faults_reported_to``) and
    hands each kind of fault on each database to the announcer once. Wraps the skills'
    announcements (``around``), which the announcer asks for in the same gaps."""

    def __init__(self):
        self.announcements = None
        self._pending: list[str] = []
        self._said: set[tuple[str, str]] = set()

    def __call__(self, fault: Fault) -> None:
        key = (fault.path.name, fault.kind)
        if key not in self._said:
            self._said.add(key)
            self._pending.append(LINES[fault.kind].format(what=WHAT.get(fault.path.name, "my notes")))

    def around(self, announcements) -> "SpokenFaults":
        self.announcements = announcements
        return self

    def _take(self) -> list[str]:
        lines, self._pending = self._pending, []
        return lines

    def start_announcements(self) -> list[str]:
        return self._take() + (self.announcements.start_announcements() if self.announcements else [])

    def due_announcements(self) -> list[str]:
        return self._take() + (self.announcements.due_announcements() if self.announcements else [])
