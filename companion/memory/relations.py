"""The words for the user's relations, each relation under one key: "mom", "mum" and "mother"
are one person to remember, so what was told as "my mom" answers "where does my mother live?"
and a correction told with either word replaces the other's. Facts are stored under the key;
older databases hold the other words as keys too, so everything that reads a relation reads
it through :func:`canonical` or :func:`aliases`. Replies name the person with the word the
user just used ("your mom")."""

from __future__ import annotations

import re

PARTNERS = ("wife", "husband", "partner", "girlfriend", "boyfriend", "fiancee", "fiance", "mother", "father", "boss")
KIN = ("sister", "brother", "son", "daughter", "child", "friend", "best friend", "cousin", "aunt", "uncle",
       "grandmother", "grandfather", "niece", "nephew", "roommate", "colleague", "neighbor")
PETS = ("dog", "cat", "parrot", "rabbit", "hamster", "horse", "bird", "fish", "turtle", "snake", "guinea pig")
RELATIONS = PARTNERS + KIN + PETS  # the keys facts are stored under
SYNONYMS: dict[str, tuple[str, ...]] = {  # key -> the other words for the same relation
    "mother": ("mom", "mum", "mommy", "mummy", "mama", "momma", "ma"),
    "father": ("dad", "daddy", "papa", "pa"),
    "grandmother": ("grandma", "granny", "gran", "nana", "nan"),
    "grandfather": ("grandpa", "granddad", "grandad", "gramps"),
    "husband": ("hubby",),
    "partner": ("spouse",),
    "fiancee": ("fiancée",),
    "fiance": ("fiancé",),
    "boss": ("manager", "supervisor"),
    "child": ("kid",),
    "friend": ("buddy", "pal"),
    "best friend": ("bestie",),
    "aunt": ("auntie", "aunty"),
    "roommate": ("flatmate", "housemate"),
    "colleague": ("coworker", "co-worker"),
    "neighbor": ("neighbour",),
    "dog": ("puppy", "doggy", "doggie"),
    "cat": ("kitten", "kitty"),
    "rabbit": ("bunny",),
}
FEMALE = {"wife", "girlfriend", "fiancee", "mother", "sister", "daughter", "aunt", "grandmother", "niece"}
MALE = {"husband", "boyfriend", "fiance", "father", "brother", "son", "uncle", "grandfather", "nephew"}

_KEY = {word: key for key, words in SYNONYMS.items() for word in words}
WORDS = RELATIONS + tuple(_KEY)  # every word for a relation: what the user may say, what a database may hold


def canonical(word: str) -> str:
    """The key a relation word is stored under ("Mom" -> "mother"); any other word, lower-cased."""
    low = word.lower()
    return _KEY.get(low, low)


def aliases(word: str) -> tuple[str, ...]:
    """Every word for the relation ``word`` names, its key first (what a stored fact may be
    under); ``(word,)`` for anything else (a name, "user", "lives_in")."""
    if word not in _KEY and word not in RELATIONS:
        return (word,)
    key = canonical(word)
    return (key, *SYNONYMS.get(key, ()))


def said_as(key: str, text: str) -> str:
    """The word ``text`` uses for the relation ``key`` ("Actually, my mom moved" -> "mom"), so
    she says it back the same way; the key when ``text`` names it otherwise."""
    words = "|".join(re.escape(w) for w in sorted(aliases(key), key=len, reverse=True))
    m = re.search(rf"\bmy ({words})\b", text, re.I)
    return m.group(1).lower() if m else key
