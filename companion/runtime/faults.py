"""Faults said aloud, once each: with no screen, a full disk, a damaged memory file or a speech
server that stopped answering is only noticed if she says so. She says it between turns (through the live loop's
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

REMOTE_LINES = {  # (stage, whether the local one took over)
    ("speech recognition", True): "My speech recognition server isn't answering, so I'm listening with this computer "
                                  "for now. It may be a little slower.",
    ("speech recognition", False): "I can't reach my speech recognition server, so I can't understand you until "
                                   "it's back.",
    ("voice", True): "My voice server isn't answering, so I'm speaking with this computer's voice for now.",
    ("voice", False): "I can't reach my voice server.",
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

    def remote_down(self, stage: str, has_local: bool) -> None:
        """A speech server failed (``fallback.Outage.on_down``, once per outage)."""
        self._pending.append(REMOTE_LINES[(stage, has_local)])

    def watch(self, *stages) -> None:
        """Be told when any of these stages (a recogniser, a voice) loses its server."""
        for stage in stages:
            outage = getattr(stage, "outage", None)
            if outage is not None:
                outage.on_down = self.remote_down
                if outage.down:  # already down at start-up (its warm-up failed)
                    self.remote_down(outage.stage, outage.has_local)

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
