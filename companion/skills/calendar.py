"""The calendar: a standard iCalendar file (``calendar.ics`` in the data directory) that any
calendar app can import or subscribe to (:class:`CalendarFile`), and the voice requests that
read and change it (:class:`CalendarSkill`).

Events written here use UTC times (``DTSTART:...Z``), which every reader understands; events
imported from elsewhere are kept whole, with every property they had.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path

from ..errors import write_user_file
from .errors import SkillError
from .phrasing import count, join, say_clock, say_day, say_when, sentence_case
from .recurrence import aware, starts
from .timeparse import TimeError, When, check_ahead, find_when, local, normalize, without
from .wording import best_matches, is_no, is_yes, original_case, strip_edges

PRODID = "-//companion//Samantha//EN"


@dataclass(frozen=True)
class Event:
    uid: str
    title: str
    start: datetime  # aware; an all-day event starts at local midnight
    end: datetime
    all_day: bool = False

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    def spoken(self, now: datetime) -> str:
        start = self.start.astimezone(now.tzinfo)
        if self.all_day:
            return f"{self.title} {say_day(start, now)}"
        return f"{self.title} {say_when(start, now)}"


class CalendarFile:
    """Reads and writes one .ics file; each change is written whole and atomically (temporary
    file, fsync, rename), so a crash leaves either the old or the new calendar, never half."""

    def __init__(self, path: Path, tz: tzinfo):
        self.path, self.tz = Path(path), tz

    def _load(self):
        from icalendar import Calendar

        if not self.path.exists():
            cal = Calendar()
            cal.add("prodid", PRODID)
            cal.add("version", "2.0")
            return cal
        return _parse(self.path)

    def _save(self, cal) -> None:
        _with_timezones(cal)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".calendar-", suffix=".ics")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(cal.to_ical())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def events(self) -> list[Event]:
        events = [self._event(c) for c in self._load().walk("VEVENT")]
        return sorted((e for e in events if e is not None), key=lambda e: e.start)

    def between(self, start: datetime, end: datetime) -> list[Event]:
        """Every event, and every occurrence of a repeating one, that overlaps the window."""
        components = list(self._load().walk("VEVENT"))
        replaced = {}  # occurrences that a RECURRENCE-ID component lists on its own, by UID
        for c in components:
            if "recurrence-id" in c:
                replaced.setdefault(str(c.get("uid", "")), set()).add(aware(c.decoded("recurrence-id"), self.tz))
        found = []
        for c in components:
            first = self._event(c)
            if first is None:
                continue
            length = first.end - first.start
            for s in starts(c, first.start, start - length, end, self.tz, frozenset(replaced.get(first.uid, ()))):
                found.append(replace(first, start=s, end=s + length) if s != first.start else first)
        return sorted((e for e in found if e.overlaps(start, end)), key=lambda e: e.start)

    def conflicts(self, start: datetime, end: datetime, ignore: str | None = None) -> list[Event]:
        return [e for e in self.between(start, end) if e.uid != ignore and not e.all_day]

    def add(self, title: str, start: datetime | date, end: datetime | date, now: datetime) -> Event:
        from icalendar import Event as VEvent

        if not title.strip():
            raise SkillError("an event needs a title, e.g. 'lunch with Amy on Friday at 1 pm'")
        cal = self._load()
        ev = VEvent()
        ev.add("uid", f"{uuid.uuid4()}@companion")
        ev.add("dtstamp", now.astimezone(timezone.utc))
        ev.add("summary", title.strip())
        ev.add("dtstart", _utc(start))
        ev.add("dtend", _utc(end))
        cal.add_component(ev)
        self._save(cal)
        return self._event(ev)

    def move(self, uid: str, start: datetime) -> Event:
        cal = self._load()
        ev = self._find(cal, uid)
        old = self._event(ev)
        for key, value in (("dtstart", start), ("dtend", start + (old.end - old.start))):
            del ev[key]
            ev.add(key, _utc(value))
        self._save(cal)
        return self._event(ev)

    def remove(self, uid: str) -> Event:
        cal = self._load()
        ev = self._find(cal, uid)
        cal.subcomponents.remove(ev)
        self._save(cal)
        return self._event(ev)

    def import_file(self, source: Path) -> int:
        """Merge the events of another .ics file in (same UID: theirs replaces ours)."""
        theirs = list(_parse(Path(source)).walk("VEVENT"))
        for ev in theirs:
            if "dtstart" not in ev:  # no start: it could never be listed, moved or said
                raise SkillError(f"{source}: the event {str(ev.get('summary', '(untitled)'))!r} has no start time "
                                 "(DTSTART); nothing was imported. Give it a start in the app that made the file")
        cal = self._load()
        uids = {str(e.get("uid")) for e in theirs}
        cal.subcomponents[:] = [c for c in cal.subcomponents if str(c.get("uid")) not in uids or c.name != "VEVENT"]
        for ev in theirs:
            cal.add_component(ev)
        self._save(cal)
        return len(theirs)

    def export_file(self, target: Path) -> int:
        cal = _with_timezones(self._load())  # a calendar saved before they were added
        write_user_file(Path(target), cal.to_ical())
        return len(list(cal.walk("VEVENT")))

    def _find(self, cal, uid: str):
        for ev in cal.walk("VEVENT"):
            if str(ev.get("uid")) == uid:
                return ev
        raise SkillError(f"no event with id {uid} in {self.path}; 'companion calendar list' shows them")

    def _event(self, ev) -> Event | None:
        if "dtstart" not in ev:
            return None
        start = ev.decoded("dtstart")
        end = ev.decoded("dtend") if "dtend" in ev else None
        all_day = not isinstance(start, datetime)
        if all_day:
            start = datetime.combine(start, time()).replace(tzinfo=self.tz)
            end = datetime.combine(end, time()).replace(tzinfo=self.tz) if end else start + timedelta(days=1)
        else:
            start = start if start.tzinfo else start.replace(tzinfo=self.tz)  # floating time: the user's
            if end is None:
                end = start + (ev.decoded("duration") if "duration" in ev else timedelta(0))
            end = end if end.tzinfo else end.replace(tzinfo=self.tz)
        return Event(str(ev.get("uid", "")), str(ev.get("summary", "(untitled)")), start, end, all_day)


def _with_timezones(cal):
    """``cal`` with a VTIMEZONE for every TZID its events use (RFC 5545 requires them; an
    imported event keeps its own zone, and a reader without the block cannot place it)."""
    cal.add_missing_timezones()
    return cal


def _utc(value: datetime | date) -> datetime | date:
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else value


def _parse(path: Path):
    from icalendar import Calendar

    try:
        return Calendar.from_ical(path.read_bytes())
    except FileNotFoundError:
        raise SkillError(f"{path} does not exist; give the path of an .ics file") from None
    except (ValueError, IndexError) as exc:
        raise SkillError(f"{path} is not a valid iCalendar (.ics) file ({exc})") from None


_ADD = re.compile(r"^(?:(?:please|can you|could you)\s+)?(?:put|add|schedule|book|reserve|pencil in|create|set up|make)\s+")
# what only the place itself can book: she puts it on the calendar and says she cannot book it
_BOOKING = re.compile(r"^(?:(?:please|can you|could you)\s+)?(?:book|reserve)\b.*\b(?:table|room|hotel|flight|train|"
                      r"tickets?|taxi|cab|restaurant|seats?)\b")
_NEVER_MIND = re.compile(r"^(?:never ?mind|forget (?:it|that)|cancel(?: that| it)?|don't (?:bother|add it))\b")
_ON_CALENDAR = re.compile(r"\b(?:(?:on|to|in|into) (?:my|the) (?:calendar|diary|schedule)|an? (?:event|appointment|meeting) "
                          r"(?:called|for(?! \d))|an? (?:event|appointment)|for(?! \d))\b")  # "a table for 2" keeps its count
_LIST = re.compile(r"\bwhat(?:'s| is) (?:on|planned|scheduled|happening)\b|\bwhat (?:do|have) i (?:got|have)\b|"
                   r"\bmy (?:week|day|schedule|calendar|agenda)\b|\bam i (?:free|busy)\b")
_MOVE = re.compile(r"^(?:(?:please|can you|could you)\s+)?(?:move|reschedule|push|shift|change)\s+(?P<what>.*?)\s*"
                   r"\b(?:to|till|until)\b\s+(?P<to>.+)$")
_REMOVE = re.compile(r"^(?:(?:please|can you|could you)\s+)?(?:cancel|delete|remove|drop)\s+(?P<what>.+)$")
_CALENDAR_WORDS = re.compile(r"\b(?:calendar|event|appointment|meeting|diary|schedule)\b")
_IT = re.compile(r"^(?:it|that|this|that one|the event|the meeting|the appointment)$")


def event_request(text: str, now: datetime) -> tuple[str, When]:
    """The event's title, as the user spelled it, and when: "put lunch with Amy on Friday at one"."""
    said = normalize(text)
    check_ahead(said)
    when = find_when(said, now)
    title = strip_edges(_ON_CALENDAR.sub(" ", _ADD.sub("", without(said, when))))
    return original_case(title, text), when


class CalendarSkill:
    """Voice requests about the calendar. "Move it" means the event last added or mentioned;
    removing an event asks first."""

    def __init__(self, calendar: CalendarFile, tz: tzinfo, event_length: timedelta = timedelta(hours=1)):
        self.calendar, self.tz, self.event_length = calendar, tz, event_length
        self._last: str | None = None  # uid of the event last added or mentioned
        self._removing: str | None = None  # uid waiting for "yes"
        self._timing: tuple[str, When, bool] | None = None  # (title, when, a booking): waiting for "at 7:30"

    @property
    def in_dialogue(self) -> bool:
        return self._removing is not None or self._timing is not None

    def handle(self, text: str, now: datetime) -> str | None:
        now = local(now, self.tz)
        said = normalize(text)
        if self._removing is not None:
            uid, self._removing = self._removing, None
            if is_yes(said):
                return f"Removed {self.calendar.remove(uid).title}."
            if is_no(said):
                return "All right, I kept it."
        if self._timing is not None:
            answer = self._at_time(said, now)
            if answer is not None:
                return answer
        if "remind" in said:
            return None  # a reminder, not an event
        if m := _MOVE.match(said):
            return self._move(m["what"], m["to"], now)
        if (m := _REMOVE.match(said)) and not re.search(r"\b(?:reminders?|timers?|alarms?|letter)\b", said):
            return self._remove(m["what"], now)
        if _ADD.match(said) and ("calendar" in said or find_when(said, now)):
            return self._add(said, text, now)
        if _LIST.search(said):
            return self.agenda(said, now)
        return None

    def _add(self, said: str, original: str, now: datetime) -> str:
        try:
            title, when = event_request(original, now)
        except TimeError as exc:  # nothing is put on the calendar on a guess
            return f"{sentence_case(str(exc))}. Say the event again with its day and time, like 'lunch on Friday at 1 pm'."
        if not title:
            return "What should I call the event?"
        return self.put(title, when, now, booking=bool(_BOOKING.match(said)))

    def put(self, title: str, when: When, now: datetime, booking: bool = False) -> str:
        """Add the event and say where it went, with any overlap; or ask for a day and time.
        "Tonight" or "tomorrow morning" with no time is not guessed: she asks what time."""
        if not (when.day or when.clock or when.part_of_day or when.offset):
            return f"When is {title}? Say it again with the day and time, like '{title} on Friday at 1 pm'."
        if when.part_of_day and not (when.clock or when.offset or when.rule):
            self._timing = (title, when, booking)
            return f"What time {_part_said(when.part_of_day)} should I put {title} on your calendar?"
        event, clash = self.schedule(title, when, now)
        reply = f"I've put {event.spoken(now)} on your calendar."
        if booking:
            reply = "I can't make the booking itself, but " + reply
        if clash:
            reply += f" Note: that overlaps with {join([e.spoken(now) for e in clash])}."
        return reply

    def _at_time(self, said: str, now: datetime) -> str | None:
        """The answer to "what time tonight?": the event goes in at that time; "never mind"
        drops it; anything else is another request (the question is dropped, and others answer)."""
        title, when, booking = self._timing
        self._timing = None
        if _NEVER_MIND.match(said) or is_no(said):
            return f"All right, I didn't put {title} on your calendar."
        part = _part_said(when.part_of_day)
        said = re.sub(r"^(?:(?:let's say|say|make it|how about|maybe|um|uh|oh|okay|ok|at)\b[,\s]*)*", "", said)
        said = re.sub(r"[.!?]+$", "", said).strip()
        if not re.fullmatch(r"(?:around |about )?(?:\d{1,2}(?::\d{2}| \d{2})?(?: ?[ap]m)?|noon|midnight)"
                            r"(?: tonight| in the \w+| at night)?", said):
            return None
        said = re.sub(r"^(?:around |about )?(\d{1,2}) (\d{2})\b", r"\1:\2", said)  # "seven thirty"
        explicit = re.search(r"[ap]m\b|noon|midnight|tonight|in the|at night", said)
        found = find_when(said if explicit else f"{said} {part}", now, bare_hour=True)
        if found.clock is None:
            return None
        return self.put(title, When(day=when.day, clock=found.clock, part_of_day=when.part_of_day), now, booking)

    def schedule(self, title: str, when: When, now: datetime) -> tuple[Event, list[Event]]:
        """Add the event (all day when no time was said) and return it with what it overlaps."""
        if when.clock or when.offset or when.part_of_day:
            start = when.resolve(now)
            event = self.calendar.add(title, start, start + self.event_length, now)
            clash = self.calendar.conflicts(event.start, event.end, ignore=event.uid)
        else:
            event = self.calendar.add(title, when.day, when.day + timedelta(days=1), now)
            clash = []
        self._last = event.uid
        return event, clash

    def target(self, what: str, now: datetime) -> Event | str:
        """The event a phrase names, or what to say when it names none or several."""
        upcoming = [e for e in self.calendar.events() if e.end > now]
        if _IT.match(what.strip()):
            found = [e for e in upcoming if e.uid == self._last]
            return found[0] if found else "Which event do you mean? Say its name, like 'move lunch with Amy to 2'."
        uids = best_matches(what, {e.uid: e.title for e in upcoming})
        if len(uids) == 1:
            return next(e for e in upcoming if e.uid == uids[0])
        if not uids:
            return f"I couldn't find {what} on your calendar."
        names = [e.spoken(now) for e in upcoming if e.uid in uids]
        return f"Which one: {join(names, 'or')}?"

    def _move(self, what: str, to: str, now: datetime) -> str:
        plan = self.plan_move(what, to, now)
        return plan if isinstance(plan, str) else self.move(*plan, now)

    def plan_move(self, what: str, to: str, now: datetime) -> tuple[Event, datetime] | str:
        """The event ``what`` names and its new start, or what to ask when either is unclear."""
        event = self.target(what, now)
        if isinstance(event, str):
            return event
        when = find_when(to, now, bare_hour=True)
        if not when:
            return f"When should {event.title} be? Say a day or a time, like 'move it to 2 pm'."
        return event, self._moved_start(event, when, now)

    def move(self, event: Event, start: datetime, now: datetime) -> str:
        moved = self.calendar.move(event.uid, start)
        self._last = moved.uid
        reply = f"Moved {moved.spoken(now)}."
        clash = self.calendar.conflicts(moved.start, moved.end, ignore=moved.uid)
        if clash:
            reply += f" Note: that overlaps with {join([e.spoken(now) for e in clash])}."
        return reply

    @staticmethod
    def _moved_start(event: Event, when: When, now: datetime) -> datetime:
        """A new time keeps the day, a new day keeps the time; "at 2" stays in the afternoon."""
        if when.offset:
            return now + when.offset
        old = event.start.astimezone(now.tzinfo)
        clock = when.clock or old.time()
        return datetime.combine(when.day or old.date(), clock).replace(tzinfo=now.tzinfo)

    def _remove(self, what: str, now: datetime) -> str | None:
        about_calendar = bool(_CALENDAR_WORDS.search(what))
        what = strip_edges(re.sub(r"\b(?:from|on|in) (?:my|the) (?:calendar|diary|schedule)\b", " ", what))
        event = self.target(what, now)
        if isinstance(event, str):  # "cancel my subscription" is not about the calendar: let others answer
            return event if about_calendar or _IT.match(what) else None
        return self.ask_remove(event, now)

    def ask_remove(self, event: Event, now: datetime) -> str:
        """Ask first; the event goes only on a "yes" next turn."""
        self._removing = event.uid
        return f"Remove {event.spoken(now)} from your calendar? Say yes to remove it."

    def agenda(self, said: str, now: datetime) -> str:
        """What is on the day ``said`` names (today if none), or in the next seven days for "week"."""
        if re.search(r"\bweek\b", said):
            start = datetime.combine(now.date(), time()).replace(tzinfo=now.tzinfo)
            span, label = timedelta(days=7), "in the next seven days"
        else:
            when = find_when(said, now)
            day = when.day or now.date()
            start = datetime.combine(day, time()).replace(tzinfo=now.tzinfo)
            span, label = timedelta(days=1), say_day(start, now).split(",")[0]
        events = self.calendar.between(start, start + span)
        if not events:
            return f"Nothing on your calendar {label}."
        self._last = events[0].uid if len(events) == 1 else self._last
        if span.days == 1:
            items = [e.title if e.all_day else f"{e.title} at {say_clock(e.start.astimezone(now.tzinfo))}" for e in events]
        else:
            items = [e.spoken(now) for e in events]
        return f"{sentence_case(label)} you have {count(len(events), 'event')}: {join(items)}."


def _part_said(part: str | None) -> str:
    """How "what time … ?" names the part of the day the user said."""
    return {"tonight": "tonight", "night": "at night", None: ""}.get(part, f"in the {part}")
