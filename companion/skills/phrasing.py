"""How times, dates and lists are said aloud: short, unambiguous, and always with am/pm,
so a read-back exposes a misheard or misparsed time."""

from __future__ import annotations

from datetime import datetime, timedelta

_DAY_CODES = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
              "SA": "Saturday", "SU": "Sunday"}


def say_clock(dt: datetime) -> str:
    if (dt.hour, dt.minute) == (12, 0):
        return "noon"
    if (dt.hour, dt.minute) == (0, 0):
        return "midnight"
    hour = dt.hour % 12 or 12
    minutes = f":{dt.minute:02d}" if dt.minute else ""
    return f"{hour}{minutes} {'am' if dt.hour < 12 else 'pm'}"


def say_day(dt: datetime, now: datetime) -> str:
    days = (dt.date() - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return f"tomorrow, {dt:%A}"
    if days == -1:
        return "yesterday"
    if 1 < days < 7:
        return f"on {dt:%A}"
    if dt.year == now.year:
        return f"on {dt:%A}, {dt:%B} {dt.day}"
    return f"on {dt:%A}, {dt:%B} {dt.day}, {dt.year}"


def say_when(dt: datetime, now: datetime) -> str:
    """e.g. "tomorrow, Thursday, at 6 pm"; "in 20 minutes, at 2:20 pm" when it is soon."""
    ahead = dt - now
    if timedelta(0) < ahead <= timedelta(hours=2):
        minutes = round(ahead.total_seconds() / 60)
        span = f"{minutes} minute{'s' * (minutes != 1)}" if minutes < 90 else f"{minutes / 60:g} hours"
        return f"in {span}, at {say_clock(dt)}"
    day = say_day(dt, now)
    return f"{day}{',' if ',' in day else ''} at {say_clock(dt)}"


def say_rule(rule: str, dt: datetime) -> str:
    """An RRULE in words, with the time of day: "every Sunday at 10 am"."""
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    freq, interval = parts.get("FREQ"), int(parts.get("INTERVAL", "1"))
    if interval > 1:
        unit = {"MINUTELY": "minutes", "HOURLY": "hours", "DAILY": "days", "WEEKLY": "weeks"}.get(freq, "times")
        return f"every {interval} {unit}"
    if freq == "HOURLY":
        return "every hour"
    if "BYDAY" in parts:
        codes = parts["BYDAY"].split(",")
        days = "weekday" if codes == ["MO", "TU", "WE", "TH", "FR"] else join([_DAY_CODES[c] for c in codes])
        return f"every {days} at {say_clock(dt)}"
    unit = {"DAILY": "day", "WEEKLY": f"{dt:%A}", "MONTHLY": f"month on the {ordinal(dt.day)}",
            "YEARLY": f"year on {dt:%B} {dt.day}"}.get(freq, "time")
    return f"every {unit} at {say_clock(dt)}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def join(items: list[str], last: str = "and") -> str:
    """"a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def count(n: int, noun: str) -> str:
    return f"{'no' if n == 0 else n} {noun}{'' if n == 1 else 's'}"


def sentence_case(text: str) -> str:
    """First letter up, the rest untouched (``str.capitalize`` would lower "Friday")."""
    return text[:1].upper() + text[1:]
