"""Memory writing by a capable model, off the reply path: a worker thread takes turns and
finished sessions from a queue, asks for JSON-schema constrained facts or a short summary,
validates them against the user's own words, and stores what survives. Any failure leaves the
rule-written facts as they are, so a weak or absent model only makes memory less rich."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from datetime import datetime

from .rules import KIN, PARTNERS, PETS, SINGLE
from .store import MemoryStore

log = logging.getLogger(__name__)

ATTRIBUTES = ("name", "lives_in", "hometown", "job", "employer", "birthday", "allergy", "likes", "dislikes", "plan",
              *PARTNERS, *KIN, *PETS)
SCHEMA = {
    "type": "object",
    "properties": {"facts": {"type": "array", "items": {
        "type": "object",
        "properties": {"attribute": {"type": "string", "enum": list(ATTRIBUTES)}, "value": {"type": "string"}},
        "required": ["attribute", "value"], "additionalProperties": False}}},
    "required": ["facts"], "additionalProperties": False,
}
EXTRACT_PROMPT = ("Extract facts the user states about themselves in their message. Use only the user's own words; "
                  "skip anything uncertain, hypothetical or asked as a question. For people and pets the attribute is "
                  "the relation (sister, dog) and the value their name. Answer with JSON only.")
SUMMARY_PROMPT = ("Summarise this conversation in at most two short sentences, for your own memory: what the user "
                  "told you about themselves and anything you promised. Plain text, no lists.")
_STOP = object()


def validate(raw: str, user_text: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs from the model's JSON, keeping only those whose every word the
    user actually said: the model may select, never invent."""
    data = json.loads(raw)
    items = data.get("facts") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("no 'facts' list in the reply")
    said = set(re.findall(r"[\w']+", user_text.lower()))
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        attr, value = item.get("attribute"), item.get("value")
        if attr not in ATTRIBUTES or not isinstance(value, str) or not value.strip() or len(value) > 80:
            continue
        if all(w in said for w in re.findall(r"[\w']+", value.lower())):
            out.append((attr, value.strip()))
    return out


class LLMWriter:
    def __init__(self, store: MemoryStore, client, model: str, max_tokens: int = 300):
        self.store, self.client, self.model, self.max_tokens = store, client, model, max_tokens
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="memory-writer", daemon=True)
        self._thread.start()

    def extract(self, turn_id: int, text: str, now: datetime) -> None:
        self._queue.put(("extract", turn_id, text, now))

    def summarize(self, session_id: int, now: datetime) -> None:
        self._queue.put(("summarize", session_id, None, now))

    def close(self, wait_s: float = 15.0) -> bool:
        """Finish queued work (at most ``wait_s``); returns False if some was left undone."""
        self._queue.put(_STOP)
        self._thread.join(wait_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while (job := self._queue.get()) is not _STOP:
            kind, key, text, now = job
            try:
                self._extract(key, text, now) if kind == "extract" else self._summarize(key, now)
            except Exception as exc:  # the rules already stored what matters; never crash the thread
                log.warning("memory %s by the model failed (%s); keeping the rule-based memory", kind, exc)

    def _ask(self, system: str, user: str, **extra) -> str:
        reply = self.client.chat.completions.create(
            model=self.model, messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=self.max_tokens, temperature=0, stream=False, **extra)
        return reply.choices[0].message.content or ""

    def _extract(self, turn_id: int, text: str, now: datetime) -> None:
        raw = self._ask(EXTRACT_PROMPT, text, response_format={
            "type": "json_schema", "json_schema": {"name": "user_facts", "strict": True, "schema": SCHEMA}})
        for attr, value in validate(raw, text):
            self.store.add_fact(attr, value, now, single=attr in SINGLE, source_turn_id=turn_id, origin="llm",
                                closes={"likes": ("dislikes",), "dislikes": ("likes",)}.get(attr, ()))

    def _summarize(self, session_id: int, now: datetime) -> None:
        turns = self.store.session_turns(session_id)
        if not any(t.role == "user" for t in turns):
            return
        lines = "\n".join(f"{'User' if t.role == 'user' else 'You'}: {t.text}" for t in turns)
        summary = " ".join(self._ask(SUMMARY_PROMPT, lines).split())[:600]
        if summary:
            self.store.add_summary(session_id, summary, "llm", now)
