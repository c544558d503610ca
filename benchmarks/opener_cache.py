"""The opener cache's hit rate over a recorded conversation: a scripted everyday conversation
(user turns spoken by Piper joe) is replayed through the real pipeline on the defaults
(Whisper, the embedded LLM, the default voice) with the cache built first, as a live run has it
after its first minute. Her replies are then cut into pieces exactly as the conversation cuts
them, and each piece is looked up in the cache; also compared: the voice's first-audio time
(``tts_first_audio`` in the transcript) for turns whose first piece was cached and for the rest.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/opener_cache.py [--out /tmp/openers.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TURNS = ["Hi Samantha.", "I had a rough day at work.", "My boss yelled at me in front of everyone.",
         "Do you think I should talk to him about it?", "Thanks, that helps.", "What should I cook for dinner tonight?",
         "I don't have much in the fridge.", "Tell me something interesting about the moon.",
         "Really? I didn't know that.", "What time is it?", "I'm thinking about getting a dog.",
         "What would be a good name for it?", "Louder, please.", "My sister is visiting next week.",
         "We used to fight a lot when we were kids.", "Say that again.", "Okay.", "I'm so tired today.",
         "Do you like music?", "Goodbye."]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--turns", type=int, default=len(TURNS), help="use the first N turns")
    args = ap.parse_args()

    from companion.audio.files import write_wav
    from companion.dialogue.persona import load_persona
    from companion.ops.config import TTSConfig, load_config
    from companion.runtime.app import cached_voice
    from companion.tts import load_synthesizer, speak_to_array
    from companion.tts.chunking import speakable_chunks

    work = Path(tempfile.mkdtemp(prefix="openers-"))
    home = work / "home"
    home.mkdir()
    os.environ["COMPANION_HOME"] = str(home)
    joe = load_synthesizer(TTSConfig(voice="joe"), home, varied=False)
    files = [str(write_wav(work / f"turn-{i:02d}.wav", speak_to_array(joe, text), joe.sample_rate))
             for i, text in enumerate(TURNS[:args.turns])]

    cfg = load_config()
    persona = load_persona(cfg.persona.name)
    cache = cached_voice(cfg, home, persona)
    t = time.perf_counter()
    built = cache.build()
    build_s = time.perf_counter() - t

    out = work / "replay"
    exe = Path(sys.executable).parent / "companion"
    subprocess.run([str(exe), "-q", "replay", *files, "--out", str(out)], check=True)
    turns = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines() if line.strip()]

    from companion.runtime.app import FIRST_WORDS

    first_words = FIRST_WORDS if cache.engine == "kokoro" else 0

    def chunks(text):  # as the conversation cuts a reply: streamed, word by word
        return list(speakable_chunks([w + " " for w in text.split()], first_words=first_words))

    pieces, first_hits, rows = 0, 0, []
    hits = 0
    for turn in turns:
        text = turn["reply_text"]
        if turn.get("error"):  # what came before, then the apology, said whole
            said = chunks(text.removesuffix(persona.apology)) + [persona.apology]
        else:
            said = chunks(text)
        cached = [cache.cached(p) for p in said]
        pieces += len(said)
        hits += sum(cached)
        first = bool(cached and cached[0])
        first_hits += first
        rows.append({"user": turn["user_text"], "reply": turn["reply_text"], "pieces": said, "cached": cached,
                     "tts_first_audio": (turn.get("timings") or {}).get("tts_first_audio")})

    def med(values):
        values = [v for v in values if v is not None]
        return f"{statistics.median(values) * 1000:.0f} ms (n={len(values)})" if values else "-"

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{os.cpu_count()} cores, {cpu}; voice {cfg.tts.voice}; {len(cache.phrases)} phrases cached "
          f"({built} made in {build_s:.0f} s)")
    print(f"turns: {len(turns)}; first piece from the cache: {first_hits} of {len(turns)} "
          f"({first_hits / max(1, len(turns)):.0%}); all pieces: {hits} of {pieces} ({hits / max(1, pieces):.0%})")
    print("voice's first audio, first piece cached: "
          + med([r["tts_first_audio"] for r in rows if r["cached"] and r["cached"][0]])
          + "; not cached: " + med([r["tts_first_audio"] for r in rows if not (r["cached"] and r["cached"][0])]))
    for r in rows:
        marks = " | ".join(("*" if c else "") + p for p, c in zip(r["pieces"], r["cached"]))
        print(f"  {r['user']!r} -> {marks}")
    if args.out:
        args.out.write_text(json.dumps({"turns": rows, "first_hits": first_hits, "hits": hits, "pieces": pieces}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
