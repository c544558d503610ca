"""Whisper's fixed 30 s window vs the fitted short window (for several shortest windows):
speed, word errors and decodes that looped, on Piper-spoken sentences (real audio, same
model). Prints medians and p90 per mode; ``--models`` compares Whisper models in one run, and
``--snr`` adds the same sentences with white noise at that signal-to-noise ratio (harder).

    .venv/bin/python benchmarks/stt_window.py [--repeat 3] [--min-windows 1000 800 600]
    .venv/bin/python benchmarks/stt_window.py --models bundled:base bundled:tiny.en --snr 15 --no-full
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import re
import statistics
import tempfile
from pathlib import Path

import numpy as np

import companion.stt.whisper as stt
from companion.audio.resample import resample
from companion.ops.config import STTConfig, TTSConfig
from companion.stt import load_transcriber
from companion.tts import load_synthesizer, speak_to_array

SENTENCES = [
    "Hi.", "Yes, please.", "Good morning, Samantha.", "Are you still there?", "What time is it?",
    "Please tell me something funny.", "What should I cook for dinner tonight?",
    "Remind me to call my sister tomorrow morning.", "My name is Theodore and I write letters for a living.",
    "I moved to Boston last week and I really love walking along the harbor in the evening.",
    "Can you help me write a letter to my grandmother to thank her for the sweater?",
    "I had a strange dream last night about a whale that could sing opera.",
    "Do you think it's going to rain this afternoon, or should I leave the umbrella at home?",
    "My daughter's birthday is on the fourteenth of March and she loves horses.",
    "Forget what I said about my job.", "Tell me a short story about the sea.",
    "I'm allergic to peanuts, so please remember that.", "How long have we been talking?",
    "Amy and I are having lunch on Friday at one.", "Sometimes I feel like I've already felt everything I'm ever going to feel.",
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(ref: list[str], hyp: list[str]) -> float:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[-1] / max(1, len(ref))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--min-windows", type=int, nargs="+", default=[stt.MIN_WINDOW],
                    help="shortest fitted windows to compare, in mel frames (100 a second)")
    ap.add_argument("--models", nargs="+", default=[STTConfig().model], help="[stt] model values to compare")
    ap.add_argument("--snr", type=float, nargs="*", default=[], help="also test with white noise at these SNRs (dB)")
    ap.add_argument("--no-full", action="store_true", help="skip the full 30 s window rows")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp())
    voice = load_synthesizer(TTSConfig(), home)
    # as the endpointer cuts them: some pre-roll before the speech, 160 ms after it
    clean = [(s, resample(np.concatenate([np.zeros(int(lead * voice.sample_rate), np.float32), speak_to_array(voice, s),
                                          np.zeros(int(0.16 * voice.sample_rate), np.float32)]), voice.sample_rate, 16000))
             for s in SENTENCES for lead in (0.1, 0.3, 0.5)]
    rng = np.random.default_rng(0)
    sets = {"clean": clean, **{f"{snr:g} dB SNR": [(s, _noisy(c, snr, rng)) for s, c in clean] for snr in args.snr}}
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores")
    print("| model | audio | window | median s | p90 s | WER | exact sentences | looped, redone |")
    print("|---|---|---|---|---|---|---|---|")
    loops = stt._LOOP = _LoopCounter(stt._LOOP)
    for model in args.models:
        cfg = STTConfig(model=model)
        full = None if args.no_full else load_transcriber(dataclasses.replace(cfg, short_window=False), home / "models")
        short = load_transcriber(cfg, home / "models")
        for mode in ([] if args.no_full else [None]) + args.min_windows:
            t = full if mode is None else short
            stt.MIN_WINDOW = mode or stt.MIN_WINDOW
            t.warm_up()
            for name, cases in sets.items():
                loops.count = 0
                times, errs, exact = [], [], 0
                for sentence, clip in cases:
                    for _ in range(args.repeat):
                        r = t.transcribe(clip)
                        times.append(r.stt_s)
                    e = wer(words(sentence), words(r.text))
                    errs.append(e)
                    exact += e == 0
                    if e:
                        print(f"  {model} {name} {mode or 'full'}: {sentence!r} -> {r.text!r}")
                q = statistics.quantiles(times, n=10)
                label = "full 30 s" if mode is None else f"fitted, at least {mode / 100:g} s"
                print(f"| {model} | {name} | {label} | {statistics.median(times):.3f} | {q[-1]:.3f} | "
                      f"{statistics.mean(errs):.3f} | {exact}/{len(cases)} | {loops.count} |", flush=True)


def _noisy(clip: np.ndarray, snr_db: float, rng) -> np.ndarray:
    """The clip with white noise at ``snr_db`` below the speech's power (measured where it speaks)."""
    power = float(np.mean(clip[np.abs(clip) > 0.01] ** 2))
    return (clip + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(clip))).astype(np.float32)


class _LoopCounter:
    """Stands in for ``stt._LOOP``: counts the short-window decodes that looped (each is redone
    with the full window, so it costs a second pass)."""

    def __init__(self, pattern):
        self.pattern, self.count = pattern, 0

    def search(self, text):
        found = self.pattern.search(text)
        self.count += found is not None
        return found


if __name__ == "__main__":
    main()
