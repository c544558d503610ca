"""First-token latency of the embedded LLM over a growing conversation, for four prompt
layouts (``LAYOUTS``): the per-turn context (time, recalled memories) at the top of the system
prompt, which breaks llama.cpp's prefix cache every turn; all of it just before the user's
words, with persona and history read between turns; ours (``Prompt.messages`` and
``Prompt.ready``), where the time and reminder are read ahead as well and only the memories and
the words are new; and, as a bound, the whole request read before it is sent.
Prints median, p90 and the last turn per layout and thread count. ``--gguf`` compares weights
(e.g. the bundled Q4_0 rewrite against the Q4_1 as shipped) in one run, and also prints the
server's own prompt-reading and writing speed (tokens/s) on a ~1,000-token prompt read cold.

    .venv/bin/python benchmarks/llm_first_token.py [--turns 8] [--threads 1 2]
    .venv/bin/python benchmarks/llm_first_token.py --threads 2 --layouts ours --gguf smollm2-q4_1 smollm2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from datetime import datetime

from companion.llm.client import Brain
from companion.ops.config import LLMConfig
from companion.llm.embedded import EmbeddedLLM
from companion.contracts import Recall
from companion.dialogue.prompt import Prompt
from companion.dialogue.persona import Persona, load_persona

USER = ["Hi, I'm Theodore.", "I write letters for other people.", "Today I wrote one for a couple's anniversary.",
        "Do you think that's a strange job?", "I like it, mostly.", "My sister Anna says I should write a book.",
        "What would you write about?", "Maybe about the ocean.", "Do you like the sea?", "Tell me something calm."]


LAYOUTS = {
    "top": "time and memories at the top of the system prompt",
    "before": "time, memories, reminder before the user's words; persona and history read between turns",
    "ours": "ours: time and reminder read ahead too, memories after them (Conversation.messages)",
    "full": "bound: the whole request read before it is sent",
}


def conversation(brain: Brain, persona: Persona, turns: int, layout: str) -> list[float]:
    """First-token times over ``turns`` for one prompt ``layout`` (see LAYOUTS)."""
    clock = [datetime(2026, 11, 23, 9, 10)]
    prompt = Prompt(persona, brain, history_turns=12, clock=lambda: clock[0], prefill_between_turns=layout == "ours")
    firsts = []
    for i in range(turns):
        now = datetime(2026, 11, 23, 9, 10 + i)
        clock[0] = now
        memory = f"About the user: writes letters; sister Anna; turn {i}."
        user = {"role": "user", "content": USER[i % len(USER)]}
        context = f"It is {now:%A, %B %-d, %Y, %-I:%M %p}.\n\n{memory}\n\n{persona.reminder}"
        if layout == "top":
            messages = [{"role": "system", "content": f"{persona.system_prompt}\n\n{context}"}, *prompt.history, user]
        elif layout in ("before", "full"):
            messages = [{"role": "system", "content": persona.system_prompt}, *prompt.history,
                        {"role": "system", "content": context}, user]
            brain.warm_up(messages if layout == "full" else messages[:-2])
        else:
            prompt.settle()
            prompt.ready()  # the user started speaking (a new minute every turn here)
            prompt.settle()
            messages = prompt.messages(user["content"], Recall(memory), now)
        start = time.perf_counter()
        first, reply = None, ""
        for delta in brain.stream(messages):
            first = first or time.perf_counter() - start
            reply += delta
        firsts.append(first or float("nan"))
        prompt.history += [user, {"role": "assistant", "content": reply}]
    prompt.settle()
    return firsts


def throughput(endpoint, rounds: int) -> tuple[list[float], list[float]]:
    """Prompt-reading and writing speed (tokens/s) as llama-server times them, on a long
    prompt it has not seen (a new first line each round, so nothing comes from its cache)."""
    import json
    import urllib.request

    text = " ".join(USER * 12)
    read, write = [], []
    for i in range(rounds):
        body = {"messages": [{"role": "system", "content": f"Round {i}: {time.time()}"},
                             {"role": "user", "content": f"{text}\n\nSay something kind about this, in a few sentences."}],
                "max_tokens": 64, "temperature": 0.0}
        req = urllib.request.Request(f"{endpoint.base_url}/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json", "Authorization": f"Bearer {endpoint.api_key}"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            timings = json.load(resp)["timings"]
        read.append(timings["prompt_per_second"])
        write.append(timings["predicted_per_second"])
    return read, write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    ap.add_argument("--gguf", nargs="+", default=[LLMConfig().gguf], help="[llm] gguf values to compare")
    ap.add_argument("--speed-rounds", type=int, default=5, help="long prompts read cold per model, for tokens/s")
    args = ap.parse_args()
    p = load_persona("samantha")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.turns} turns, max_tokens 60")
    print("| weights | threads | prompt layout | first token median ms | p90 ms | last turn ms |")
    print("|---|---|---|---|---|---|")
    speeds = []
    for gguf in args.gguf:
        for threads in args.threads:
            cfg = dataclasses.replace(LLMConfig(), gguf=gguf, threads=threads, max_tokens=60, temperature=0.0,
                                      read_timeout_s=120)
            llm = EmbeddedLLM(cfg)
            brain = Brain(cfg, llm.endpoint)
            for layout in args.layouts:
                firsts = conversation(brain, p, args.turns, layout)
                q = statistics.quantiles(firsts, n=10)
                print(f"| {gguf} | {threads} | {LAYOUTS[layout]} | {statistics.median(firsts) * 1000:.0f} | "
                      f"{q[-1] * 1000:.0f} | {firsts[-1] * 1000:.0f} |", flush=True)
            if args.speed_rounds:
                speeds.append((gguf, threads, *throughput(llm.endpoint, args.speed_rounds)))
            llm.close()
    if speeds:
        print("\n| weights | threads | prompt read tokens/s median (min-max) | write tokens/s median (min-max) |")
        print("|---|---|---|---|")
        for gguf, threads, read, write in speeds:
            print(f"| {gguf} | {threads} | {statistics.median(read):.0f} ({min(read):.0f}-{max(read):.0f}) | "
                  f"{statistics.median(write):.0f} ({min(write):.0f}-{max(write):.0f}) |")


if __name__ == "__main__":
    main()
