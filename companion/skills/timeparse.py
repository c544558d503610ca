"""Spoken times -> datetimes in the user's time zone, deterministically.

``dateparser`` finds and interprets the date ("tomorrow", "on Friday", "March 3", "next
week"); it is unreliable with bare clock times ("at 5" becomes May 5th), so the clock time,
relative offsets ("in twenty minutes") and repetition ("every Sunday") are read here. An hour
said without am/pm is resolved by a fixed rule and flagged, so the read-back can say which
one was meant ("at 5" -> 5 pm unless it is already past 5 pm today).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..ops.config import ConfigError
from .errors import SkillError

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_NUMBER_WORDS = re.compile(
    r"\b(?:(?P<tens>" + "|".join(_TENS) + r")(?:[\s-](?P<unit>" + "|".join(k for k in _UNITS if k != "zero") + r"))?"
    r"|(?P<single>" + "|".join(_UNITS) + r"))\b")
_REWRITES = [  # spoken forms -> one written form the patterns below understand
    (re.compile(r"\b([ap])\.\s?m\.?"), r"\1m"),
    (re.compile(r"\bo'?\s?clock\b"), ""),
    (re.compile(r"\b(?:an|1) hour and a half\b"), "90 minutes"),
    (re.compile(r"\bhalf an hour\b"), "30 minutes"),
    (re.compile(r"\ba quarter of an hour\b"), "15 minutes"),
    (re.compile(r"\ba (?:couple|few) (?:of )?(minute|hour|day|week)s?\b"), r"2 \1s"),
    (re.compile(r"\bhalf past (\d{1,2})\b"), r"\1:30"),
    (re.compile(r"\bquarter past (\d{1,2})\b"), r"\1:15"),
    (re.compile(r"\bmidday\b"), "noon"),
]
_QUARTER_TO = re.compile(r"\b(?:a )?quarter to (\d{1,2})\b")

_CLOCK = re.compile(
    r"(?:\b(?P<prep>at|by|around|from|until|till|to)\s+)?"
    r"(?:(?P<noon>noon|midnight)|\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?:\s*(?P<ampm>am|pm)\b)?)"
    r"(?:\s+(?P<part>in the morning|in the afternoon|in the evening|at night|tonight))?")
# a number that counts people (or seats, rooms) is no time: "a table for two tonight", "dinner for 4", "6 guests"
_COUNT = re.compile(
    r"\b(?:table|party|group|reservation|booking|room|seats?|tickets?|dinner|lunch|breakfast|brunch|drinks)"
    r"\s+(?:for|of)\s+(?:a\s+(?:party|group)\s+of\s+)?\d{1,3}(?!\s*(?::\d|am\b|pm\b|minutes?\b|hours?\b))\b"
    r"|\b\d{1,3}\s+(?:people|persons|guests|adults|children|kids|of us|seats|tickets|nights|rooms)\b")
_PARTS_OF_DAY = re.compile(r"\b(?:(?:this|in the)\s+)?(morning|afternoon|evening|night)\b|\btonight\b")
_PART_DEFAULTS = {"morning": time(9), "afternoon": time(15), "evening": time(18), "night": time(20), "tonight": time(20)}
_RELATIVE = re.compile(r"\b(?:in|for|after)\s+(?P<n>\d+|an?)\s+(?P<unit>second|sec|minute|min|hour|hr|day|week)s?"
                       r"(?:\s+and\s+(?P<n2>\d+)\s+minutes?)?\b")
_UNIT_SECONDS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 604800}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_EVERY = re.compile(
    r"\b(?:every\s+(?P<what>(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?(?:\s*(?:,|and)\s*)?)+"
    r"|weekday|day|morning|evening|night|week|month|year|hour|(?P<n>\d+)\s+(?P<unit>minute|hour|day)s)"
    r"|(?P<daily>daily|weekly|monthly|hourly))\b")
_DATE_WORDS = re.compile(r"\b(?:today|tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                         r"week|month|year|weekend|\d+(?:st|nd|rd|th))\b|\d")


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DAY_OF_MONTH = re.compile(rf"\b(?P<m1>{_MONTH})\s+(?:the\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\b"
                           rf"|\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH})(?!\w)")
_PAST = re.compile(r"\b(?:yesterday|(?:last|past) (?:night|week|month|year|monday|tuesday|wednesday|thursday|friday|"
                   r"saturday|sunday)|\d+ (?:second|minute|hour|day|week|month|year)s? ago)\b")
_NEGATIVE = re.compile(r"\b(?:in|for|after)\s+-\s*\d+\s*[a-z]*")
_CLOCK_SAID = re.compile(r"\b(?:at|by|around|from|until|till)\s+(?P<h>\d{1,3})(?::(?P<m>\d{2}))?(?:\s*(?P<ampm>am|pm)\b)?"
                         r"|\b(?P<h2>\d{1,3}):(?P<m2>\d{2})\b")
_EVERY_SAID = re.compile(r"\bevery\s+(?:\d+\s+[a-z]+|other\s+[a-z]+|[a-z]*day)\b")  # how often, not "every plant"


class TimeError(SkillError, ValueError):
    """A spoken time could not be understood; the message says how to say it instead."""


def check_ahead(said: str) -> None:
    """Raise :class:`TimeError` when ``said`` (normalized) names a time in the past, one that
    cannot exist, or one not understood, saying which words: a reminder "yesterday at 5" must
    not become today at 5, nor "at 25:00" a reminder with no time."""
    if m := _PAST.search(said):
        raise TimeError(f"“{m[0]}” is in the past; give a day and time still ahead")
    if m := _NEGATIVE.search(said):
        raise TimeError(f"“{m[0]}” is not a time ahead; say how long from now, like 'in 3 minutes'")
    for m in _DAY_OF_MONTH.finditer(said):
        month = next(i for i, name in enumerate(_MONTHS) if name.startswith((m["m1"] or m["m2"]).rstrip(".")[:3]))
        day = int(m["d1"] or m["d2"])
        if not 1 <= day <= _MONTH_DAYS[month]:
            raise TimeError(f"there is no {_MONTHS[month].capitalize()} {day}; check the date")
    for m in _CLOCK_SAID.finditer(said):
        hour, minute = int(m["h"] or m["h2"]), int(m["m"] or m["m2"] or 0)
        if hour > 23 or minute > 59 or (m["ampm"] and not 1 <= hour <= 12):
            raise TimeError(f"I didn't understand “{m[0].strip()}” as a time of day; say it like 'at 6 pm' or 'at 18:30'")
    for m in _EVERY_SAID.finditer(said):
        if not _EVERY.match(said, m.start()):
            raise TimeError(f"I didn't understand how often “{m[0]}” is; say it like 'every Tuesday', "
                            "'every day' or 'every 2 hours'")


def user_timezone(name: str) -> tzinfo:
    """The configured IANA zone, or the system's when ``name`` is empty."""
    if not name:
        return datetime.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[skills] timezone = {name!r} is not a known time zone; use an IANA name such as "
                          "'Europe/Berlin' or 'America/New_York', or '' for the system's") from None


def local(now: datetime, tz: tzinfo) -> datetime:
    """``now`` in ``tz``; a naive datetime is taken as the system's local time."""
    return (now if now.tzinfo else now.astimezone()).astimezone(tz)


def normalize(text: str) -> str:
    """Lower-case, with number words as digits and spoken time idioms in one written form."""
    text = text.lower().replace("’", "'").strip()

    def number(m: re.Match) -> str:
        if m["single"]:
            return str(_UNITS[m["single"]])
        return str(_TENS[m["tens"]] + (_UNITS[m["unit"]] if m["unit"] else 0))

    text = _NUMBER_WORDS.sub(number, text)
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    text = _QUARTER_TO.sub(lambda m: f"{(int(m[1]) - 2) % 12 + 1}:45", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class When:
    """What a phrase said about a moment; any part may be missing. ``spans`` are the
    character ranges of the normalized text that held it, so the rest is the request."""

    day: date | None = None
    clock: time | None = None
    offset: timedelta | None = None
    rule: str | None = None  # an RFC 5545 RRULE for repeating reminders
    guessed_half: bool = False  # the hour was said without am/pm
    part_of_day: str | None = None
    spans: tuple[tuple[int, int], ...] = ()

    def __bool__(self) -> bool:
        return any((self.day, self.clock, self.offset, self.rule, self.part_of_day))

    def resolve(self, now: datetime, default_clock: time = time(9)) -> datetime:
        """The first moment this describes after ``now`` (aware, in ``now``'s zone)."""
        if self.offset is not None:
            return now + self.offset
        if self.rule is not None:
            return next_occurrence(self.rule, self.anchor(now, default_clock), now)
        return self.anchor(now, default_clock)

    def anchor(self, now: datetime, default_clock: time = time(9)) -> datetime:
        clock = self.clock or _PART_DEFAULTS.get(self.part_of_day or "", default_clock)
        if self.day is not None:
            return _at(self.day, clock, now.tzinfo)
        today = _at(now.date(), clock, now.tzinfo)
        if today > now or self.rule is not None:
            return today
        return _at(now.date() + timedelta(days=1), clock, now.tzinfo)


def _at(day: date, clock: time, tz) -> datetime:
    return datetime.combine(day, clock).replace(tzinfo=tz)


def next_occurrence(rule: str, start: datetime, after: datetime) -> datetime:
    """The first time ``rule`` (an RRULE starting at ``start``) fires strictly after ``after``,
    computed in wall-clock time so "every day at 8" stays at 8 across daylight-saving changes."""
    from dateutil.rrule import rrulestr

    tz = start.tzinfo
    naive = rrulestr(rule, dtstart=start.replace(tzinfo=None)).after(after.astimezone(tz).replace(tzinfo=None))
    if naive is None:
        raise TimeError("that repetition never happens again")
    return naive.replace(tzinfo=tz)


def find_when(text: str, now: datetime, *, bare_hour: bool = False) -> When:
    """Everything ``text`` (already :func:`normalize`-d) says about when, relative to ``now``.
    With ``bare_hour`` a lone number counts as an hour ("move it to 2")."""
    spans: list[tuple[int, int]] = []
    counts = [m.span() for m in _COUNT.finditer(text)]  # not a time, and kept in the title
    offset = rule = part = None
    clock, guessed = None, False

    if m := _RELATIVE.search(text):
        n = 1 if m["n"] in ("a", "an") else int(m["n"])
        offset = timedelta(seconds=n * _UNIT_SECONDS[m["unit"]] + 60 * int(m["n2"] or 0))
        spans.append(m.span())
    if m := _EVERY.search(text):
        rule, part = _rule(m)
        spans.append(m.span())
    for m in _CLOCK.finditer(text):
        if _overlaps(m.span(), spans) or _overlaps(m.span("h") if m["h"] else m.span(), counts):
            continue
        explicit = m["noon"] or m["m"] or m["ampm"] or m["part"]
        if not (explicit or (m["prep"] and m["prep"] != "to") or (bare_hour and m["h"])):
            continue
        hour = None if m["noon"] else int(m["h"])
        if hour is not None and (hour > 23 or int(m["m"] or 0) > 59 or (m["ampm"] and not 1 <= hour <= 12)):
            continue
        part = _part(m["part"]) or part
        clock, guessed = _clock(hour, int(m["m"] or 0), m["noon"], m["ampm"], part)
        span = m.span() if m["prep"] != "to" or bare_hour else (m.start("noon") if m["noon"] else m.start("h"), m.end())
        spans.append(span)
        break
    if m := _PARTS_OF_DAY.search(text):
        if not _overlaps(m.span(), spans):
            part = _part(m[1] or "tonight")
            spans.append(m.span())
            if guessed:
                clock, guessed = _clock(clock.hour % 12 or 12, clock.minute, None, None, part)
    day = None
    if offset is None:
        day, day_span = _find_day(text, spans + counts, now)
        if day_span:
            spans.append(day_span)
    if guessed and clock is not None and day is None and rule is None:
        clock = _nearest_half(clock, now)
    return When(day, clock, offset, rule, guessed, part, tuple(sorted(spans)))


def _part(said: str | None) -> str | None:
    if not said:
        return None
    for word in ("morning", "afternoon", "evening", "tonight", "night"):  # "tonight" ends in "night" too
        if said.endswith(word):
            return word
    return None


def _clock(hour: int | None, minute: int, noon: str | None, ampm: str | None, part: str | None) -> tuple[time, bool]:
    """A clock time, and whether am/pm had to be guessed. Unsaid: 7-11 is morning, 12-6 afternoon."""
    if noon:
        return time(12 if noon == "noon" else 0), False
    assert hour is not None
    if hour > 12 or hour == 0:
        return time(hour % 24, minute), False
    if ampm or part:
        pm = ampm == "pm" or (not ampm and part in ("afternoon", "evening", "night", "tonight"))
        if part in ("night", "tonight") and hour in (12, 1, 2, 3, 4) and not ampm:
            pm = False
        return time(hour % 12 + (12 if pm else 0), minute), False
    return time(hour % 12 + (0 if 7 <= hour <= 11 else 12), minute), True


def _nearest_half(clock: time, now: datetime) -> time:
    """For "at 5" with no day: the earlier of 5 am / 5 pm still ahead today, else the usual one."""
    now_t = now.time().replace(tzinfo=None)
    other = time((clock.hour + 12) % 24, clock.minute)
    ahead = sorted(c for c in (clock, other) if c > now_t)
    return ahead[0] if ahead else clock


def _rule(m: re.Match) -> tuple[str, str | None]:
    what = (m["what"] or m["daily"] or "").strip()
    if m["n"]:
        freq = {"minute": "MINUTELY", "hour": "HOURLY", "day": "DAILY"}[m["unit"]]
        return f"FREQ={freq};INTERVAL={int(m['n'])}", None
    simple = {"day": "FREQ=DAILY", "daily": "FREQ=DAILY", "morning": "FREQ=DAILY", "evening": "FREQ=DAILY",
              "night": "FREQ=DAILY", "week": "FREQ=WEEKLY", "weekly": "FREQ=WEEKLY", "month": "FREQ=MONTHLY",
              "monthly": "FREQ=MONTHLY", "year": "FREQ=YEARLY", "hour": "FREQ=HOURLY", "hourly": "FREQ=HOURLY",
              "weekday": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}
    if what in simple:
        return simple[what], (what if what in ("morning", "evening", "night") else None)
    days = [_RRULE_DAYS[i] for i, name in enumerate(_WEEKDAYS) if name in what]
    return "FREQ=WEEKLY;BYDAY=" + ",".join(days), None


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in spans)


def _find_day(text: str, taken: list[tuple[int, int]], now: datetime) -> tuple[date | None, tuple[int, int] | None]:
    """The date ``dateparser`` finds in what is left of ``text``; only spans that name a day
    (a weekday, "tomorrow", a number...) count, so "I may call" is not the month of May."""
    from dateparser.search import search_dates

    masked = list(text)
    for s, e in taken:
        masked[s:e] = "," * (e - s)  # a comma ends dateparser's phrase; spaces would join its two sides
    rest = "".join(masked)
    base = now.replace(tzinfo=None)
    found = search_dates(rest, languages=["en"], settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future",
                                                             "RETURN_AS_TIMEZONE_AWARE": False}) or []
    for phrase, value in found:
        phrase = re.sub(r"\s+(?:about|around)$", "", phrase.strip(" ,"))
        if not _DATE_WORDS.search(phrase) or phrase.strip() in ("tonight",):
            continue
        found_at = re.search(r"\s+".join(map(re.escape, phrase.split())), rest)
        if found_at is None:
            continue
        if phrase.strip().startswith("this ") and value.date() < base.date():
            value += timedelta(days=7)
        return value.date(), found_at.span()
    return None, None


def without(text: str, when: When) -> str:
    """``text`` with the time phrases taken out, tidied, for the reminder or event title."""
    for s, e in sorted(when.spans, reverse=True):
        text = text[:s] + " " + text[e:]
    text = re.sub(r"\b(?:on|at|in|for|by)\s*$", "", text.strip())
    return re.sub(r"\s+", " ", text).strip(" ,.?!")
