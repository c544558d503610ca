"""How stored facts read: second person when Samantha says them aloud ("you live in Boston"),
third person for the user's people ("Susan lives in Boston"), compact labels in the prompt
("lives in: Boston", "Susan (sister): lives in Boston"). One table each, so all stay in step."""

from __future__ import annotations

import re
from collections import OrderedDict

from .relations import KIN, PETS, RELATIONS, WORDS, canonical
from .store import Fact

# attribute -> (prompt label, spoken template with {v}; {vs} is a list of several values)
_FORMS: dict[str, tuple[str, str]] = {
    "name": ("name", "your name is {v}"),
    "lives_in": ("lives in", "you live in {v}"),
    "hometown": ("is from", "you're from {v}"),
    "job": ("works as", "you work as {a}"),
    "employer": ("works at", "you work at {v}"),
    "birthday": ("birthday", "your birthday is {v}"),
    "age": ("age", "you're {v}"),
    "allergy": ("allergic to", "you're allergic to {vs}"),
    "likes": ("likes", "you like {vs}"),
    "dislikes": ("dislikes", "you don't like {vs}"),
    "plan": ("plans", "you have plans: {vs}"),
    "note": ("asked you to remember", "you asked me to remember that {vs}"),
}
_THIRD = {"lives_in": "{s} lives in {v}", "hometown": "{s} is from {v}", "age": "{s} is {v}",
          "birthday": "{p} birthday is {v}", "job": "{s} works as {a}", "employer": "{s} works at {v}"}
ORDER = ("name", "lives_in", "hometown", "job", "employer", "birthday", "allergy")  # then the rest, oldest first

_SWAP = {"i'm": "you're", "i am": "you are", "i was": "you were", "i've": "you've", "i'll": "you'll", "i'd": "you'd",
         "i": "you", "my": "your", "mine": "yours", "myself": "yourself", "me": "you",
         "you're": "I'm", "you are": "I am", "you were": "I was", "you've": "I've", "you'll": "I'll", "you'd": "I'd",
         "your": "my", "yours": "mine", "yourself": "myself"}
_FLIP = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(_SWAP, key=len, reverse=True)) + r"|you)\b", re.I)
_SUBJECT_BEFORE = re.compile(r"(?:^|[.!?,;]\s*|\b(?:and|but|that|if|when|because|so|or|can|could|would|will|do|did"
                             r"|should|have|had)\s+)$", re.I)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)$")


def flip(text: str) -> str:
    """The user's words as Samantha would say them back, in one pass so nothing flips twice:
    "my sister" -> "your sister", "I love you" -> "you love me"."""
    def swap(m: re.Match) -> str:
        before, low = text[:m.start()], m.group(0).lower()
        if low == "you":  # the subject of a clause is "I", anything else "me"
            out = "I" if _SUBJECT_BEFORE.search(before) else "me"
        else:
            out = _SWAP[low]
        capital = _SENTENCE_START.search(before) if low.startswith("i") else m.group(0)[0].isupper()
        return out[0].upper() + out[1:] if capital else out
    return _FLIP.sub(swap, text)


def join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def grouped(facts: list[Fact]) -> "OrderedDict[str, list[str]]":
    """Values by attribute, a relation under its key whatever word it was stored with."""
    groups: OrderedDict[str, list[str]] = OrderedDict((a, []) for a in ORDER)
    for f in facts:
        values = groups.setdefault(canonical(f.attribute) if f.attribute in WORDS else f.attribute, [])
        if f.value not in values:
            values.append(f.value)
    return OrderedDict((a, vs) for a, vs in groups.items() if vs)


def label(attribute: str) -> str:
    if attribute in _FORMS:
        return _FORMS[attribute][0]
    return attribute.replace("_", " ")


def spoken(attribute: str, values: list[str]) -> str:
    values = [flip(v) for v in values]
    if attribute in _FORMS:
        v = values[-1]
        return _FORMS[attribute][1].format(v=v, vs=join(values), a=article(v))
    if attribute.startswith("favorite_"):
        return f"your favorite {attribute[9:].replace('_', ' ')} is {values[-1]}"
    if canonical(attribute) in PETS:
        return f"your {attribute} is called {values[0]}" if len(values) == 1 else f"your {attribute}s are called {join(values)}"
    if canonical(attribute) in KIN and len(values) > 1:
        return f"your {attribute}s are {join(values)}"
    return f"your {attribute.replace('_', ' ')} is {join(values)}"


def article(value: str) -> str:
    if re.match(r"(?:a|an|the)\b", value, re.I) or value[:1].isupper():
        return value
    return ("an " if value[:1].lower() in "aeiou" else "a ") + value


def line(f: Fact) -> str:
    """One fact on its own line: 'lives in: Boston', 'Susan lives in: Boston'."""
    return f"{'' if f.subject == 'user' else f.subject + ' '}{label(f.attribute)}: {f.value}"


def third(attribute: str, who: str, value: str) -> str | None:
    """A fact about one of the user's people as she says it ("your sister Susan lives in Boston")."""
    form = _THIRD.get(attribute)
    if form is None:
        return None
    return form.format(s=who, p=possessive(who), v=value, a=article(value)).strip()


def possessive(who: str) -> str:
    return (who + ("'" if who.endswith("s") else "'s")) if who else ""


def about_others(facts: list[Fact]) -> "OrderedDict[str, list[Fact]]":
    """Facts about the user's people, per person, in the order first told."""
    people: OrderedDict[str, list[Fact]] = OrderedDict()
    for f in facts:
        if f.subject != "user":
            people.setdefault(f.subject, []).append(f)
    return people


def relations(facts: list[Fact]) -> dict[str, str]:
    """name -> relation key ("Susan" -> "sister", "Linda" -> "mother" also when told as "mom"), from the facts given."""
    return {f.value: canonical(f.attribute) for f in facts if f.subject == "user" and f.attribute in WORDS}


def profile_lines(facts: list[Fact]) -> list[str]:
    """One prompt line per attribute of the user ('lives in: Boston'), then one per person
    ('Susan (sister): lives in Boston; age: two')."""
    lines = [f"{label(a)}: {'; '.join(vs)}" for a, vs in grouped([f for f in facts if f.subject == "user"]).items()]
    rel = relations(facts)
    for who, told in about_others(facts).items():
        name = who if who in WORDS else f"{who} ({rel[who]})" if who in rel else who
        lines.append(f"{name}: " + "; ".join(f"{label(f.attribute)} {f.value}" for f in told))
    return lines


def spoken_profile(facts: list[Fact], most: int = 8) -> str:
    """The answer to "what do you remember about me?", built only from the database."""
    parts = [spoken(a, vs) for a, vs in grouped([f for f in facts if f.subject == "user"]).items()]
    for who, told in about_others(facts).items():
        said = [t for t in (third(f.attribute, "", f.value) for f in told) if t]
        if said:
            parts.append(f"{'your ' + who if who in WORDS else who} {join(said)}")
    if not parts:
        return ("I don't remember anything about you yet. Tell me about yourself, or say "
                "'remember that' and I'll keep it.")
    more = " There's a little more, too." if len(parts) > most else ""
    return f"Here's what I remember: {join(parts[:most])}.{more}"


_NOT_SAID_BACK = ("plan", "note")  # a plan or a note is the user's own wording: the model talks about it


def acknowledgement(facts, relation_of, word=lambda relation: relation) -> str | None:
    """What she says to words that taught her facts, from those facts only (``FactCandidate``\\ s;
    ``relation_of(name)`` is the relation memory knows for a name; ``word(relation)`` the word the
    user said for it, "mom" for "mother"): "Nice to meet you, Alex.", "I'll remember that your
    brother Tom lives in Chicago." ``None`` when there is nothing to say."""
    name = next((f.value for f in facts if f.subject == "user" and f.attribute == "name"), None)
    named = {f.value: f.attribute for f in facts if f.subject == "user" and f.attribute in RELATIONS}
    parts: list[str] = []
    own: OrderedDict[str, list[str]] = OrderedDict()  # the user's own, by attribute: "you like jazz and hiking"
    for f in facts:
        if f.attribute in _NOT_SAID_BACK or (f.subject == "user" and f.attribute == "name"):
            continue
        if f.subject == "user":
            if f.attribute in RELATIONS and any(g.subject == f.value for g in facts):
                continue  # "my brother Tom lives in Chicago": said with what he does
            if f.attribute not in own:
                parts.append(f.attribute)  # its place, filled in below
            own.setdefault(f.attribute, []).append(f.value)
            continue
        rel = named.get(f.subject) or relation_of(f.subject)
        who = (f"your {word(rel)}" if rel == f.subject else
               f"your {word(rel)} {f.subject}" if f.subject in named and rel else f.subject)
        said = third(f.attribute, who, f.value)
        if said:
            parts.append(said)
    parts = [spoken(word(p) if p in RELATIONS else p, own[p]) if p in own else p for p in parts]
    if not parts and not name:
        return None
    out = [f"Nice to meet you, {name}."] if name else []
    if parts:
        out.append(f"I'll remember that {join(list(dict.fromkeys(parts))[:3])}.")
    return " ".join(out)
