"""Names heard as said: Whisper with and without the names memory knows as hints, on
Piper-spoken turns that carry those names (and on turns with none, so a hint that makes
Whisper hear names that were not said shows up too). Both the short window and the full
30 s window are measured. Prints names heard right and word error rate per mode.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/stt_hints.py [--model bundled:base]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stt_window import wer, words  # noqa: E402

from companion.audio.resample import resample  # noqa: E402
from companion.ops.config import STTConfig, TTSConfig  # noqa: E402
from companion.stt.whisper import WhisperRecognizer  # noqa: E402
from companion.tts import load_synthesizer, speak_to_array  # noqa: E402

# (what the user says, the names in it); the names are what memory would know
NAMED = [
    ("My sister Susan lives in Boston.", ["Susan"]),
    ("My dog Biscuit is two years old.", ["Biscuit"]),
    ("Zoë is coming over for dinner tonight.", ["Zoë"]),
    ("I had coffee with Siobhan this morning.", ["Siobhan"]),
    ("Niamh called me about the wedding.", ["Niamh"]),
    ("My cat Mochi knocked over a glass.", ["Mochi"]),
    ("Where does Aoife work these days?", ["Aoife"]),
    ("Kai and Priya are moving to Denver.", ["Kai", "Priya"]),
    ("Remind me to call Grandma Edith on Sunday.", ["Edith"]),
    ("Tobias fixed my bike yesterday.", ["Tobias"]),
    ("My brother Tom works at a bakery in Chicago.", ["Tom"]),
    ("I walked Pickles along the river.", ["Pickles"]),
]
PLAIN = ["What should I cook for dinner tonight?", "I had a really rough day at work.",
         "What's the capital of France?", "Can you tell me a joke?"]


def fold(word: str) -> str:
    """Names compared without accents' spelling differences only where Whisper drops them."""
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="bundled:base", help="[stt] model to measure")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp())
    voice = load_synthesizer(TTSConfig(), home)
    turns = [(t, names) for t, names in NAMED] + [(t, []) for t in PLAIN]
    audio = [resample(speak_to_array(voice, text), voice.sample_rate, 16000) for text, _ in turns]
    known = [n for _, names in NAMED for n in names]
    print(f"{len(NAMED)} turns with {len(known)} names, {len(PLAIN)} without; hints = all {len(known)} names")
    print("| window | hints | names heard as said | names heard (accents aside) | WER, named turns | WER, plain turns | names heard that were not said |")
    print("|---|---|---|---|---|---|---|")
    for short in (True, False):
        rec = WhisperRecognizer(dataclasses.replace(STTConfig(model=args.model), short_window=short), home / "models")
        for hints in ([], known):
            rec.set_hints(hints)
            exact = folded = invented = 0
            named_err, plain_err = [], []
            for (text, names), clip in zip(turns, audio):
                heard = rec.transcribe(clip).text
                got = heard.replace(",", " ").replace(".", " ").replace("?", " ").split()
                exact += sum(n in got for n in names)
                folded += sum(fold(n) in map(fold, got) for n in names)
                invented += sum(fold(n) in map(fold, got) for n in known if n not in names)
                (named_err if names else plain_err).append(wer(words(text), words(heard)))
                if names and not all(n in got for n in names):
                    print(f"  {'hints' if hints else 'none '}: {text!r} -> {heard!r}", file=sys.stderr)
            print(f"| {'fitted' if short else '30 s'} | {'names' if hints else 'none'} | {exact}/{len(known)} | "
                  f"{folded}/{len(known)} | {sum(named_err) / len(named_err):.3f} | {sum(plain_err) / len(plain_err):.3f} | {invented} |")


if __name__ == "__main__":
    main()
