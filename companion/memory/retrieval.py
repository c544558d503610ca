"""What memory adds to the system prompt before each reply, inside a hard token budget, in
two parts: the standing part (how long since you last talked, the user's profile, the last
conversation's summary), which the server reads ahead between turns, and what the user's
words recall (related facts the profile had no room for, past turns found by FTS5/BM25)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from . import phrasing
from .store import Fact, MemoryStore, Snippet

STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing don down during each few for from further had has have having
he her here hers herself him himself his how i i'm if in into is it its itself just let's me more most my myself no nor
not now of off on once only or other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves yeah oh um uh okay ok really like
also get got know think tell said say told samantha hi hey well""".split())
# Past turns come back as the user's words only, turned to how she would say them to the user
# ("you're training for a marathon"): without a date, quotes or "the user said", which a small
# model reads aloud; and never her own replies, which a small model invents and would then
# repeat as if the user had said them (her replies stay in the database, as hers).
SNIPPETS = "Earlier, the user told you (as you would say it back):"
RECALL_SHARE = 8  # 1/8 of the budget is kept for what the words recall, even under a long profile
POSTINGS = 2500  # matching turns ranked per search: about 8 ms on one core
HEADER = ("Memory from earlier conversations (facts are in the user's own words). Use it when it helps; "
          "if asked about something not listed here, say you don't remember.")


def tokens(text: str) -> int:
    """A deliberately high token estimate (3.5 characters a token), so the budget is never exceeded
    by a real tokenizer on ordinary English."""
    return math.ceil(len(text) / 3.5)


def query_terms(text: str, most: int = 16) -> list[str]:
    """Content words of free text, each quoted as an FTS5 phrase so that nothing the user says
    can be read as FTS syntax."""
    words = []
    for w in re.findall(r"[\w']+", text.lower()):
        w = re.sub(r"'s$|'", "", w)
        if len(w) > 1 and w not in STOPWORDS and w not in words:
            words.append(w)
    return [f'"{w}"' for w in words[:most]]


def match_query(text: str) -> str:
    return " OR ".join(query_terms(text))


def related_turns(store: MemoryStore, text: str, k: int, exclude_session: int | None = None,
                  postings: int = POSTINGS, role: str | None = None) -> list[Snippet]:
    """Past turns for ``text`` by BM25 (only ``role``'s when given), at a bounded cost (see
    :func:`_bounded_match`)."""
    match, after = _bounded_match(store.turns_with, store.last_turn_id, text, postings)
    return store.search_turns(match, k, exclude_session, after_id=after, role=role) if match else []


def related_facts(store: MemoryStore, text: str, k: int, postings: int = POSTINGS) -> list[Fact]:
    """Current facts for ``text`` by BM25, at a bounded cost (see :func:`_bounded_match`)."""
    match, after = _bounded_match(store.facts_with, store.last_fact_id, text, postings)
    return store.search_facts(match, k, after_id=after) if match else []


def _bounded_match(count, last_id, text: str, postings: int) -> tuple[str, int]:
    """An FTS5 query for ``text`` whose ranking stays cheap however large the memory: ranking
    costs about 3 µs per matching row, so the rarest terms are kept while their rows add up to
    ``postings``; words found in thousands of rows carry almost no BM25 weight anyway. When
    every term is that common, only the latest ``postings`` rows are ranked (the second value:
    rows with an id above it)."""
    counted = sorted((count(t, postings), t) for t in query_terms(text))
    kept, total = [], 0
    for n, term in counted:
        if n and total + n <= postings:
            kept.append(term)
            total += n
    if kept:
        return " OR ".join(kept), 0
    common = [t for n, t in counted if n][:3]
    return " OR ".join(common), max(0, last_id() - postings)


@dataclass(frozen=True)
class Standing:
    """The part of memory that does not depend on the user's words: the header, how long since
    you last talked, the profile and the last conversation. It is the same for every turn until
    a fact changes or the day does, so the server reads it between turns, not after the user
    has spoken (a lived-in memory is ~250 tokens: most of a second on two cores)."""

    text: str = ""
    shown: frozenset[int] = frozenset()  # ids of the facts it lists

    @property
    def cost(self) -> int:
        """Its tokens, by :func:`tokens`."""
        return tokens(self.text)


def standing_context(store: MemoryStore, now: datetime, session_id: int | None, budget: int) -> Standing:
    """At most ``budget`` less an eighth (kept for what the words recall), core profile first."""
    picked = _Budget(budget - budget // RECALL_SHARE - tokens(HEADER) - 1)
    previous = store.previous_session(session_id)
    since = picked.add("since", _since(previous[1], now)) if previous else None
    # a fact's line costs at least 3 tokens, so no more than left // 3 of the newest can fit
    candidates = store.profile_facts(phrasing.ORDER, newest=max(1, picked.left // 3))
    chosen = [f for f in _profile_order(candidates) if picked.add("facts", _fact_line(f))]
    summary = None
    if previous:
        summary = picked.add("summary", "Last conversation: " + (store.summary(previous[0]) or _extract(store, previous[0])))
    if not (since or chosen or summary):
        return Standing()
    parts = [HEADER, *([since] if since else [])]
    if chosen:
        parts.append("About the user:\n" + "\n".join(phrasing.profile_lines(chosen)))
    text = "\n".join(parts + ([summary] if summary else []))
    return Standing(text, frozenset(f.id for f in chosen))


def recalled_context(store: MemoryStore, text: str, session_id: int | None, budget: int, snippets: int,
                     standing: Standing, most: int = 0) -> str:
    """What the user's words bring back, in what ``standing`` left of ``budget`` and, with
    ``most``, in at most that many tokens (the model reads this part after the user stops:
    every token is a few ms on a small CPU model): facts related to the words that the profile
    had no room for, then past turns of the user's found by search. Her own past replies are
    not offered: a small model quotes them back as "you said: …", putting her words in the
    user's mouth, and they only restate the user's words or her guesses."""
    header = 0 if standing.text else tokens(HEADER) + 1
    left = budget - (standing.cost + 1 if standing.text else header)
    picked = _Budget(min(left, most - header) if most else left)
    related = [f for f in related_facts(store, text, 10) if f.id not in standing.shown]
    chosen = [f for f in related if picked.add("related", _fact_line(f))]
    found = [s for s in related_turns(store, text, snippets, session_id, role="user") if picked.add("snippets", _snippet(s))]
    if not (chosen or found):
        return ""
    parts = [] if standing.text else [HEADER]
    if chosen:
        parts.append("Also about the user:\n" + "\n".join(phrasing.profile_lines(chosen)))
    if found:
        parts.append(f"{SNIPPETS}\n" + "\n".join(_snippet(s) for s in found))
    return "\n".join(parts)


def build_context(store: MemoryStore, text: str, now: datetime, session_id: int | None, budget: int,
                  snippets: int = 3) -> str:
    """Both parts as one text, at most ``budget`` tokens (by :func:`tokens`), as the model reads them."""
    standing = standing_context(store, now, session_id, budget)
    recalled = recalled_context(store, text, session_id, budget, snippets, standing)
    return "\n".join(p for p in (standing.text, recalled) if p)


class _Budget:
    """Greedy admission by priority; each section pays once for its heading line."""

    HEADINGS = {"facts": "About the user:", "related": "Also about the user:", "snippets": SNIPPETS}

    def __init__(self, left: int):
        self.left = left
        self.opened: set[str] = set()

    def add(self, section: str, line: str) -> str | None:
        cost = tokens(line) + 1 + (tokens(self.HEADINGS.get(section, "")) + 1 if section not in self.opened else 0)
        if cost > self.left:
            return None
        self.left -= cost
        self.opened.add(section)
        return line


def _fact_line(f: Fact) -> str:
    """A fact as the budget counts it (the prompt groups them per attribute: ``profile_lines``)."""
    return phrasing.line(f) + ";"


def _profile_order(facts: list[Fact]) -> list[Fact]:
    """Core profile first (name, where they live...), then the newest: an order that does not
    depend on the words, so the standing part stays the same from turn to turn."""
    core = [f for f in facts if f.subject == "user" and f.attribute in phrasing.ORDER]
    core.sort(key=lambda f: phrasing.ORDER.index(f.attribute))
    return core + sorted((f for f in facts if f not in core), key=lambda f: -f.id)


def _since(last: str, now: datetime) -> str:
    then = datetime.fromisoformat(last)
    days = (now.date() - then.date()).days
    ago = {0: "earlier today", 1: "yesterday"}.get(days, f"{days} days ago")
    if days < 0:
        ago = "recently"
    return f"You last talked with the user {ago} ({then:%A, %B %-d})."


def _extract(store: MemoryStore, session_id: int, most: int = 3) -> str:
    """Without a model summary: the user's last few statements in that conversation, as she
    would say them back (see SNIPPETS)."""
    said = [t.text for t in store.session_turns(session_id, last=4 * most)
            if t.role == "user" and not t.text.rstrip().endswith("?")][-most:]  # what they said, not what they asked
    return "the user told you (as you would say it back): " + " ".join(_said_back(t, 120) for t in said)


def _snippet(s: Snippet) -> str:
    return "- " + _said_back(s.text, 200)


def _said_back(text: str, most: int) -> str:
    """"I'm training for the marathon." -> "you're training for the marathon." """
    text = phrasing.flip(_clip(" ".join(text.split()), most))
    return text[:1].upper() + text[1:] if text.endswith((".", "!", "?", "…")) else text + "."


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most].rsplit(" ", 1)[0] + "…"
