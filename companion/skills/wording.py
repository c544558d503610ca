"""Small helpers for reading the user's words: yes/no answers, which stored item a phrase
names, and turning "my" into "your" when a request is said back."""

from __future__ import annotations

import re

_YES = re.compile(r"^(?:yes|yeah|yep|yup|right|correct|exactly|sure|ok|okay|alright|all right|perfect|"
                  r"that's right|that is right|sounds good|good|great|fine|please do|do it)\b")
_NO = re.compile(r"^(?:no|nope|nah|not quite|wrong|that's wrong|actually|incorrect)\b")
_SWAPS = {"my": "your", "me": "you", "i": "you", "i'm": "you're", "myself": "yourself", "mine": "yours",
          "i've": "you've", "i'll": "you'll", "am": "are"}
_STOP = {"the", "a", "an", "my", "to", "for", "of", "and", "with", "about", "reminder", "reminders", "timer",
         "event", "appointment", "meeting", "calendar", "cancel", "delete", "remove", "forget", "move", "it",
         "that", "please", "on", "at", "in", "from", "letter", "read", "me", "i", "wrote", "saved", "clear"}


def is_yes(text: str) -> bool:
    return bool(_YES.match(text.strip().lower()))


def is_no(text: str) -> bool:
    return bool(_NO.match(text.strip().lower()))


def second_person(text: str) -> str:
    """"call my sister" -> "call your sister", for saying a request back to its speaker."""
    return re.sub(r"[A-Za-z']+", lambda m: _SWAPS.get(m[0].lower(), m[0]), text)


def keywords(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP and len(w) > 1}


def best_matches(phrase: str, candidates: dict[object, str]) -> list[object]:
    """The candidate keys whose text shares the most keywords with ``phrase`` (ties kept);
    empty when none shares any."""
    wanted = keywords(phrase)
    scores = {key: len(wanted & keywords(text)) for key, text in candidates.items()}
    top = max(scores.values(), default=0)
    return [key for key, score in scores.items() if top and score == top]


def original_case(phrase: str, original: str) -> str:
    """``phrase`` (lower-cased while parsing) as the user's transcript spelled it, when found."""
    m = re.search(r"\s+".join(map(re.escape, phrase.split())), original, re.IGNORECASE)
    return m[0] if m else phrase


def strip_edges(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,.?!;:")
