"""Piper's memory over a long day: resident memory and synthesis time over many sentences of
varied length, for Piper's own loader (ONNX Runtime arena and memory patterns on) against
ours (``companion.tts.piper._load_lean``: both off), each with and without ``malloc_trim`` after
every sentence (glibc returning freed heap pages). Each setting runs in a fresh process.

    .venv/bin/python benchmarks/tts_memory.py [--sentences 200]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

WORDS = ("the quick brown fox jumps over a lazy dog while my sister anna writes long letters about the sea "
         "and calm evenings in the garden with friends").split()
SETTINGS = [("piper default", False, False), ("piper default + trim", False, True),
            ("lean session (ours)", True, False), ("lean session + trim", True, True)]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def one_setting(lean: bool, trim: bool, sentences: int) -> dict:
    from piper import PiperVoice

    from companion.ops.config import Config, data_dir
    from companion.model_files import resolve_voice
    from companion.tts.piper import _load_lean

    libc = ctypes.CDLL("libc.so.6")
    files = resolve_voice(Config().tts.voice, data_dir())
    voice = _load_lean(files) if lean else PiperVoice.load(files.onnx, config_path=files.config)
    rng = random.Random(7)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))).capitalize() + "." for _ in range(sentences)]
    for chunk in voice.synthesize("Hello."):  # warm-up, not measured
        pass
    start, times, audio_s = rss_mb(), [], 0.0
    for text in texts:
        t = time.perf_counter()
        for chunk in voice.synthesize(text):
            audio_s += len(chunk.audio_float_array) / voice.config.sample_rate
        times.append(time.perf_counter() - t)
        if trim:
            libc.malloc_trim(0)
    return {"rss_start_mb": start, "rss_end_mb": rss_mb(), "ms_median": statistics.median(times) * 1000,
            "ms_p90": statistics.quantiles(times, n=10)[-1] * 1000, "rtf": sum(times) / audio_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=200)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one setting in this process
    args = ap.parse_args()
    if args.one:
        lean, trim = json.loads(args.one)
        print(json.dumps(one_setting(lean, trim, args.sentences)))
        return
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}; {args.sentences} sentences of 3-30 words")
    print("| Piper session | RSS start MB | RSS end MB | growth MB | synthesis median ms | p90 ms | real-time factor |")
    print("|---|---|---|---|---|---|---|")
    for name, lean, trim in SETTINGS:
        out = subprocess.run([sys.executable, __file__, "--sentences", str(args.sentences), "--one", json.dumps([lean, trim])],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        print(f"| {name} | {r['rss_start_mb']:.0f} | {r['rss_end_mb']:.0f} | {r['rss_end_mb'] - r['rss_start_mb']:+.0f} | "
              f"{r['ms_median']:.0f} | {r['ms_p90']:.0f} | {r['rtf']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
