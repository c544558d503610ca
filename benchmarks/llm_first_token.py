"""First-token latency of the embedded LLM over a growing conversation. Two prompt
orders: per-turn context (time, recalled memories) at the top of the system prompt, which
breaks llama.cpp's prefix cache every turn, versus just before the user's words (what
``Conversation.messages`` does); then what a prefill before each request saves: persona and
history read between turns, or the whole request read ahead at the user's first pause.
Prints medians and p90 per order and thread count.

    .venv/bin/python benchmarks/llm_first_token.py [--turns 8] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time

from companion.brain import Brain
from companion.config import LLMConfig
from companion.embedded_llm import EmbeddedLLM
from companion.persona import load_persona

USER = ["Hi, I'm Theodore.", "I write letters for other people.", "Today I wrote one for a couple's anniversary.",
        "Do you think that's a strange job?", "I like it, mostly.", "My sister Anna says I should write a book.",
        "What would you write about?", "Maybe about the ocean.", "Do you like the sea?", "Tell me something calm."]


def conversation(brain: Brain, persona: str, reminder: str, turns: int, context_first: bool,
                 prefill: str = "none") -> list[float]:
    """First-token times over ``turns``. ``prefill``: what the server read before each request
    ("none"; "history": persona and history, between turns; "full": the whole request, as
    thinking ahead at the user's first pause does)."""
    history: list[dict] = []
    firsts = []
    for i in range(turns):
        context = f"It is Monday, 9:{10 + i:02d} AM.\n\nAbout the user: writes letters; sister Anna; turn {i}."
        if context_first:
            messages = [{"role": "system", "content": f"{persona}\n\n{context}\n\n{reminder}"}, *history]
        else:
            messages = [{"role": "system", "content": persona}, *history,
                        {"role": "system", "content": f"{context}\n\n{reminder}"}]
        messages.append({"role": "user", "content": USER[i % len(USER)]})
        if prefill == "history":
            brain.warm_up([{"role": "system", "content": persona}, *history])
        elif prefill == "full":
            brain.warm_up(messages)
        start = time.perf_counter()
        first, reply = None, ""
        for delta in brain.stream(messages):
            first = first or time.perf_counter() - start
            reply += delta
        firsts.append(first or float("nan"))
        history += [{"role": "user", "content": USER[i % len(USER)]}, {"role": "assistant", "content": reply}]
    return firsts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--prefill", nargs="*", default=["history", "full"], choices=["none", "history", "full"],
                    help="also time the 'before the user' order with the server prefilled this way before each turn")
    args = ap.parse_args()
    p = load_persona("samantha")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.turns} turns, max_tokens 60")
    print("| threads | per-turn context | first token median ms | p90 ms | last turn ms |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        cfg = dataclasses.replace(LLMConfig(), threads=threads, max_tokens=60, temperature=0.0, read_timeout_s=120)
        llm = EmbeddedLLM(cfg)
        brain = Brain(cfg, llm.endpoint)
        for context_first in (True, False):
            firsts = conversation(brain, p.system_prompt, p.reminder or "", args.turns, context_first)
            q = statistics.quantiles(firsts, n=10)
            print(f"| {threads} | {'top of the prompt' if context_first else 'before the user (ours)'} | "
                  f"{statistics.median(firsts) * 1000:.0f} | {q[-1] * 1000:.0f} | {firsts[-1] * 1000:.0f} |")
        for prefill in args.prefill:
            firsts = conversation(brain, p.system_prompt, p.reminder or "", args.turns, False, prefill)
            q = statistics.quantiles(firsts, n=10)
            print(f"| {threads} | before the user, prefilled: {prefill} | "
                  f"{statistics.median(firsts) * 1000:.0f} | {q[-1] * 1000:.0f} | {firsts[-1] * 1000:.0f} |")
        llm.close()


if __name__ == "__main__":
    main()
