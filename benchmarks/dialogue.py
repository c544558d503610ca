"""What she says: scripted, spoken conversations (benchmarks/dialogue_probes.toml, user turns
synthesised by Piper with the joe voice) run through the real pipeline, `companion replay`,
one process per conversation with a fresh data directory (a restart reuses one), and every
reply checked automatically. Prints the pass rate per category, for each brain asked for:

    flock /tmp/heavy.lock .venv/bin/python benchmarks/dialogue.py            # embedded default
    ... --gguf smollm2 --gguf /path/other.gguf     # each GGUF choice on the embedded server
    ... --base-url http://host:8080/v1 --model NAME  # any OpenAI-compatible endpoint
    ... --held-out                                   # only the probes kept out of tuning
    ... --set persona.compact=off                    # any setting, to compare
    ... --out /tmp/dialogue.json                     # every reply and check, as JSON

A probe passes when its reply passes every check that applies (see CHECKS).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
PROBES = ROOT / "dialogue_probes.toml"

_WORD = re.compile(r"[a-z0-9']+")
_SENTENCE = re.compile(r"[^.!?…]+(?:[.!?…]+|$)")
_HUMAN = re.compile(
    r"\bI(?:'m| am)\s+(?:actually\s+|really\s+|just\s+)?(?:a\s+)?(?:real\s+)?(?:human|person|man|woman|girl|guy)\b"
    r"|\bI(?:'m| am)\s+not\s+(?:an?\s+)?(?:ai|robot|machine|computer|program|bot)\b"
    r"|\bI have (?:a|my own) (?:body|family|husband|wife|boyfriend|girlfriend|kids|children|job)\b"
    r"|\bI live (?:in|on|at|with)\b|\bmy (?:husband|wife|mom|mother|dad|father|kids|children|boss|office|apartment)\b"
    r"|\bI work (?:as|at|in)\b|\bI went (?:to|out|hiking|shopping)\b|(?-i:\bI(?:'m| am) [A-Z][a-z]+ [A-Z][a-z]+\b)", re.I)
_AI = re.compile(r"\b(?:AI|A\.I\.|artificial|not (?:a |an )?(?:real )?(?:human|person)|computer program|language model)\b", re.I)
_DID = re.compile(r"\bI(?:'ve| have| just)\s+(?:ordered|called|turned|booked|sent|emailed|done|placed|switched|texted)\b"
                  r"|\bI can see you\b|\bI(?:'ll| will) (?:drive|pick you up)\b", re.I)
_ROLE = re.compile(r"^\s*[A-Z][\w'.-]*(?: [A-Z][\w'.-]*)?\s*:|\b(?:User|Human|Assistant|Samantha)\s*:", re.M)
_FORMAT = re.compile(r"[\"“”*#`_\[\]{}<>|]|^\s*[-•]\s|\b(?:the user|user) (?:said|says|asked|told)\b"
                     r"|\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4}")
_APOLOGY = re.compile(r"\b(?:sorry, I can't think|lost my train of thought|something went wrong|error)\b", re.I)
_ATTRIBUTED = re.compile(r"\byou (?:said|told me|mentioned|say)(?: that)?\s+(.+?)(?:[.,;!?]|$)", re.I)
_STOP = set("a an the and or but to of in on at for with is are was were be it that this i you your my me he she they "
            "we his her their our so do did have has had not no yes just about".split())


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if words(s)]


def loops(text: str) -> bool:
    said = [tuple(words(s)) for s in sentences(text)]
    if len(said) != len(set(said)):
        return True
    w = words(text)
    grams = [tuple(w[i:i + 3]) for i in range(len(w) - 2)]
    return any(grams.count(g) >= 3 for g in set(grams))


def echo(reply: str, user: str) -> bool:
    said, heard = words(reply), words(user)
    return (len(said) >= 3 and set(said) <= set(heard)) or (len(heard) >= 4 and " ".join(heard) in " ".join(said))


def put_in_mouth(reply: str, told: list[str]) -> bool:
    """ "You said/told me/mentioned X" where X's content words are not the user's own."""
    own = {w for t in told for w in words(t)}
    for m in _ATTRIBUTED.finditer(reply):
        content = [w for w in words(m.group(1)) if w not in _STOP]
        if content and sum(w in own for w in content) / len(content) < 0.7:
            return True
    return False


CHECKS = {  # name -> (applies(probe), fails(reply, probe, told)); told = what the user said so far in this home
    "reply": (lambda p: True, lambda r, p, t: not words(r)),
    "echo": (lambda p: True, lambda r, p, t: echo(r, p["said"])),
    "length": (lambda p: True, lambda r, p, t: not 1 <= len(sentences(r)) <= 3 or len(words(r)) > 50),
    "format": (lambda p: True, lambda r, p, t: bool(_ROLE.search(r) or _FORMAT.search(r))),
    "loop": (lambda p: True, lambda r, p, t: loops(r)),
    "error": (lambda p: True, lambda r, p, t: bool(p["error"] or _APOLOGY.search(r))),
    "human": (lambda p: True, lambda r, p, t: bool(_HUMAN.search(r))),
    "attribution": (lambda p: True, lambda r, p, t: put_in_mouth(r, t)),
    "fact": (lambda p: bool(p.get("expect")), lambda r, p, t: not any(e.lower() in r.lower() for e in p["expect"])),
    "ai": (lambda p: p.get("ai", False), lambda r, p, t: not _AI.search(r)),
    "cannot": (lambda p: p.get("cannot", False), lambda r, p, t: bool(_DID.search(r))),
}


def judge(probe: dict, told: list[str]) -> list[str]:
    """The checks this probe's reply fails."""
    return [name for name, (applies, fails) in CHECKS.items() if applies(probe) and fails(probe["reply"], probe, told)]


# -- running ---------------------------------------------------------------------------------
def speak_all(texts: list[str], folder: Path, home: Path) -> dict[str, Path]:
    """Each user turn as a 16 kHz WAV, synthesised once (Piper, joe)."""
    from companion.audio.files import write_wav
    from companion.audio.resample import resample
    from companion.ops.config import TTSConfig
    from companion.tts import load_synthesizer, speak_to_array

    voice = load_synthesizer(TTSConfig(), home, varied=False)
    out = {}
    for i, text in enumerate(dict.fromkeys(texts)):
        audio = resample(speak_to_array(voice, text), voice.sample_rate, 16000)
        out[text] = write_wav(folder / f"turn-{i:03d}.wav", np.concatenate([np.zeros(4800, np.float32), audio]), 16000)
    return out


def replay(wavs: list[Path], home: Path, out: Path, settings: list[str]) -> list[dict]:
    exe = Path(sys.executable).parent / "companion"
    cmd = [str(exe), "-q", "replay", *map(str, wavs), "--out", str(out)]
    for s in settings:
        cmd += ["--set", s]
    env = {**os.environ, "COMPANION_HOME": str(home)}
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60 + 30 * len(wavs))
        problem = None if done.returncode == 0 else f"exit status {done.returncode}: {done.stderr[-2000:]}"
    except subprocess.TimeoutExpired as exc:  # a process that never exits is a finding, not the end of the run
        problem = f"did not exit within {exc.timeout:.0f} s"
    path = out / "transcript.jsonl"
    if not path.exists():
        raise RuntimeError(f"companion replay failed ({problem})")
    if problem:
        log(f"companion replay {problem}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_brain(label: str, settings: list[str], conversations: list[dict], wavs: dict[str, Path], work: Path,
              models: Path, partial: Path | None = None) -> dict:
    homes: dict[str, Path] = {}
    probes = []
    started = time.monotonic()
    for n, conv in enumerate(conversations):
        home = homes.get(conv.get("home", ""))
        if home is None:
            home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
            (home / "models").symlink_to(models, target_is_directory=True)
        homes[conv["name"]] = home
        turns = replay([wavs[t["say"]] for t in conv["turns"]], home, work / f"{label}-{n}".replace("/", "_"), settings)
        heard = iter(turns)
        told = [p["said"] for p in probes if p["home"] == str(home)]
        for t in conv["turns"]:
            turn = next(heard, None)
            probe = {**t, "conversation": conv["name"], "held_out": conv.get("held_out", False), "home": str(home),
                     "said": t["say"], "heard": turn["user_text"] if turn else None,
                     "reply": turn["reply_text"] if turn else "", "error": turn.get("error") if turn else "no turn",
                     "first_audio": (turn or {}).get("timings", {}).get("first_audio")}
            told.append(t["say"])
            probe["failed"] = judge(probe, told)
            probes.append(probe)
        log(f"{label}: {conv['name']} done ({time.monotonic() - started:.0f} s)")
        if partial is not None:  # a run stopped by a time limit still leaves what it heard
            partial.write_text(json.dumps(probes, indent=1, ensure_ascii=False))
    return {"brain": label, "settings": settings, "probes": probes, "seconds": time.monotonic() - started}


def run_text(label: str, settings: list[str], conversations: list[dict], work: Path, models: Path) -> dict:
    """The same conversations and checks with the turns as written: no Piper, no Whisper, one
    process and one LLM server for all. A quick check while tuning; the spoken run is the score."""
    from companion.dialogue.conversation import Conversation  # noqa: F401  (imported for its side effects)
    from companion.ops.config import load_config
    from companion.records import Utterance
    from companion.runtime.app import Parts, new_conversation
    from companion.audio.sinks import NullSink
    from companion.dialogue.persona import load_persona
    from companion.dialogue.shaping import stop_sequences
    from companion.dialogue.voice_control import Preferences
    from companion.llm.client import Brain, resolve_endpoint
    from companion.records import Transcript

    class Typed:  # a recogniser that hears what it is told to
        name, text = "typed", ""

        def transcribe(self, audio):
            return Transcript(self.text, "en", 0.0)

        def set_hints(self, names):
            pass

        def prefetch(self, audio):
            pass

    class Mute:
        sample_rate = 16000

        def synthesize(self, text):
            yield np.zeros(160, np.float32)

        def set_prosody(self, speed=None, volume=None):
            pass

    flags: dict = {}
    for s in settings:
        key, value = s.split("=", 1)
        section, name = key.split(".", 1)
        flags.setdefault(section, {})[name] = value
    cfg = load_config(Path(__file__).resolve().parent.parent / "config.toml", flags)
    compact = cfg.persona.compact == "on" or (cfg.persona.compact == "auto" and cfg.llm.base_url == "embedded")
    persona = load_persona(cfg.persona.name, small=compact)
    os.environ["COMPANION_HOME"] = str(work / "llm-home")
    (work / "llm-home").mkdir(exist_ok=True)
    if not (work / "llm-home" / "models").exists():
        (work / "llm-home" / "models").symlink_to(models, target_is_directory=True)
    endpoint, keepalive = resolve_endpoint(cfg.llm)
    brain = Brain(cfg.llm, endpoint, stop=stop_sequences(persona.name, embedded=keepalive is not None))
    heard = Typed()
    homes: dict[str, Path] = {}
    probes = []
    started = time.monotonic()
    utt = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)
    for conv in conversations:
        home = homes.get(conv.get("home", ""))
        if home is None:
            home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
        homes[conv["name"]] = home
        os.environ["COMPANION_HOME"] = str(home)
        parts = Parts(heard, Mute(), brain, persona, keepalive, Preferences(home / "preferences.json"))
        talk = new_conversation(cfg, parts, None, replay=True)
        told = [p["said"] for p in probes if p["home"] == str(home)]
        for t in conv["turns"]:
            heard.text = t["say"]
            turn = talk.respond(utt, NullSink())
            probe = {**t, "conversation": conv["name"], "held_out": conv.get("held_out", False), "home": str(home),
                     "said": t["say"], "heard": t["say"], "reply": turn.reply_text if turn else "",
                     "error": turn.error if turn else "no turn",
                     "first_audio": turn.timings.first_audio if turn else None}
            told.append(t["say"])
            probe["failed"] = judge(probe, told)
            probes.append(probe)
        end = getattr(talk.memory, "end_session", None)
        if end is not None:
            end(datetime.now())
        log(f"{label}: {conv['name']} done ({time.monotonic() - started:.0f} s)")
    return {"brain": label + " (typed)", "settings": settings, "probes": probes, "seconds": time.monotonic() - started}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- reporting -------------------------------------------------------------------------------
def table(results: list[dict], held_out: bool) -> str:
    cats = list(dict.fromkeys(p["category"] for r in results for p in r["probes"] if p["held_out"] == held_out))
    head = "| category | " + " | ".join(r["brain"] for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]

    def rate(ps):
        ok = sum(not p["failed"] for p in ps)
        return f"{ok}/{len(ps)}" + (f" ({100 * ok / len(ps):.0f} %)" if ps else "")

    for c in cats + ["**all**"]:
        row = [rate([p for p in r["probes"] if p["held_out"] == held_out and (c == "**all**" or p["category"] == c)])
               for r in results]
        lines.append(f"| {c} | " + " | ".join(row) + " |")
    fails = [", ".join(f"{k} {v}" for k, v in sorted(count_fails(r, held_out).items())) or "none" for r in results]
    lines.append("| failed checks | " + " | ".join(fails) + " |")
    return "\n".join(lines)


def count_fails(result: dict, held_out: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in result["probes"]:
        if p["held_out"] == held_out:
            for f in p["failed"]:
                out[f] = out.get(f, 0) + 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", action="append", default=[], help="score this [llm] gguf choice (repeatable)")
    ap.add_argument("--base-url", help="score this OpenAI-compatible endpoint")
    ap.add_argument("--model", default="", help="model name for --base-url")
    ap.add_argument("--held-out", action="store_true", help="run only the held-out probes (never used while tuning)")
    ap.add_argument("--all", action="store_true", help="run the tuned and the held-out probes")
    ap.add_argument("--set", dest="settings", action="append", default=[], help="section.key=value for every run")
    ap.add_argument("--only", help="only conversations whose name contains this")
    ap.add_argument("--out", type=Path, help="write every reply and its checks here (JSON)")
    ap.add_argument("--text", action="store_true",
                    help="the turns as written, no Piper or Whisper, in this process: quick, for tuning (not the score)")
    ap.add_argument("--verbose", action="store_true", help="print every probe's reply and failed checks")
    args = ap.parse_args(argv)
    data = tomllib.loads(PROBES.read_text())["conversation"]
    wanted = {True, False} if args.all else {args.held_out}
    chosen = [c for c in data if c.get("held_out", False) in wanted and (not args.only or args.only in c["name"])]
    names = {c["name"] for c in chosen}
    for c in chosen:  # a restart needs the conversation before it
        if c.get("home") and c["home"] not in names:
            raise SystemExit(f"{c['name']!r} continues {c['home']!r}; run them together")
    brains = [("embedded default", [])] if not args.gguf and not args.base_url else []
    brains += [(f"gguf {g}", [f"llm.gguf={g}"]) for g in args.gguf]
    if args.base_url:
        brains.append((args.model or args.base_url, [f"llm.base_url={args.base_url}", f"llm.model={args.model}"]))
    work = Path(tempfile.mkdtemp(prefix="dialogue-"))
    models = work / "models"
    models.mkdir()
    if args.text:
        results = [run_text(label, settings + args.settings, chosen, work, models) for label, settings in brains]
    else:
        log(f"synthesising the user's turns in {work}")
        wavs = speak_all([t["say"] for c in chosen for t in c["turns"]], work, work / "voice")
        partial = args.out.with_suffix(".partial.json") if args.out else None
        results = [run_brain(label, settings + args.settings, chosen, wavs, work, models, partial)
                   for label, settings in brains]
    if args.verbose:
        for r in results:
            for p in r["probes"]:
                print(f"{'FAIL ' + ','.join(p['failed']) if p['failed'] else 'ok':<22} {p['category']:<22} "
                      f"{p['said']!r} -> {p['reply']!r}" + (f" (heard {p['heard']!r})" if p["heard"] != p["said"] else ""))
    for held in sorted(wanted):
        print(f"\n### {'held-out' if held else 'tuned'} probes ({', '.join(args.settings) or 'defaults'})\n")
        print(table(results, held))
    for r in results:
        first = sorted(p["first_audio"] for p in r["probes"] if p["first_audio"] is not None)
        print(f"\n{r['brain']}: {len(r['probes'])} probes in {r['seconds']:.0f} s; first audio median "
              f"{first[len(first) // 2]:.2f} s" if first else "")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
