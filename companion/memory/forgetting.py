"""Forgetting a fact: the fact goes, and so does every stored sentence that states it, the
user's and hers (turns, what was heard of her replies, session summaries), so that neither
search, an export nor a prompt can bring it back. The rest of those turns stays: "forget my
allergy" must not take "my name is Ann" with it."""

from __future__ import annotations

import re

from .retrieval import query_terms
from .store import MemoryStore

_SENTENCES = re.compile(r"(?<=[.!?…])\s+")
# "My name is Ann and I'm allergic to peanuts": a new subject after "and"/"but" starts a new clause
_CLAUSES = re.compile(r"(,?\s+(?:and|but|also)\s+)(?=(?:i|i'm|i've|i'd|my|you|you're|your|we)\b)", re.I)


def forget_facts(store: MemoryStore, ids: list[int]) -> int:
    """Delete facts ``ids`` and cut every sentence stating one of them out of memory; returns
    how many facts went."""
    with store.transaction():
        facts = store.facts_by_id(ids)
        if not facts:
            return 0
        states = _stating([f.value for f in facts])
        terms = sorted({t for f in facts for t in query_terms(f.value) or [_phrase(f.value)]})
        for turn in store.turns_matching(" OR ".join(terms)):
            spoken = redact(turn["spoken"], states) if turn["spoken"] is not None else None
            text = redact(turn["text"], states)
            if text != turn["text"] or spoken != turn["spoken"]:
                store.revise_turn(turn["id"], text, spoken)
        for summary_id, text in store.summaries():
            if (kept := redact(text, states)) != text:
                store.revise_summary(summary_id, kept)
        return store.delete_facts([f.id for f in facts])


def redact(text: str, states) -> str:
    """``text`` without the sentences (or clauses joined by "and I…") for which ``states`` is true."""
    kept = []
    for sentence in _SENTENCES.split(text.strip()):
        parts = _CLAUSES.split(sentence)  # clause, joint, clause, joint, clause…
        clauses, joints = parts[0::2], [""] + parts[1::2]
        if not any(states(c) for c in clauses):
            kept.append(sentence)
            continue
        pieces = [(joint, c) for joint, c in zip(joints, clauses) if not states(c)]
        left = "".join((joint if n else "") + c for n, (joint, c) in enumerate(pieces))
        if left.strip():
            end = sentence[-1] if sentence[-1] in ".!?…" and left[-1] not in ".!?…" else ""
            kept.append(left[0].upper() + left[1:] + end)
    return " ".join(kept)


def _stating(values: list[str]):
    """Whether a piece of text states one of ``values``: it has every content word of one of
    them (a plural or other ending still counts: "peanut" states "peanuts")."""
    patterns = []
    for value in values:
        words = [t.strip('"') for t in query_terms(value)] or re.findall(r"[\w']+", value.lower())
        patterns.append([re.compile(rf"\b{re.escape(_stem(w))}\w*", re.I) for w in words])
    return lambda text: any(words and all(p.search(text) for p in words) for words in patterns)


def _phrase(text: str) -> str:
    """``text`` as one FTS5 phrase, whatever it holds."""
    return '"' + text.replace('"', '""') + '"'


def _stem(word: str) -> str:
    return re.sub(r"(?:es|s)$", "", word) if len(word) > 4 else word
