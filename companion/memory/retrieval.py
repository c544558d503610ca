"""What memory adds to the system prompt before each reply, inside a hard token budget:
how long since you last talked, the user's profile (facts related to what was just said
first), the last conversation's summary, and past snippets found by FTS5/BM25."""

from __future__ import annotations

import math
import re
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
                  postings: int = POSTINGS) -> list[Snippet]:
    """Past turns for ``text`` by BM25, at a bounded cost: ranking costs about 3 µs per matching
    turn, so the rarest terms are kept while their turns add up to ``postings``; words said in
    thousands of turns carry almost no BM25 weight anyway. When every term is that common,
    only the latest ``postings`` turns are ranked."""
    counted = sorted((store.turns_with(t, postings), t) for t in query_terms(text))
    kept, total = [], 0
    for count, term in counted:
        if count and total + count <= postings:
            kept.append(term)
            total += count
    if kept:
        return store.search_turns(" OR ".join(kept), k, exclude_session)
    common = [t for count, t in counted if count][:3]
    return store.search_turns(" OR ".join(common), k, exclude_session, after_id=store.last_turn_id() - postings)


def build_context(store: MemoryStore, text: str, now: datetime, session_id: int | None, budget: int,
                  snippets: int = 3) -> str:
    """The memory section of the system prompt, at most ``budget`` tokens (by :func:`tokens`)."""
    picked = _Budget(budget - tokens(HEADER) - 1)
    previous = store.previous_session(session_id)
    since = picked.add("since", _since(previous[1], now)) if previous else None
    facts = _prioritised(store.facts(), store.search_facts(match_query(text), limit=10))
    chosen = [f for f in facts if picked.add("facts", f"{phrasing.label(f.attribute)}: {f.value};")]
    summary = None
    if previous:
        summary = picked.add("summary", "Last conversation: " + (store.summary(previous[0]) or _extract(store, previous[0])))
    found = [s for s in related_turns(store, text, snippets, session_id) if picked.add("snippets", _snippet(s))]
    if not (since or chosen or summary or found):
        return ""
    parts = [HEADER]
    if since:
        parts.append(since)
    if chosen:
        parts.append("About the user:\n" + "\n".join(phrasing.profile_lines(chosen)))
    if summary:
        parts.append(summary)
    if found:
        parts.append("Possibly relevant, from earlier:\n" + "\n".join(_snippet(s) for s in found))
    return "\n".join(parts)


class _Budget:
    """Greedy admission by priority; each section pays once for its heading line."""

    HEADINGS = {"facts": "About the user:", "snippets": "Possibly relevant, from earlier:"}

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


def _prioritised(facts: list[Fact], related: list[Fact]) -> list[Fact]:
    """Core profile first, then facts related to what was just said, then the newest."""
    core = [f for f in facts if f.attribute in phrasing.ORDER]
    core.sort(key=lambda f: phrasing.ORDER.index(f.attribute))
    rest = sorted((f for f in facts if f.attribute not in phrasing.ORDER), key=lambda f: -f.id)
    related_ids = [f.id for f in related]
    rest.sort(key=lambda f: related_ids.index(f.id) if f.id in related_ids else len(related_ids))
    return core + rest


def _since(last: str, now: datetime) -> str:
    then = datetime.fromisoformat(last)
    days = (now.date() - then.date()).days
    ago = {0: "earlier today", 1: "yesterday"}.get(days, f"{days} days ago")
    if days < 0:
        ago = "recently"
    return f"You last talked with the user {ago} ({then:%A, %B %-d})."


def _extract(store: MemoryStore, session_id: int, most: int = 3) -> str:
    """Without a model summary: the user's last few words from that conversation, quoted."""
    said = [t.text for t in store.session_turns(session_id, last=2 * most) if t.role == "user"][-most:]
    return "the user said " + " / ".join(f'"{_clip(t, 120)}"' for t in said)


def _snippet(s: Snippet) -> str:
    who = "the user said" if s.role == "user" else "you said"
    return f"- {datetime.fromisoformat(s.created_at):%B %-d, %Y}, {who}: \"{_clip(s.text, 200)}\""


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most].rsplit(" ", 1)[0] + "…"
