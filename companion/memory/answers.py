"""Personal questions answered from the fact store, never by the model: "where does my sister
live?", "what's my dog called?", "when is my birthday?", "what do I do?", "who is Tom?". The
answer is a sentence made from the user's own stated facts (a small model would guess, and
her own earlier replies are no source), or "I don't think you've told me …" when nothing is
stored. Only questions about the user, their relations ("my …") or a person they have named
are taken; "where does the sun rise?" or "who is the president?" go to the model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from . import phrasing
from .people import NAME, People, fits
from .relations import FEMALE, MALE, PETS, WORDS, aliases, canonical
from .store import Fact

_RELS = "|".join(sorted(WORDS, key=len, reverse=True))  # "my mom", "my mother"
_S = rf"(?:(?P<me>I|me)|my (?P<rel>{_RELS})(?: (?P<n1>{NAME}))?|(?P<name>{NAME})|(?P<pro>he|she|it|they))"  # about whom
_P = rf"(?:my (?P<rel>{_RELS})'s|(?P<me>my)|(?P<name>{NAME})'s|(?P<pro>his|her|its|their))"  # whose
_WORK = r"(?: for (?:a )?(?:living|work))?"
_NOW = r"(?: now| these days| nowadays)?"
_TOPICS: list[tuple[str, re.Pattern]] = [(topic, re.compile(rx)) for topic, rx in [
    ("lives_in", rf"where (?:does|do|did) {_S} (?:live|stay){_NOW}"),
    ("lives_in", rf"where(?: is|'s| am| are) {_S} (?:living|staying|based){_NOW}"),
    ("lives_in", rf"where {_S} (?:lives?|is living|'s living|am living|'m living){_NOW}"),
    ("lives_in", rf"what (?:city|town|country) (?:does|do) {_S} live in"),
    ("lives_in", rf"where did I (?:say|tell you) {_S} (?:lives?|is living)"),
    ("work", rf"what (?:does|do) {_S} do{_WORK}"),
    ("work", rf"what {_S} (?:does|do){_WORK}"),
    ("work", rf"where (?:does|do) {_S} work"),
    ("work", rf"where {_S} works?"),
    ("work", rf"what(?:'s| is) {_P} (?:job|work|occupation|profession)"),
    ("hometown", rf"where(?: is|'s| am| are) {_S} (?:originally )?from"),
    ("hometown", rf"where {_S} (?:is|'s|am|'m|are) (?:originally )?from"),
    ("hometown", rf"where did {_S} grow up"),
    ("age", rf"how old(?: is|'s| am| are) {_S}"),
    ("age", rf"how old {_S} (?:is|am|'m|are)"),
    ("age", rf"what(?:'s| is) {_P} age"),
    ("birthday", rf"when(?:'s| is) {_P} birthday"),
    ("birthday", rf"when {_P} birthday is"),
    ("birthday", rf"when (?:was|were) {_S} born"),
    ("name", rf"what(?:'s| is) {_P} name"),
    ("name", rf"what {_P} name is"),
    ("name", rf"{_P} name"),  # "do you remember my dog's name?"
    ("name", rf"what(?:'s| is) my (?P<rel>{_RELS})(?:'s)? (?:called|named)"),
    ("name", rf"what my (?P<rel>{_RELS}) is called"),
    ("name", rf"who(?:'s| is) my (?P<rel>{_RELS})"),
    ("who", rf"who(?:'s| is) (?P<name>{NAME})"),
    ("who", rf"(?:what do you know |what did I (?:tell you|say) )?about (?:my (?P<rel>{_RELS})|(?P<name>{NAME}))"),
    ("who", rf"my (?P<rel>{_RELS})"),  # "do you remember my brother?"
    ("allergy", r"what (?:am I|I'm|I am) allergic to|what are my allergies|am I allergic to anything"),
    ("likes", r"what (?:do I|I) (?:like|love|enjoy)"),
    ("favorite", r"what(?:'s| is) my favou?rite (?P<what>[a-z]+(?: [a-z]+)?)"),
]]
_LEAD = re.compile(r"^(?:(?:hey|hi|okay|ok|so|and|um|uh|oh|well|samantha|please)\b[,\s]*)*"
                   r"(?:(?:do|did) you (?:know|remember)|(?:can|could) you (?:tell me|remind me)|tell me|remind me"
                   r"|i forgot|i forget)?[,\s]*", re.I)
_MISSING = {  # topic -> (about the user, about someone else): "I don't think you've told me …"
    "lives_in": ("where you live", "where {s} lives"), "hometown": ("where you're from", "where {s} is from"),
    "age": ("how old you are", "how old {s} is"), "birthday": ("when your birthday is", "when {p} birthday is"),
    "work": ("what you do", "what {s} does"), "name": ("your name", "{p} name"),
    "allergy": ("about any allergies", ""), "likes": ("what you like", ""),
}


@dataclass(frozen=True)
class Answer:
    """The spoken reply, and whom the question was about (a pronoun next turn may mean them)."""

    reply: str
    about: str | None = None


def answer(text: str, facts: Callable[[], list[Fact]] | list[Fact], people: People) -> Answer | None:
    """The reply to a personal question in ``text`` from ``facts`` (current ones; a callable is
    called only when ``text`` is such a question), or ``None`` when it is not one (the model
    answers it)."""
    core = _LEAD.sub("", text.strip(), count=1)
    core = re.sub(r"[\s,]*(?:please|again)?[.!?]*$", "", core)
    if core[:1].isupper() and core[1:2].islower():
        core = core[0].lower() + core[1:]  # sentence case: "Where" is a word, "Tom" stays a name
    for topic, rx in _TOPICS:
        m = rx.fullmatch(core)
        if m:
            return _reply(topic, m.groupdict(), facts() if callable(facts) else facts, people)
    return None


@dataclass(frozen=True)
class _Who:
    key: str  # "user", a name, or a relation whose name is unknown
    relation: str | None  # its key: "mother"
    said: str  # as she names them to the user: "your sister Susan", "Tom", "your mom Linda"
    word: str | None = None  # the relation as the user just said it: "mom"


def _reply(topic: str, g: dict, facts: list[Fact], people: People) -> Answer | None:
    if topic == "favorite":
        what = g["what"]
        values = _values(facts, "user", "favorite_" + what.replace(" ", "_"))
        return Answer(f"Your favorite {what} is {values[-1]}." if values else _not_told(f"your favorite {what}"))
    who = _Who("user", None, "you") if topic in ("allergy", "likes") else _who(g, people)  # asked only by "I"
    if who is None or (g.get("pro") == "it" and topic == "work"):  # "what does it do?" asks about a thing
        return None
    if topic == "who":
        return _who_is(who, facts)
    if topic == "name" and who.relation and who.key != "user":
        names = People.from_facts(facts).names.get(who.relation, [])
        word = who.word or who.relation
        if not names:
            return Answer(_not_told(f"your {word}'s name"), who.relation)
        said = phrasing.spoken(word, names) if who.relation in PETS or len(names) > 1 else \
            f"your {word}'s name is {names[-1]}"
        return Answer(_sentence(said), names[-1])
    about = _about(who, facts)
    if who.key == "user":
        return _users(topic, about)
    attrs = ("job", "employer") if topic == "work" else (topic,)
    found = [(a, about[a][-1]) for a in attrs if about.get(a)]
    if not found:
        return Answer(_not_told(_MISSING[topic][1].format(s=who.said, p=phrasing.possessive(who.said))), who.key)
    if len(found) == 2:  # "Tom works as a baker at the bakery on Main Street"
        said = f"{who.said} works as {phrasing.article(found[0][1])} at {found[1][1]}"
    else:
        a, v = found[0]
        said = phrasing.third(a, who.said, v)
    return Answer(_sentence(said), who.key)


def _users(topic: str, about: dict[str, list[str]]) -> Answer:
    if topic == "work" and about.get("job") and about.get("employer"):
        return Answer(_sentence(f"you work as {phrasing.article(about['job'][-1])} at {about['employer'][-1]}"))
    attrs = ("job", "employer") if topic == "work" else (topic,)
    parts = [phrasing.spoken(a, about[a]) for a in attrs if about.get(a)]
    if not parts:
        return Answer(_not_told(_MISSING[topic][0]))
    return Answer(_sentence(parts[0]))


def _who(g: dict, people: People) -> _Who | None:
    if g.get("me"):
        return _Who("user", None, "you")
    if g.get("rel"):
        word, rel = g["rel"], canonical(g["rel"])
        key = g["n1"] if g.get("n1") and people.knows(g["n1"]) else people.subject_for(rel)
        return _Who(key, rel, f"your {word}" + (f" {key}" if key != rel else ""), word)
    name = g.get("name")
    if name:
        return _Who(name, people.relation(name), name) if people.knows(name) else None
    if g.get("pro") and people.focus and fits(g["pro"], people.relation(people.focus)):
        focus = people.focus
        rel = people.relation(focus)
        return _Who(focus, rel, focus if focus != rel else f"your {rel}")
    return None


def _who_is(who: _Who, facts: list[Fact]) -> Answer:
    """"Tom is your brother. He lives in Chicago and works at a bakery." """
    about = _about(who, facts)
    word = who.word or who.relation
    if who.key == who.relation:  # "tell me about my wife", her name unknown
        if not about:
            return Answer(_not_told(f"about your {word}"), who.key)
        first = f"You've told me about your {word}."
    else:
        first = f"{who.key} is your {word}." if who.relation else f"You've told me about {who.key}."
    details = [phrasing.third(a, "", about[a][-1]) for a in ("lives_in", "job", "employer", "age", "hometown")
               if about.get(a)]
    if not details:
        return Answer(first, who.key)
    pronoun = "He" if who.relation in MALE else "She" if who.relation in FEMALE else who.key
    return Answer(f"{first} {pronoun} {phrasing.join(details)}.", who.key)


def _about(who: _Who, facts: list[Fact]) -> dict[str, list[str]]:
    """The current facts about one subject (a person's own and any told under their relation,
    by any of its words: "mom" in an older database)."""
    keys = {who.key} | (set(aliases(who.relation)) if who.relation and who.key != "user" else set())
    out: dict[str, list[str]] = {}
    for f in facts:
        if f.subject in keys:
            out.setdefault(f.attribute, []).append(f.value)
    return out


def _values(facts: list[Fact], subject: str, attribute: str) -> list[str]:
    return [f.value for f in facts if f.subject == subject and f.attribute == attribute]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _not_told(what: str) -> str:
    return f"I don't think you've told me {what}."


# "what was I just asking you about?": answered from this conversation's own turns, the user's words
_ASKED_BEFORE = re.compile(
    r"^(?:(?:so|and|um|oh|wait|sorry|hey|samantha)\b[,\s]*)*(?:what|which) (?:was|were|did) (?:I|we)(?: just)? "
    r"(?:asking(?: you)?|saying|talking|telling you|ask(?: you)?|say|tell you|talk)(?: about)?"
    r"(?: (?:before|earlier|just now|a (?:moment|minute|second) ago|last))?[\s,.?!]*$", re.I)
# a follow-up that names nothing itself ("tell me another one", "and then?"): the turn before it is what was asked
_ANAPHORIC = re.compile(r"^(?:and|so|what about|how about|tell me (?:another|more)|another|more|why|really|ok|okay|yes|no)\b"
                        r"|\b(?:another one|one more|that one|more about (?:it|that|them))\b", re.I)
_IMPERATIVE = re.compile(r"^(?:please\s+)?(?:can you |could you )?(tell|give|show|teach|explain|read|find)\s+me\b", re.I)


def is_asked_before(text: str) -> bool:
    return bool(_ASKED_BEFORE.match(text.strip()))


def asked_before(text: str, earlier: list[str]) -> str | None:
    """"What was I just asking you about?" -> "You asked me to tell you a fun fact about
    octopuses.", from ``earlier`` (the user's turns this conversation, oldest first, without
    this one); ``None`` when ``text`` is not such a question."""
    from ..skills.wording import second_person

    if not _ASKED_BEFORE.match(text.strip()):
        return None
    turns = [t.strip() for t in earlier if t.strip() and not _ASKED_BEFORE.match(t.strip())]
    if not turns:
        return "We've only just started talking, so you haven't asked me anything yet."
    said = turns[-1]
    for t in reversed(turns):  # "tell me another one" points back at what it continues
        said = t
        if not (_ANAPHORIC.search(t) and len(t.split()) <= 6):
            break
    asked = said.rstrip().endswith("?")
    said = re.sub(r"^(?:(?:hey|hi|ok|okay|so|and|um|oh|well|samantha)\b[,\s]*)+", "", said).rstrip(" .!?")
    if m := _IMPERATIVE.match(said):
        return _sentence(f"you asked me to {m[1].lower()} you{second_person(said[m.end():])}")
    said = second_person(said[0].lower() + said[1:])
    return _sentence(f"you asked me {said}" if asked else f"you said {said}")
