"""Both voices' speed: first audio (text in -> first block out of ``synthesize``) and real-time
factor (time to make / length of the audio) for Piper joe and Kokoro heart, over short first
clauses and whole sentences, repeated; Kokoro under several ONNX Runtime settings (threads,
busy-waiting, memory arena, graph optimisation), and a piece played from the opener cache.
Each setting runs in a fresh process, one after the other (never two at once).

    flock /tmp/heavy.lock .venv/bin/python benchmarks/tts_voices.py [--repeats 7] [--out /tmp/tts.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST = ["Oh,", "Of course.", "Oh no, I'm sorry.", "That sounds like a lovely plan,"]
SENTENCES = ["How about Bubbles? Or, if it has a bit of attitude, maybe Captain Fin.",
             "I went to the market this morning to buy some apples and a loaf of fresh bread."]
# a reply as the conversation speaks it (chunked the same way), to find gaps between pieces
REPLY = ("Oh, that sounds like a wonderful idea. I think a small garden on the balcony would get lots of morning sun, "
         "and herbs like basil and mint grow quickly there. Do you want me to remind you to buy some seeds this weekend?")
# (label, voice, ONNX Runtime settings for Kokoro: threads, spinning, arena, optimization)
SETTINGS = [
    ("piper joe", "joe", None),
    ("kokoro heart (ours: all cores, no spinning, no arena, all optimisations)", "heart",
     dict(threads=0, spinning=False, arena=False, optimization="all")),
    ("kokoro heart, spinning on (ONNX Runtime's default)", "heart", dict(threads=0, spinning=True, arena=False, optimization="all")),
    ("kokoro heart, memory arena on", "heart", dict(threads=0, spinning=False, arena=True, optimization="all")),
    ("kokoro heart, 1 thread", "heart", dict(threads=1, spinning=False, arena=False, optimization="all")),
    ("kokoro heart, basic optimisation only", "heart", dict(threads=0, spinning=False, arena=False, optimization="basic")),
    ("kokoro heart, spinning + arena on (kokoro-onnx's own session)", "heart", dict(threads=0, spinning=True, arena=True, optimization="all")),
    ("kokoro heart, parallel execution (2 inter-op threads)", "heart",
     dict(threads=0, spinning=False, arena=False, optimization="all", parallel=True)),
    ("kokoro heart, 2 intra-op threads named (not 0 = all cores)", "heart", dict(threads=2, spinning=False, arena=False, optimization="all")),
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def longest_gap(voice, text: str) -> float:
    """Seconds of silence between pieces if playback started with the first block and each
    block played as soon as it was made and the one before had finished (0 = no underrun)."""
    from companion.tts.chunking import speakable_chunks

    t0, playing_until, gap = time.perf_counter(), None, 0.0
    for piece in speakable_chunks([text]):
        for block in voice.synthesize(piece):
            ready = time.perf_counter() - t0
            start = ready if playing_until is None else max(ready, playing_until)
            if playing_until is not None:
                gap = max(gap, start - playing_until)
            playing_until = start + len(block) / voice.sample_rate
    return gap


def one_setting(voice_name: str, options: dict | None, repeats: int, home: str) -> dict:
    from companion.ops.config import TTSConfig
    from companion.tts import load_synthesizer, speak_to_array
    from companion.tts.opener_cache import OpenerCache

    data = Path(home)
    if options is None:
        voice = load_synthesizer(TTSConfig(voice=voice_name), data)
        engine = "piper"
    else:
        from companion.tts.kokoro import KokoroSynthesizer, session_options

        voice = KokoroSynthesizer(TTSConfig(voice=voice_name), data, options=session_options(**options))
        engine = "kokoro"
    speak_to_array(voice, "Hello.")  # warm-up, as at start-up
    first, rtf, gaps = {t: [] for t in FIRST}, {t: [] for t in SENTENCES}, []
    for _ in range(repeats):
        gaps.append(longest_gap(voice, REPLY))
        for text in FIRST:
            t = time.perf_counter()
            next(iter(voice.synthesize(text)))
            first[text].append(time.perf_counter() - t)
        for text in SENTENCES:
            t = time.perf_counter()
            audio = speak_to_array(voice, text)
            rtf[text].append((time.perf_counter() - t) / (len(audio) / voice.sample_rate))
    cache = OpenerCache(voice, engine, data / "voice-cache", ["Of course."])
    cache.build()
    cached = []
    for _ in range(repeats):
        t = time.perf_counter()
        next(iter(cache.synthesize("Of course.")))
        cached.append(time.perf_counter() - t)
    return {"first_audio_s": first, "rtf": rtf, "cached_first_audio_s": cached, "longest_gap_s": gaps}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", help="run only settings whose label contains this (comma-separated: any of these)")
    ap.add_argument("--_one", nargs=3, metavar=("VOICE", "OPTIONS", "HOME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._one:
        voice, options, home = args._one
        print(json.dumps(one_setting(voice, json.loads(options), args.repeats, home)))
        return 0

    home = tempfile.mkdtemp(prefix="tts-voices-")
    results = {}
    for label, voice, options in SETTINGS:
        if args.only and not any(part in label for part in args.only.split(",")):
            continue
        out = subprocess.run([sys.executable, __file__, "--repeats", str(args.repeats), "--_one", voice,
                              json.dumps(options), home], capture_output=True, text=True, check=True)
        results[label] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[label]
        print(f"done: {label}: first audio medians "
              + ", ".join(f"{statistics.median(v) * 1000:.0f}" for v in r["first_audio_s"].values())
              + f" ms; rtf {statistics.median([x for v in r['rtf'].values() for x in v]):.2f}", file=sys.stderr)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"\n{os.cpu_count()} cores, {cpu}, {platform.python_version()}; {args.repeats} repeats; ms, median / p90\n")
    print("| setting | " + " | ".join(f"first audio {t!r}" for t in FIRST) + " | real-time factor (sentences) | longest gap in a 3-sentence reply | from the opener cache |")
    print("|---" * (len(FIRST) + 4) + "|")
    for label, r in results.items():
        cells = [f"{statistics.median(v) * 1000:.0f} / {pct(v, 0.9) * 1000:.0f}" for v in r["first_audio_s"].values()]
        rtfs = [x for v in r["rtf"].values() for x in v]
        cached, gaps = r["cached_first_audio_s"], r["longest_gap_s"]
        print(f"| {label} | " + " | ".join(cells) + f" | {statistics.median(rtfs):.2f} / {pct(rtfs, 0.9):.2f} | "
              f"{statistics.median(gaps) * 1000:.0f} / {pct(gaps, 0.9) * 1000:.0f} | "
              f"{statistics.median(cached) * 1000:.1f} / {pct(cached, 0.9) * 1000:.1f} |")
    if args.out:
        args.out.write_text(json.dumps({"cores": os.cpu_count(), "cpu": cpu, "repeats": args.repeats, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
