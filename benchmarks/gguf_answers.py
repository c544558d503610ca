"""Do rewritten weights keep the model's answers? The same prompts, with the persona and the
app's own sampling settings, several samples each, per ``[llm] gguf`` value: how often a reply
loops (a 4-word phrase said three times or more), how varied its words are (distinct 4-grams
over all 4-grams), its length, and two questions with a checkable answer. Prints one sample
per prompt and weights, to read.

    .venv/bin/python benchmarks/gguf_answers.py --gguf smollm2-q4_1 smollm2 [--samples 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
from collections import Counter

from companion.dialogue.persona import load_persona
from companion.llm.client import Brain
from companion.llm.embedded import EmbeddedLLM
from companion.ops.config import LLMConfig

PROMPTS = ["Hi Samantha, how are you today?", "I had a really long day at work.", "What's the capital of France?",
           "Can you tell me a short story about the sea?", "My sister Anna is visiting tomorrow. Any ideas what we could do?",
           "What is twelve times eleven?", "I feel a bit lonely tonight.", "What should I cook for dinner tonight?",
           "Do you think it will rain this weekend?", "Tell me something interesting about the ocean."]
CHECKS = {"What's the capital of France?": r"\bparis\b", "What is twelve times eleven?": r"\b(132|one hundred (and )?thirty[- ]two)\b"}


def grams(text: str) -> list[tuple[str, ...]]:
    w = re.findall(r"[a-z0-9']+", text.lower())
    return [tuple(w[i:i + 4]) for i in range(len(w) - 3)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", nargs="+", default=["smollm2-q4_1", LLMConfig().gguf])
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    persona = load_persona("samantha")
    rows, shown = [], {}
    for gguf in args.gguf:
        cfg = dataclasses.replace(LLMConfig(), gguf=gguf, threads=args.threads, read_timeout_s=120)
        llm = EmbeddedLLM(cfg)
        brain = Brain(cfg, llm.endpoint)
        replies = {p: ["".join(brain.stream([{"role": "system", "content": persona.system_prompt},
                                             {"role": "user", "content": p}])) for _ in range(args.samples)]
                   for p in PROMPTS}
        llm.close()
        every = [r for rs in replies.values() for r in rs]
        loops = sum(1 for r in every if (Counter(grams(r)).most_common(1) or [(None, 0)])[0][1] >= 3)
        variety = [len(set(g)) / len(g) for g in map(grams, every) if g]
        right = sum(bool(re.search(rx, r.lower())) for p, rx in CHECKS.items() for r in replies[p])
        rows.append((gguf, loops, len(every), statistics.mean(variety), statistics.median(len(r.split()) for r in every),
                     right, len(CHECKS) * args.samples))
        shown[gguf] = {p: rs[0] for p, rs in replies.items()}
    for p in PROMPTS:
        print(f"Q: {p}")
        for gguf in args.gguf:
            print(f"  {gguf}: {' '.join(shown[gguf][p].split())[:300]}")
    print(f"\n{args.samples} samples per prompt, temperature {LLMConfig().temperature}, max_tokens {LLMConfig().max_tokens}")
    print("| weights | replies that loop | distinct 4-grams | median words | checkable answers right |")
    print("|---|---|---|---|---|")
    for gguf, loops, n, variety, words, right, checks in rows:
        print(f"| {gguf} | {loops}/{n} | {variety:.2f} | {words:.0f} | {right}/{checks} |")


if __name__ == "__main__":
    main()
