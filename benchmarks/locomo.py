"""Retrieval quality and speed of Samantha's memory on LoCoMo (Maharana et al., ACL 2024).

Each conversation is told to a fresh memory session by session, with its date, through the
same code as a live conversation (``LongTermMemory.on_user_turn``). Then, for every question,
the memory retrieves past turns exactly as it does before a reply (``related_turns``), and
recall@k is the share of the question's ``evidence`` turns among the first k. No LLM is used.
Latency is also measured at 100,000 stored turns (the conversations repeated).

    python benchmarks/locomo.py /path/to/locomo10 [--runs 5] [--scale-turns 100000]

The data is research data and is never copied into this repository; without it the benchmark
says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from companion.ops.config import MemoryConfig
from companion.memory.longterm import LongTermMemory
from companion.memory.retrieval import related_turns
from companion.memory.store import MemoryStore

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (5, 10)


@dataclass(frozen=True)
class Question:
    conversation: str
    text: str
    category: int
    evidence: frozenset[str]


def load(path: Path) -> dict[str, dict]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    return {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in files}


def sessions(conv: dict):
    """(date, [(dia_id, text)]) per session, in order; a shared photo is told as its caption."""
    n = 1
    while f"session_{n}" in conv:
        when = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        turns = []
        for t in conv[f"session_{n}"]:
            text = f"{t['speaker']}: {t['text']}"
            if t.get("blip_caption"):
                text += f" [shares a photo: {t['blip_caption']}]"
            turns.append((t["dia_id"], text))
        yield when, turns
        n += 1


def questions(name: str, conv: dict) -> list[Question]:
    out = []
    for qa in conv["qa"]:
        evidence = frozenset(e.strip() for raw in qa.get("evidence", []) for e in re.split(r"[;,]", raw) if e.strip())
        if evidence:
            out.append(Question(name, qa["question"], qa["category"], evidence))
    return out


def ingest(memory: LongTermMemory, conv: dict) -> dict[int, str]:
    """Tell the conversation to memory; returns turn id -> dia_id."""
    ids = {}
    for when, turns in sessions(conv):
        for i, (dia_id, text) in enumerate(turns):
            memory.on_user_turn(text, when + timedelta(seconds=30 * i))
            ids[memory.store.last_turn_id()] = dia_id
        memory.end_session(when)
    return ids


def evaluate(data: dict[str, dict], runs: int) -> tuple[dict, list[float], int]:
    """Recall@k per category and per-run latency lists (seconds)."""
    hits = {c: {k: [] for k in KS} for c in CATEGORIES}
    latencies: list[list[float]] = [[] for _ in range(runs)]
    skipped = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, conv in data.items():
            store = MemoryStore(Path(tmp) / f"{name}.sqlite3")
            ids = ingest(LongTermMemory(store, MemoryConfig()), conv)
            known = set(ids.values())
            for q in questions(name, conv):
                if not q.evidence <= known:
                    skipped += 1
                    continue
                for run in range(runs):
                    t = time.perf_counter()
                    found = related_turns(store, q.text, max(KS))
                    latencies[run].append(time.perf_counter() - t)
                got = [ids[s.turn_id] for s in found]
                for k in KS:
                    hits[q.category][k].append(len(q.evidence & set(got[:k])) / len(q.evidence))
            store.close()
    return hits, latencies, skipped


def latency_at_scale(data: dict[str, dict], turns: int, runs: int) -> list[list[float]]:
    """Every LoCoMo turn repeated until ``turns`` are stored; every question timed ``runs`` times."""
    texts = [text for conv in data.values() for _, ts in sessions(conv) for _, text in ts]
    qs = [q.text for name, conv in data.items() for q in questions(name, conv)]
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Path(tmp) / "scale.sqlite3")
        now = datetime(2024, 1, 1).isoformat()
        with store.transaction() as db:
            db.executemany("INSERT INTO sessions (id, user_id, started_at, ended_at) VALUES (?, ?, ?, ?)",
                           [(s, store.user_id, now, now) for s in range(1, turns // 25 + 2)])
            db.executemany("INSERT INTO turns (session_id, role, text, created_at) VALUES (?, 'user', ?, ?)",
                           [(1 + i // 25, texts[i % len(texts)], now) for i in range(turns)])
        out = []
        for _ in range(runs):
            run = []
            for q in qs:
                t = time.perf_counter()
                related_turns(store, q, max(KS))
                run.append(time.perf_counter() - t)
            out.append(run)
        store.close()
    return out


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def ms(runs: list[list[float]], p: float) -> str:
    return f"{statistics.median(percentile(r, p) for r in runs) * 1000:.2f}"


def report(hits: dict, latencies: list[list[float]], scaled: list[list[float]] | None, turns: int) -> str:
    rows = ["| category | questions | recall@5 | recall@10 |", "|---|---:|---:|---:|"]
    every = {k: [] for k in KS}
    for c, name in CATEGORIES.items():
        if hits[c][KS[0]]:
            rows.append(f"| {c} {name} | {len(hits[c][5])} | {statistics.mean(hits[c][5]):.3f} | "
                        f"{statistics.mean(hits[c][10]):.3f} |")
            for k in KS:
                every[k] += hits[c][k]
    rows.append(f"| **all** | {len(every[5])} | {statistics.mean(every[5]):.3f} | {statistics.mean(every[10]):.3f} |")
    rows += ["", "| retrieval latency (top 10) | p50 ms | p99 ms |", "|---|---:|---:|",
             f"| one LoCoMo conversation (~600 turns) | {ms(latencies, 50)} | {ms(latencies, 99)} |"]
    if scaled:
        rows.append(f"| {turns:,} stored turns | {ms(scaled, 50)} | {ms(scaled, 99)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="the locomo10 folder (one JSON per conversation) or one JSON file")
    p.add_argument("--runs", type=int, default=5, help="timed repetitions; the median of their p50/p99 is reported")
    p.add_argument("--scale-turns", type=int, default=100_000, help="turns for the latency-at-scale run; 0 skips it")
    args = p.parse_args(argv)
    if not args.data.exists() or (args.data.is_dir() and not any(args.data.glob("*.json"))):
        print(f"LoCoMo data not found at {args.data}; skipping the benchmark "
              "(get data/locomo10.zip from github.com/snap-research/locomo and pass its folder).")
        return 0
    data = load(args.data)
    started = time.perf_counter()
    hits, latencies, skipped = evaluate(data, args.runs)
    scaled = latency_at_scale(data, args.scale_turns, args.runs) if args.scale_turns else None
    print(report(hits, latencies, scaled, args.scale_turns))
    print(f"\n{len(data)} conversations; {skipped} questions skipped (evidence not in the dialogue); "
          f"median of {args.runs} runs; {time.perf_counter() - started:.0f} s in all.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
