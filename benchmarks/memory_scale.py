"""What reading memory for the prompt costs as the memory grows: the standing part (read ahead
between turns, and on the turn's path when nothing was read ahead) and what the words recall
(built at the first pause for thinking ahead, and again for the confirmed turn), at 1,000 to
100,000 facts. "before" reads every fact for the profile and ranks every fact that shares a
word with the turn (the code before the bounds); "now" is the code as it is.

    .venv/bin/python benchmarks/memory_scale.py [--facts 1000 10000 100000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path

from companion.memory import retrieval
from companion.memory.retrieval import match_query, recalled_context, standing_context
from companion.memory.store import MemoryStore

NOW = datetime(2026, 12, 3, 9, 0)
QUERIES = ["Tell me something interesting about the ocean.", "Do you remember what Anna said about jazz?",
           "What should I cook for dinner tonight?", "I had a long day at work and I feel a bit tired.",
           "Any plans with my sister in March?"]
THINGS = ("the ocean", "jazz", "tennis", "hiking", "Paris", "gardening", "the piano", "dogs", "old films", "sushi",
          "chess", "poetry", "baking bread", "cycling", "yoga", "photography", "the harbor", "letters")
PEOPLE = ("Anna", "Paul", "my sister", "my mother", "Amy", "Charles", "the neighbour", "my boss", "Olivia")


def fill(store: MemoryStore, n: int) -> None:
    """``n`` made-up facts (likes, plans, notes), as ``latency.py --facts`` imports them."""
    rows = []
    for i in range(n):
        kind = ("likes", "dislikes", "plan", "note")[i % 4]
        value = {"likes": THINGS[i % 18], "dislikes": THINGS[(i * 5) % 18], "plan": f"visit {PEOPLE[i % 9]} in March",
                 "note": f"{PEOPLE[(i * 7) % 9]} said something about {THINGS[(i * 11) % 18]}"}[kind]
        rows.append((store.user_id, "user", kind, f"{value} (#{i})", "import", NOW.isoformat()))
    with store.transaction() as db:
        db.executemany("INSERT INTO facts (user_id, subject, attribute, value, origin, valid_from) "
                       "VALUES (?, ?, ?, ?, ?, ?)", rows)


@contextmanager
def unbounded(store: MemoryStore):
    """The code before the bounds: every current fact read for the profile, every fact that
    shares a word ranked."""
    saved = store.profile_facts, retrieval.related_facts
    store.profile_facts = lambda core, newest: store.facts()
    retrieval.related_facts = lambda s, text, k: s.search_facts(match_query(text), k)
    try:
        yield
    finally:
        store.profile_facts, retrieval.related_facts = saved


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, statistics.quantiles(times, n=10)[-1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facts", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.repeat} repeats, {len(QUERIES)} queries")
    print("| facts | code | standing part median / p90 ms | what the words recall median / p90 ms |")
    print("|---|---|---|---|")
    for n in args.facts:
        store = MemoryStore(Path(tempfile.mkdtemp()) / "memory.sqlite3")
        fill(store, n)
        for label in ("before", "now"):
            with (unbounded(store) if label == "before" else nullcontext()):
                standing = standing_context(store, NOW, None, 400)
                s = timed(lambda: standing_context(store, NOW, None, 400), args.repeat)
                r = timed(lambda: [recalled_context(store, q, None, 400, 3, standing) for q in QUERIES], args.repeat)
            print(f"| {n:,} | {label} | {s[0]:.1f} / {s[1]:.1f} | {r[0] / len(QUERIES):.1f} / {r[1] / len(QUERIES):.1f} |",
                  flush=True)
        store.close()


if __name__ == "__main__":
    main()
