"""A clock that only moves when told to: tests (and scripted sessions) pass ``clock`` to the
skills and the conversation instead of sleeping until a reminder comes due."""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime, e.g. datetime(..., tzinfo=ZoneInfo('Europe/Berlin'))")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
