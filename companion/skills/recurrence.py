"""The dates on which a repeating calendar event (RRULE, imported from another calendar
app) happens within a window, so "what's my week like?" finds every weekly meeting, not only
the first one. EXDATEs are left out, and so are occurrences that another VEVENT with the
same UID replaces (RECURRENCE-ID), since that one is listed on its own."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo


def starts(ev, first: datetime, lo: datetime, hi: datetime, tz: tzinfo,
           replaced: frozenset[datetime] = frozenset()) -> list[datetime]:
    """Start times of ``ev`` (whose first start is ``first``, aware) from ``lo`` to ``hi``
    inclusive; just ``[first]`` for an event that does not repeat."""
    if "rrule" not in ev:
        return [first]
    from dateutil.rrule import rrulestr

    rules = ev.get("rrule")
    found: set[datetime] = set()
    for rule in rules if isinstance(rules, list) else [rules]:
        text = rule.to_ical().decode()
        try:  # aware: an UNTIL in UTC works, and wall-clock times hold across daylight saving
            found.update(rrulestr(text, dtstart=first).between(lo, hi, inc=True))
        except ValueError:  # a floating UNTIL beside a zoned start: read both as wall-clock time
            naive = rrulestr(text, dtstart=first.replace(tzinfo=None), ignoretz=True)
            wall = [lo.astimezone(first.tzinfo).replace(tzinfo=None), hi.astimezone(first.tzinfo).replace(tzinfo=None)]
            found.update(d.replace(tzinfo=first.tzinfo) for d in naive.between(*wall, inc=True))
    skip = set(replaced) | {aware(d.dt, tz) for d in _dates(ev.get("exdate"))}
    return sorted(s for s in found if s not in skip)


def _dates(prop) -> list:
    if prop is None:
        return []
    return [d for p in (prop if isinstance(prop, list) else [prop]) for d in p.dts]


def aware(value: date | datetime, tz: tzinfo) -> datetime:
    """A date as local midnight, a floating time as the user's."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time()).replace(tzinfo=tz)
    return value if value.tzinfo else value.replace(tzinfo=tz)
