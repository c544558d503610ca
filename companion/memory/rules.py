"""Facts from the user's own words, by rules, so memory is correct with any model (the 135M
one cannot produce reliable JSON). Precision over recall: a missed fact costs little, a wrong
one is repeated back to the user. Only ever applied to what the *user* said."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from .people import AGE, AT_END, CLAUSE_END as _END, JOB, SINGLE, VALUE as _V, People
from .people import age as _age, clean as _clean, looks_like_job, read_people
from .relations import KIN, PARTNERS, PETS, RELATIONS

__all__ = ["KIN", "PARTNERS", "PETS", "RELATIONS", "SINGLE", "FactCandidate", "People", "Reading", "extract_facts",
           "read_turn", "resolve_when", "sentences"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_LIST_END = (r"(?=\s+(?:but|because|so|since|though|although|if|when|while)\b"
             r"|\s+and\s+(?:I|I'm|my|we|you|he|she|they|it)\b|[,.;!?]|$)")  # "hiking and jazz" is one list
_NAME = r"(?P<v>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})"  # capitalised words, as Whisper writes names
# "my name is alex": one word the recogniser left in lower case, ending the clause
_LOWER_NAME = (r"(?P<v>(?!(?:not|just|really|very|a|an|the|so|too|actually|kind|sort|going|gonna|being|what|that|this)\b)"
               r"[a-z][a-z'-]{1,20})(?=\s*(?:[,.;!?]|$)|\s+(?:and|but)\b)")
_PRONOUNS = {"you", "it", "that", "this", "them", "him", "her", "those", "these", "to", "so", "a", "the"}
_WHEN = (r"(?P<when>today|tonight|tomorrow(?:\s+(?:morning|afternoon|evening|night))?"
         r"|(?:next|this)\s+(?:week|weekend|month|year|" + "|".join(WEEKDAYS) + r")"
         r"|on\s+(?:" + "|".join(WEEKDAYS) + r")|on\s+(?:the\s+)?\w+\s+\w+|in\s+(?:\w+\s+)?(?:days?|weeks?|months?))")

# case-insensitive, except names (which Whisper capitalises)
_RULES: list[tuple[str, re.Pattern]] = [(attr, re.compile(rx, 0 if attr == "name" else re.I)) for attr, rx in [
    ("name", r"\b[Mm]y name(?:'s| is) " + _NAME),
    ("name", r"\b[Mm]y name(?:'s| is) " + _LOWER_NAME),
    ("name", r"\b(?:[Cc]all me|I'?m called|I am called|[Pp]eople call me) " + _NAME),
    ("lives_in", r"\bI (?:currently |now |still |actually )?live in " + _V + _END),
    ("lives_in", r"\bI(?:'ve| have)? (?:just |recently |finally )?moved to " + _V + _END),
    ("lives_in", r"\bI(?:'m| am) (?:now |currently )?living in " + _V + _END),
    ("hometown", r"\bI(?:'m| am) (?:originally )?from " + _V + _END),
    ("hometown", r"\bI grew up in " + _V + _END),
    ("job", r"\bI work as (?:an? )?" + _V + AT_END),
    ("employer", r"\bI work as [^,.;!?]+? (?:at|for) " + _V + _END),
    ("job", r"\bmy job is (?:being )?(?:an? )?" + _V + _END),
    ("job", r"\bI(?:'m| am) an? " + _V + r" by (?:profession|trade)"),
    ("job?", r"\bI(?:'m| am) an? " + JOB),  # '?': a guess, kept when the value looks like a job
    ("employer", r"\bI work (?:at|for) " + _V + _END),
    ("age", r"\bI(?:'m| am| just turned| turned) " + AGE + _END),
    ("birthday", r"\bmy birthday(?:'s| is) (?:on )?" + _V + _END),
    ("birthday", r"\bI was born on " + _V + _END),
    ("allergy", r"\bI(?:'m| am) (?:very |really |severely )?allergic to " + _V + _END),
    ("allergy", r"\bI have an? (?P<v>[\w -]+?) allergy"),
    ("dislikes", r"\bI (?:really )?(?:don'?t|do not) (?:really )?(?:like|enjoy|care for) " + _V + _LIST_END),
    ("dislikes", r"\bI (?:really )?(?:hate|dislike|detest|can'?t stand|cannot stand) " + _V + _LIST_END),
    ("likes", r"\bI (?:really |absolutely |just |do )?(?:like|love|enjoy|adore) " + _V + _LIST_END),
]]
_FAVORITE = re.compile(r"\bmy (?:favou?rite) (?P<what>\w+(?: \w+)?) is " + _V + _END, re.I)
_PLAN = re.compile(r"\bI(?:'m| am| will|'ll)? (?:going to|planning to|gonna|have to|will) (?P<v>[^,.;!?]+?)\s+" + _WHEN, re.I)
_APPOINTMENT = re.compile(r"\bI(?:'ve| have)(?: got)? an? (?P<v>[\w' ]*?(?:appointment|meeting|interview|exam|test|party"
                          r"|wedding|trip|flight|date|concert|game|surgery)(?: with [\w ]+?)?)\s+" + _WHEN, re.I)


@dataclass(frozen=True)
class FactCandidate:
    """A fact the user stated, about themselves (``subject`` "user") or about one of their people
    (``subject`` their name, or the relation while the name is unknown), ready for
    :meth:`MemoryStore.add_fact`."""

    attribute: str
    value: str
    single: bool
    closes: tuple[str, ...] = ()
    subject: str = "user"


@dataclass(frozen=True)
class Reading:
    """What one user turn states, and whom it was last about (for a pronoun in the next turn)."""

    facts: list[FactCandidate]
    focus: str | None


def sentences(text: str) -> list[str]:
    """Statements only: questions ("do I like jazz?") state nothing."""
    parts = re.findall(r"[^.!?]+[.!?]?", text)
    return [p.strip() for p in parts if p.strip() and not p.strip().endswith("?")]


def extract_facts(text: str, now: datetime, people: People | None = None) -> list[FactCandidate]:
    """The facts in ``text``; ``people``: whom the user has already named (so "Tom" and "she"
    can be resolved), else only people named in ``text`` itself are recognised."""
    return read_turn(text, now, people).facts


def read_turn(text: str, now: datetime, people: People | None = None) -> Reading:
    people = People(dict(people.names), people.focus) if people else People()  # the caller's copy stays as it was
    said = sentences(text)
    out: list[FactCandidate] = []
    for sentence in said:
        for attr, rx in _RULES:
            for m in rx.finditer(sentence):
                for value in _values(attr, m.group("v")):
                    if attr == "name":
                        value = value[0].upper() + value[1:]  # "alex", heard in lower case
                    out.append(_candidate(attr.rstrip("?"), value))
        for m in _FAVORITE.finditer(sentence):
            value = _clean(m.group("v"))
            if value:
                out.append(FactCandidate("favorite_" + m.group("what").lower().replace(" ", "_"), value, True))
        for rx in (_APPOINTMENT, _PLAN):
            for m in rx.finditer(sentence):
                what = _clean(m.group("v"))
                if what and what.lower() not in _PRONOUNS:
                    out.append(FactCandidate("plan", f"{what} {resolve_when(m.group('when'), now)}", False))
                    break
    for f in read_people(said, people):
        out.append(FactCandidate(f.attribute, f.value, f.attribute in SINGLE, subject=f.subject))
    return Reading(_unique(out), people.focus)


def _values(attr: str, raw: str) -> list[str]:
    value = _clean(raw)
    if attr in ("likes", "dislikes", "allergy"):
        value = re.sub(r"^(?:to |the idea of |it when )", "", value, flags=re.I)
        items = [_clean(v) for v in re.split(r",\s*|\s+and\s+|\s+or\s+", value)]
        return [v for v in items if v and v.lower() not in _PRONOUNS and len(v.split()) <= 6]
    if not value or value.lower() in _PRONOUNS or len(value.split()) > 8:
        return []
    if attr == "job?" and not looks_like_job(value):
        return []
    if attr == "age":
        return [_age(value)]
    return [value[0].upper() + value[1:] if attr in ("lives_in", "hometown") else value]


def _candidate(attr: str, value: str) -> FactCandidate:
    closes = {"likes": ("dislikes",), "dislikes": ("likes",)}.get(attr, ())
    return FactCandidate(attr, value, attr in SINGLE, closes)


def _unique(facts: list[FactCandidate]) -> list[FactCandidate]:
    seen, out = set(), []
    for f in facts:
        key = (f.subject, f.attribute, f.value.lower())
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def resolve_when(when: str, now: datetime) -> str:
    """Pin a relative date to the calendar ("tomorrow" said on Monday is Tuesday's date), so the
    plan still means the right day when it is recalled next week."""
    low = " ".join(when.lower().split())
    day = None
    if low in ("today", "tonight"):
        day = now
    elif low.startswith("tomorrow"):
        day = now + timedelta(days=1)
    else:
        m = re.fullmatch(r"(?:on|next|this) (\w+)", low)
        if m and m.group(1) in WEEKDAYS:
            ahead = (WEEKDAYS.index(m.group(1)) - now.weekday()) % 7 or 7
            day = now + timedelta(days=ahead)
    if day is None:
        return f"({when}, said on {now:%B %-d, %Y})"
    return f"on {day:%A, %B %-d, %Y}"
