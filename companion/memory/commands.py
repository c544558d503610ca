"""Spoken memory commands ("remember that…", "forget my birthday", "what do you remember about
me?", "don't remember this conversation"), recognised by rules and answered from the database,
never by the model, so they are exact with any LLM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from . import phrasing
from .forgetting import forget_facts
from .relations import WORDS, aliases
from .rules import People, extract_facts
from .store import MemoryStore

_FILLER = re.compile(r"^(?:(?:hey|hi|okay|ok|so|and|please|samantha|well|um|uh|oh|now|(?:can|could|would|will) you"
                     r"|i want you to|i'd like you to)\b[,\s]*)+", re.I)
_PATTERNS: list[tuple[str, re.Pattern]] = [(kind, re.compile(rx, re.I)) for kind, rx in [
    ("forget_last", r"^(?:forget (?:that|it|this|what i (?:just )?said)|don'?t remember that)$"),
    ("forget_all", r"^(?:forget (?:everything|all of it|all about me|everything (?:you know )?about me)"
                   r"|(?:wipe|erase|delete|clear) (?:your|all your|the) memory)\b"),
    ("pause", r"\b(?:(?:don'?t|do not|stop) (?:remember|record|sav|stor|keep)(?:ing)? (?:this|any of this|anything|"
              r"(?:this|our) conversation)|off the record|^stop remembering$)"),
    ("resume", r"\b(?:(?:you can|please|start|resume) (?:remember|record)(?:ing)?(?: things)? again|^start remembering"
               r"|(?:back )?on the record(?: again)?$)"),
    ("recall", r"^(?:what|tell me what|so what) (?:else )?(?:do |did |can )?(?:you )?(?:remember|know|recall) about me\b"
               r"|^what do you remember$|^what have you (?:remembered|learned) about me\b"
               r"|^do you remember anything about me\b"),
    ("forget", r"^forget (?:about )?(?P<arg>.+)$"),
    ("remember", r"^(?:remember|don'?t forget|note|make a note|keep in mind)(?: that)? (?P<arg>(?!when\b|what\b|how\b|"
                 r"who\b|where\b|if\b|me\b).+)$"),
]]
_TOPICS = [  # words in "forget ..." -> the attributes they name
    (r"\bbirthday|\bborn\b", ("birthday",)), (r"\blive\b|\baddress\b|\bhome\b|\bmoved\b", ("lives_in",)),
    (r"\bfrom\b|\bgrew up\b|\bhometown\b", ("hometown",)), (r"\bjob\b|\bwork", ("job", "employer")),
    (r"\ballerg", ("allergy",)), (r"\bplans?\b|\bappointment", ("plan",)), (r"\bnotes?\b", ("note",)),
]


@dataclass(frozen=True)
class Command:
    kind: str  # recall | remember | forget | forget_last | forget_all | pause | resume
    arg: str = ""


def parse_command(text: str) -> Command | None:
    said = _FILLER.sub("", text.strip()).strip()
    said = re.sub(r"[\s,]*(?:please)?[.!?]*$", "", said, flags=re.I)
    question = text.strip().endswith("?") and not re.match(r"\W*(?:\w+\W+){0,2}(?:can|could|would|will) you\b", text, re.I)
    for kind, rx in _PATTERNS:
        m = rx.search(said)
        if m and not (question and kind == "remember"):  # "remember the time we…?" asks
            return Command(kind, (m.groupdict().get("arg") or "").strip())
    return None


def recall(store: MemoryStore) -> str:
    return phrasing.spoken_profile(store.facts())


def remember(store: MemoryStore, what: str, now: datetime, turn_id: int | None) -> str:
    """Keep the user's words as a note, plus any fact the rules find in them."""
    store.add_fact("note", what, now, single=False, source_turn_id=turn_id, origin="command")
    store.add_facts(extract_facts(what, now, People.from_facts(store.facts())), now, turn_id, "command")
    return f"Okay, I'll remember that {phrasing.flip(what)}."


def forget(store: MemoryStore, what: str, now: datetime) -> str:
    ids = [f.id for f in matching_facts(store, what, now)]
    if not ids:
        return f"I don't have anything about {phrasing.flip(what)} to forget."
    forget_facts(store, ids)
    return f"Okay, I've forgotten {phrasing.flip(what)}."


def matching_facts(store: MemoryStore, what: str, now: datetime):
    """Current facts that "forget WHAT" refers to: a restated fact ("that I live in LA"), a topic
    ("my birthday", "my sister"), or else any fact sharing its words."""
    current = store.facts()
    people = People.from_facts(current)
    stated = extract_facts(re.sub(r"^that\s+", "", what, flags=re.I), now, people)
    if stated:
        said = {(f.subject, f.attribute) for f in stated}
        return [f for f in current if (f.subject, f.attribute) in said]
    low = what.lower()
    named = [w for a in WORDS if re.search(rf"\b{re.escape(a)}s?\b", low) for w in aliases(a)]  # "my mom": "mother" too
    if not named:
        named = [a for rx, attrs in _TOPICS if re.search(rx, low) for a in attrs]
        if re.search(r"\bname\b", low) and not named:
            named = ["name"]
    if named:  # "forget my sister": her name, and what was told about her
        about = {f.value for f in current if f.subject == "user" and f.attribute in named} | set(named)
        return [f for f in current if (f.subject == "user" and f.attribute in named) or f.subject in about
                or f.attribute.startswith("favorite_") and any(w in f.attribute for w in re.findall(r"\w+", low))]
    from .retrieval import match_query

    return store.search_facts(match_query(what), limit=20)


def forget_previous(store: MemoryStore, session_id: int | None, before_turn: int | None) -> str:
    """"Forget that": the user's previous turn in this conversation, the reply to it, and any
    fact taken from it."""
    turns = store.session_turns(session_id) if session_id else []
    users = [t for t in turns if t.role == "user" and (before_turn is None or t.turn_id < before_turn)]
    if not users:
        return "There's nothing from this conversation for me to forget."
    first = users[-1].turn_id
    store.delete_turns([t.turn_id for t in turns if first <= t.turn_id and (before_turn is None or t.turn_id < before_turn)])
    return "Okay, I've forgotten that."


CONFIRM = {
    "forget_all?": "Everything? Say yes to forget it all.",
    "forget_all": "Okay, I've forgotten everything you've told me.",
    "kept_all": "All right, I haven't forgotten anything.",
    "pause": "Okay, I won't remember this conversation. Say 'you can remember again' when you want me to.",
    "resume": "Okay, I'll remember what you tell me again.",
    "paused": "I'm not remembering this conversation right now. Say 'you can remember again' first.",
    "already": "I'm remembering again already.",
}
