"""The user's people and pets, from the user's words by rules: who is who ("my sister Susan",
"I have a dog called Biscuit", "Tom is my brother"), what the user says about them ("she lives
in Boston", "Tom works at a bakery", "my dog Biscuit is two"), and whom a pronoun means (the
person last named in the turn, else the one the conversation was about, if the pronoun fits).

A fact about someone is stored with that person as its subject: their name when known, else
the relation ("sister"), renamed once the name is learned. Precision over recall, as in
``rules``: a sentence about someone unknown, or a pronoun that fits nobody, yields nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .relations import FEMALE, MALE, PARTNERS, PETS, WORDS, canonical

SINGLE = {"name", "lives_in", "hometown", "job", "employer", "birthday", "age", *PARTNERS}  # one current value

_RELS = "|".join(sorted(WORDS, key=len, reverse=True))  # "my mom", "my mother"
_NOT_NAMES = ("I|I'm|I've|I'd|I'll|The|A|An|My|His|Her|Its|Their|Our|Your|This|That|These|Those|It|He|She|They|We|"
              "You|And|But|So|No|Yes|Oh|Well|Actually|Also|Now|Then|Still|Just|Anyway|Okay|OK|Hey|Hi|Samantha|"
              "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July|"
              "August|September|October|November|December|Christmas|Easter")
_WORD = rf"(?!(?:{_NOT_NAMES})\b)[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ][\w'-]*"  # "Susan", "Zoë", "Émile"
NAME = rf"{_WORD}(?:\s+{_WORD})?"
_NUMBER = (r"(?:\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen"
           r"|sixteen|seventeen|eighteen|nineteen|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
           r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|a hundred)")
AGE = rf"(?P<v>{_NUMBER}(?:\s+and\s+a\s+half)?(?:\s+(?:years?|months?|weeks?)(?:\s+old)?)?)"
VALUE = r"(?P<v>[^,.;!?]+?)"  # a value: up to the end of its clause (see CLAUSE_END)
CLAUSE_END = (r"(?=\s+(?:and|but|because|so|since|though|although|if|when|while|who|which|where|with)\b"
              r"|\s+(?:and|but)\s|[,.;!?]|$)")
_TRAILING_TIME = re.compile(r"\s+(?:last|this|next)\s+(?:week|month|year|spring|summer|fall|autumn|winter)$"
                            r"|\s+(?:a\s+(?:few|couple\s+of)\s+\w+|\w+\s+\w+)\s+ago$"
                            r"|\s+(?:in\s+\d{4}|recently|now|anymore|these\s+days|nowadays|yesterday|today|already)$",
                            re.I)
AT_END = r"(?:(?=\s+(?:at|for)\s)|" + CLAUSE_END + ")"  # "a nurse| at Mercy": the job, then where
JOB_END = r"(?=\s+(?:at|for|in|and|but|who|with|now)\b|[,.;!?]|$)"
# "a nurse", "an engineer": a job only when it looks like one (a "sweetheart" or a "good friend" is not)
_JOB_WORD = re.compile(r"(?:er|or|ist|ian|ant|ent|eon|ect|ic|man|woman|nurse|chef|cook|pilot|vet|medic|coach|"
                       r"clerk|judge|cop|barista|dentist|surgeon|farmer)$")
_NOT_JOBS = {"vegetarian", "runner", "member", "beginner", "believer", "reader", "lover", "foreigner", "stranger",
             "sweetheart", "keeper", "monster", "brother", "sister", "mother", "father", "partner", "patient",
             "parent", "student", "christian", "introvert", "extrovert", "optimist", "pessimist", "perfectionist",
             "fan", "neighbor", "neighbour", "winner", "loser", "talker", "worker", "grandmother", "grandfather",
             "republican", "survivor", "newcomer", "traveler", "traveller", "sucker", "dreamer", "gamer"}
_NOT_JOB_FIRST = {"good", "great", "bit", "little", "lot", "real", "total", "big", "nice", "lovely", "wonderful", "huge",
                  "bad", "terrible", "very", "lucky", "happy", "busy", "old", "young", "grown", "simple", "single",
                  "proud", "new", "hard", "tired", "lonely", "complete", "people", "team", "morning", "night"}
JOB = r"(?P<v>[a-z]+(?:\s+[a-z]+)?)" + JOB_END  # "a nurse", checked by looks_like_job
_ADV = r"(?:\s+(?:now|still|actually|just|recently|currently|finally|also|already|really))*"
_IS = r"(?:\s+(?:is|are)|'s|'re)"
# Words the recogniser writes in lower case that are never a name after "my sister" or "called":
# the sentence going on ("my cat is old", "my sister really loves Boston", "my brother usually
# works late"), or a compound ("my dog food is", "my cat sitter is")
_NOT_LOWER_NAMES = """
    a an the and or but nor so yet if then than that this these those who whom whose which what when where why how
    i me my mine you your he him his she her hers it its we us our they them their something someone nothing not
    is was are were be been being am has have had do does did can could shall should would might must
    says said gets got goes went lives lived works worked moved turned likes liked loves loved hates wants needs
    just really actually finally recently currently also already still now again even only always never often
    sometimes usually normally generally mostly mainly probably definitely certainly totally literally honestly
    seriously apparently obviously clearly suddenly eventually originally lately rarely seldom barely hardly nearly
    almost quite very too here there today tonight yesterday tomorrow anyway though because after before by in on at
    to for with without from of about over under into onto since during like near around
    food walker sitter bed toy toys park trainer groomer house door bowl leash collar hair fur tree litter box flap
    treats vet insurance crate cage family life time name birthday age job work car phone place group law
""".split()
_NOT_LOWER = rf"(?!(?:{'|'.join(_NOT_LOWER_NAMES)})\b)"
# after "called" or "name is" a word is a name even when the recogniser wrote it in lower case ("a dog called biscuit")
_LOWER_NAME = _NOT_LOWER + r"[a-z][a-z'-]{1,20}\b"
# right after "my cat" only when a fact about it follows ("my cat pepper is three", "my sister susan lives in
# boston"), and never a word in -ing ("my dog training is going well")
_LOWER_GIVEN = (_NOT_LOWER + r"(?![a-z]{3,}ing\b)[a-z][a-z-]{1,20}\b"
                rf"(?={_ADV}\s+(?:is|was|lives|works|moved|turned|has)\b|'s\b)")
_SUBJECT = (rf"(?:\b[Mm]y (?P<rel>{_RELS})(?:,?\s+(?P<n1>{NAME}|{_LOWER_GIVEN}))?|\b(?P<pro>[Hh]e|[Ss]he|[Tt]hey|[Ii]t)"
            rf"|(?P<n2>{NAME})),?")
_SAID = [(attr, re.compile(_SUBJECT + _ADV + rx)) for attr, rx in [
    ("lives_in", r"(?:\s+(?:lives?|is living|are living)|'s living|'re living)\s+in\s+" + VALUE + CLAUSE_END),
    ("lives_in", r"(?:\s+(?:has|have)|'s|'ve)?(?:\s+(?:just|recently|finally))?\s+moved\s+to\s+" + VALUE + CLAUSE_END),
    ("hometown", _IS + r"\s+(?:originally\s+)?from\s+" + VALUE + CLAUSE_END),
    ("employer", r"\s+works?\s+(?:at|for)\s+" + VALUE + CLAUSE_END),
    ("job", r"\s+works?\s+as\s+(?:an?\s+)?" + VALUE + AT_END),
    ("employer", r"\s+works?\s+as\s+[^,.;!?]+?\s+(?:at|for)\s+" + VALUE + CLAUSE_END),
    ("job", _IS + r"\s+an?\s+" + JOB),
    ("age", _IS + r"\s+" + AGE + r"(?:\s+now)?" + CLAUSE_END),
    ("age", r"\s+(?:just\s+)?turned\s+" + AGE + CLAUSE_END),
]] + [("birthday", re.compile(rf"(?:\b[Mm]y (?P<rel>{_RELS})'s|\b(?P<pro>[Hh]is|[Hh]er|[Tt]heir|[Ii]ts)"
                              rf"|(?P<n2>{NAME})'s)\s+birthday(?:'s|\s+is)\s+(?:on\s+)?" + VALUE + CLAUSE_END))]
_NAMING = [re.compile(rx) for rx in (
    rf"\b[Mm]y (?P<rel>{_RELS})(?:'s name is|'s name's| is called| is named| name is)\s+(?P<name>{NAME}|{_LOWER_NAME})",
    rf"\b[Mm]y (?P<rel>{_RELS}),\s+(?P<name>{NAME})",
    rf"\b[Mm]y (?P<rel>{_RELS})\s+(?P<name>{NAME}|{_LOWER_GIVEN})",
    rf"\bI(?:'ve got| have got| have) an? (?P<rel>{_RELS}),\s+(?P<name>{NAME})",
    rf"\bI(?:'ve got| have got| have) an? (?P<rel>{_RELS}) (?:called|named)\s+(?P<name>{NAME}|{_LOWER_NAME})",
    rf"(?P<name>{NAME}) is my (?P<rel>{_RELS})\b",
)]
_POSSESSIVE = {"his": "he", "her": "she", "their": "they", "its": "it"}


@dataclass(frozen=True)
class Said:
    """One fact about someone: ``subject`` is a name or a relation, or "user" for a relation fact."""

    subject: str
    attribute: str
    value: str


@dataclass
class People:
    """Who the user has named so far (relation facts: relation key -> names, latest last), and
    the person the conversation was last about, whom a pronoun in the next turn may mean."""

    names: dict[str, list[str]] = field(default_factory=dict)
    focus: str | None = None

    @classmethod
    def from_facts(cls, facts, focus: str | None = None) -> "People":
        """Read under each relation's key, whatever word a fact was stored with ("mom" in an
        older database is "mother"); a relation with one current value keeps the latest name."""
        names: dict[str, list[str]] = {}
        for f in facts:
            if f.subject == "user" and f.attribute in WORDS:
                key = canonical(f.attribute)
                told = names.setdefault(key, [])
                if key in PARTNERS:
                    told.clear()
                elif f.value in told:
                    told.remove(f.value)
                told.append(f.value)
        return cls(names, focus)

    def relation(self, subject: str) -> str | None:
        """"sister" for Susan (the latest relation named), and for the subject "sister" itself."""
        if subject in WORDS:
            return canonical(subject)
        found = [rel for rel, names in self.names.items() if subject in names]
        return found[-1] if found else None

    def subject_for(self, relation: str) -> str:
        """Facts about "my sister" go to her name once it is known; until then to the relation's key."""
        key = canonical(relation)
        named = self.names.get(key)
        return named[-1] if named else key

    def name(self, relation: str) -> str | None:
        named = self.names.get(canonical(relation))
        return named[-1] if named else None

    def knows(self, name: str) -> bool:
        return any(name in names for names in self.names.values())


def _capital(name: str) -> str:
    return name[0].upper() + name[1:]


def fits(pronoun: str, relation: str | None) -> bool:
    """Whether "she" can mean a sister (yes), a brother (no), a friend (yes) or a dog (yes)."""
    pronoun = _POSSESSIVE.get(pronoun, pronoun)
    if relation is None:
        return pronoun != "it"
    if relation in PETS:
        return pronoun in ("it", "he", "she")
    if pronoun == "it":
        return False
    return not ((pronoun == "she" and relation in MALE) or (pronoun == "he" and relation in FEMALE))


def read_people(sentences: list[str], people: People) -> list[Said]:
    """Relation facts and facts about people, in the order they were said, with pronouns bound;
    ``people.focus`` becomes whom the turn was last about."""
    events = []  # ((sentence, position, naming first), relation, name, match, (attribute, value)), in speech order
    for i, sentence in enumerate(sentences):
        for rx in _NAMING:
            events += [((i, m.start(), 0), canonical(m.group("rel")), _capital(m.group("name")), None, None)
                       for m in rx.finditer(sentence)]
        for attr, rx in _SAID:
            for m in rx.finditer(sentence):
                value = _value(attr, m.group("v"))
                if value:
                    events.append(((i, m.start(), 1), None, None, m, (attr, value)))
    out: list[Said] = []
    turn: dict[str, str] = {}  # names said in this turn -> their relation
    for _, rel, name, m, said in sorted(events, key=lambda e: e[0]):
        if said is None:
            out.append(Said("user", rel, name))
            turn[name] = rel
            people.focus = name
            continue
        subject = _subject(m, people, turn)
        if subject is None:
            continue
        attr, value = said
        if attr == "job" and (people.relation(subject) or turn.get(subject)) in PETS:
            continue  # "my dog is a labrador" is no job
        if m.groupdict().get("n1"):
            out.append(Said("user", canonical(m.group("rel")), subject))
            turn[subject] = canonical(m.group("rel"))
        out.append(Said(subject, attr, value))
        people.focus = subject
    return out


def _subject(m: re.Match, people: People, turn: dict[str, str]) -> str | None:
    groups = m.groupdict()
    if groups.get("rel"):
        rel = canonical(groups["rel"])
        if groups.get("n1"):
            return _capital(groups["n1"])  # "pepper", as the recogniser may write it
        named = [n for n, r in turn.items() if r == rel]
        return named[-1] if named else people.subject_for(rel)
    if groups.get("n2"):
        name = groups["n2"]
        return name if name in turn or people.knows(name) else None
    pronoun = groups["pro"].lower()
    focus = people.focus
    if focus is None:
        return None
    return focus if fits(pronoun, turn.get(focus) or people.relation(focus)) else None


def _value(attr: str, raw: str) -> str | None:
    value = clean(raw)
    if not value or len(value.split()) > 6 or value.lower() in ("there", "here", "it", "that", "this", "them"):
        return None
    if attr == "job" and not looks_like_job(value):
        return None
    if attr == "age":
        value = age(value)
    return value[0].upper() + value[1:] if attr in ("lives_in", "hometown") else value


def clean(value: str) -> str:
    """A value without quotes or a trailing time ("Boston last month" -> "Boston")."""
    value = value.strip(" '\"")
    while True:
        trimmed = _TRAILING_TIME.sub("", value)
        if trimmed == value:
            return value.strip()
        value = trimmed


def looks_like_job(value: str) -> bool:
    """"nurse", "software engineer": yes; "sweetheart", "good friend", "vegetarian": no."""
    words = value.lower().split()
    return bool(words) and len(words) <= 2 and words[-1] not in _NOT_JOBS and bool(_JOB_WORD.search(words[-1])) \
        and words[0] not in _NOT_JOB_FIRST


def age(value: str) -> str:
    """"two years old" -> "two"; "six months old" stays."""
    return re.sub(r"\s+years?(?:\s+old)?$", "", value)
