"""Voice-to-voice latency of the real ``companion`` process on a virtual headset.

Runs ``companion run`` with the embedded defaults (in-process llama.cpp + SmolLM2, Whisper
base, Piper) on a private PulseAudio daemon (companion/testing/virtual_headset.py), speaks
Piper-synthesised user turns into the virtual microphone, and measures from the OUTSIDE:

    end of the user's speech as it reached the virtual mic   (recording of mic.monitor)
 -> first reply sample as it reached the virtual speaker      (recording of spk.monitor)

Both monitors are recorded continuously from before the first turn; each recording's clock
is tied to time.monotonic() (see Recorder.t0), so the two are comparable to about the
stream latency (~20 ms). The position of the user's speech end inside the played file is
also known (last sample above a threshold), which gives a cross-check: file-based end =
paplay launch + offset in the file (paplay's own start-up delay makes it later in reality).

Also collected: the program's own per-stage timings (transcript JSONL), cold start to the
"listening" log line, idle CPU while listening, peak RSS (VmHWM), shutdown time on SIGTERM.

    .venv/bin/python benchmarks/latency.py --turns 20 --out /tmp/lat.json

``--speech local,wyoming,openai`` runs the same turns once per way of recognising and speaking,
back to back in one run: on this machine, then through real speech servers started on
127.0.0.1 on the same models (wyoming-faster-whisper + wyoming-piper; faster-whisper-server +
local-tts-studio; see companion/testing/speech_servers.py), so the cost of the network hop and
the protocol is the difference between the rows.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contextlib import contextmanager  # noqa: E402

from companion.testing.virtual_headset import (VirtualHeadset, _die_with_parent, available, missing_tools,  # noqa: E402
                                               read_wav, write_wav)

SENTENCES = [
    "Hi Samantha, how are you today?",
    "What should I cook for dinner tonight?",
    "Tell me something interesting about the ocean.",
    "I had a long day at work and I feel a bit tired.",
    "Do you think it will rain this weekend?",
]
STAGES = ["endpoint_wait", "stt", "stt_wait", "thought_ahead", "llm_first_token", "first_sentence", "tts_first_audio",
          "first_audio", "first_words", "voice_to_voice"]
STAGE_LABELS = {
    "endpoint_wait": "endpointing wait (end of speech -> turn declared)",
    "stt": "STT compute",
    "stt_wait": "STT wait (after the turn was declared)",
    "thought_ahead": "reply started ahead of the turn's end (turns thought ahead only)",
    "llm_first_token": "LLM first token",
    "first_sentence": "first sentence ready (from LLM request)",
    "tts_first_audio": "TTS first audio (first sentence -> audio)",
    "first_audio": "turn declared -> first sample to sink",
    "first_words": "turn declared -> the reply's own first words (after an acknowledgment, 'Mm,')",
    "voice_to_voice": "voice-to-voice (program's own)",
}
SPEECH_THRESHOLD = 0.01  # |sample| above this is speech in the played file / mic recording
ONSET_THRESHOLD = 0.003  # the speaker is digital silence (zeros) between replies


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model or platform.processor(), "python": platform.python_version(),
            "platform": platform.platform()}


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median": pct(values, 50), "p90": pct(values, 90),
            "min": min(values) if values else None, "max": max(values) if values else None}


# -- process probes ------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads


def status_kb(pid: int, key: str) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def idle_cpu(pid: int, seconds: float) -> float:
    """% of one core used by ``pid`` over ``seconds`` of wall time."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


# -- audio analysis ------------------------------------------------------------------------
def last_above(audio: np.ndarray, threshold: float) -> int | None:
    idx = np.nonzero(np.abs(audio) > threshold)[0]
    return int(idx[-1]) if idx.size else None


def first_above(audio: np.ndarray, threshold: float) -> int | None:
    idx = np.nonzero(np.abs(audio) > threshold)[0]
    return int(idx[0]) if idx.size else None


def segments(audio: np.ndarray, threshold: float, rate: int, bridge_s: float = 0.01) -> list[tuple[int, int]]:
    """(start, end) of the runs of samples above ``threshold``, bridging gaps up to ``bridge_s``."""
    idx = np.nonzero(np.abs(audio) > threshold)[0]
    if not idx.size:
        return []
    breaks = np.nonzero(np.diff(idx) > int(bridge_s * rate))[0]
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def prepare_cache(home: Path, settings: list[str]) -> None:
    """Make the opener cache in ``home`` before the first start, as scripts/setup.sh does (a
    start that finds none builds it in the background, and acknowledges nothing meanwhile)."""
    from companion.ops.config import load_config, parse_assignments
    from companion.runtime.app import prepare_opener_cache

    t = time.monotonic()
    cache = prepare_opener_cache(load_config(None, parse_assignments(settings)), home)
    if cache is not None:
        log(f"opener cache: {len(cache.phrases)} phrases for {cache.name} in {time.monotonic() - t:.0f}s")


def is_cue(segment: np.ndarray, rate: int) -> bool:
    """An earcon (the app's 'thinking'/'listening' cues: short pure sine notes of 392 Hz and
    up), not speech: shorter than 0.4 s, peak above 300 Hz, and over 95 % of its energy within
    +-25 Hz of that peak (earcons: 97-100 %; short voiced speech bits reach 88 % at most)."""
    if len(segment) > 0.4 * rate or len(segment) < 0.01 * rate:
        return False
    n = 1 << int(np.ceil(np.log2(max(len(segment), rate // 4))))  # >= 4 Hz resolution
    power = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / rate)
    peak = freqs[int(np.argmax(power))]
    return peak > 300 and float(power[np.abs(freqs - peak) <= 25].sum() / max(power.sum(), 1e-12)) > 0.95


def reply_onset(audio: np.ndarray, rate: int) -> tuple[int | None, int | None, int]:
    """(first reply speech sample, first sound of any kind, number of cues before the speech)."""
    first_sound, cues = None, 0
    for start, end in segments(audio, ONSET_THRESHOLD, rate):
        if first_sound is None:
            first_sound = start
        if is_cue(audio[start:end], rate):
            cues += 1
            continue
        return start, first_sound, cues
    return None, first_sound, cues


def silent_tail(audio: np.ndarray, rate: int, seconds: float) -> bool:
    n = int(rate * seconds)
    return len(audio) >= n and float(np.max(np.abs(audio[-n:]))) <= ONSET_THRESHOLD


# -- set-up --------------------------------------------------------------------------------
def prepare(home: Path, folder: Path, sentences: list[str]) -> list[dict]:
    """Assemble the models into ``home`` (so cold start is not first-install) and synthesise
    the user turns as 16 kHz WAVs with known speech end."""
    from companion.audio.resample import resample
    from companion.ops.config import load_config
    from companion.model_files import resolve_gguf, whisper_model_dir
    from companion.tts import load_synthesizer, speak_to_array

    cfg = load_config(None, {})
    whisper_model_dir(cfg.stt.model, home / "models")
    if cfg.llm.base_url == "embedded":
        resolve_gguf(cfg.llm.gguf, home / "models")  # rewritten once, as scripts/setup.sh does
    voice = load_synthesizer(cfg.tts, home)
    turns = []
    for i, text in enumerate(sentences):
        audio = resample(speak_to_array(voice, text), voice.sample_rate, 16000)
        audio = np.concatenate([np.zeros(4800, np.float32), audio, np.zeros(3200, np.float32)])  # 0.3 s lead, 0.2 s tail
        path = write_wav(folder / f"user-{i}.wav", audio, 16000)
        audio, rate = read_wav(path)
        end = last_above(audio, SPEECH_THRESHOLD)
        turns.append({"text": text, "wav": str(path), "rate": rate, "duration": len(audio) / rate,
                      "speech_end_in_file": end / rate})
    return turns


def seed_memory(home: Path, conversation: Path) -> dict:
    """A lived-in memory: one LoCoMo conversation told to ``home``'s memory, session by
    session, through the live code (facts learned by the rules, past turns searchable)."""
    from locomo import ingest, load

    from companion.ops.config import MemoryConfig
    from companion.memory.longterm import LongTermMemory
    from companion.memory.store import DB_NAME, MemoryStore

    store = MemoryStore(home / DB_NAME)
    ingest(LongTermMemory(store, MemoryConfig()), next(iter(load(conversation).values())))
    counts = store.counts()
    store.close()
    return counts


def import_facts(home: Path, work: Path, n: int) -> dict:
    """``n`` made-up facts (likes, plans, notes about people and places, a fixed seed) written as
    a memory export and added with ``companion memory import``, as a user with a large memory
    would have them."""
    import random
    from datetime import datetime, timedelta

    from companion.memory.store import MemoryStore

    rng = random.Random(14)
    things = ("the ocean", "jazz", "tennis", "hiking", "Paris", "gardening", "the piano", "dogs", "old films",
              "sushi", "chess", "poetry", "baking bread", "cycling", "yoga", "photography", "the harbor", "letters")
    people = ("Anna", "Paul", "my sister", "my mother", "Amy", "Charles", "the neighbour", "my boss", "Olivia")
    months = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")
    kinds = [("likes", lambda: rng.choice(things)), ("dislikes", lambda: rng.choice(things)),
             ("plan", lambda: f"visit {rng.choice(people)} in {rng.choice(months)}"),
             ("note", lambda: f"{rng.choice(people)} said something about {rng.choice(things)} on {rng.choice(months)} "
                              f"{rng.randint(1, 28)}")]
    store = MemoryStore(work / "facts-source.db")
    t0 = datetime(2026, 1, 1)
    with store.transaction():
        for i in range(n):
            attribute, value = rng.choice(kinds)
            store.add_fact(attribute, f"{value()} (#{i})", t0 + timedelta(minutes=i), single=False, origin="import")
    export = work / "facts.json"
    export.write_text(json.dumps(store.export()))
    store.close()
    env = {**os.environ, "COMPANION_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "companion", "memory", "import", str(export)], env=env, cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    from companion.memory.store import DB_NAME

    store = MemoryStore(home / DB_NAME)
    counts = store.counts()
    store.close()
    return counts


def transcript_lines(home: Path, skip: frozenset = frozenset()) -> list[dict]:
    """Turns logged by this run (``skip``: transcripts that existed before it, with ``--home``)."""
    lines = []
    for f in sorted((home / "transcripts").glob("*.jsonl")):
        if f.name in skip:
            continue
        lines += [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
    return lines


# -- the run -------------------------------------------------------------------------------
def run(args) -> dict:
    tmp = tempfile.TemporaryDirectory(prefix="latency-bench-")
    work = Path(tmp.name)
    home = Path(args.home) if args.home else work / "home"
    home.mkdir(parents=True, exist_ok=True)
    # this process and companion see the same settings: the repo's config.toml, no user config
    for name in [k for k in os.environ if k.startswith("COMPANION_")]:
        del os.environ[name]
    os.environ["COMPANION_HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(work / "xdg-config")
    args.old_transcripts = frozenset(f.name for f in (home / "transcripts").glob("*.jsonl"))
    log(f"preparing models and {len(SENTENCES)} user turns in {home}")
    user_turns = prepare(home, work, SENTENCES)
    if not args.cache_at_start:
        prepare_cache(home, args.set or [])
    seeded = seed_memory(home, args.memory_from) if args.memory_from else None
    if args.facts:
        seeded = import_facts(home, work, args.facts)
    if seeded:
        log(f"memory seeded from {args.memory_from}: {seeded}")

    env_clean = dict(os.environ)
    exe = Path(sys.executable).parent / "companion"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "companion"]),
           "run", "--input-device", args.device, "--output-device", args.device]
    for assignment in args.set or []:
        cmd += ["--set", assignment]
    if args.verbose:
        cmd.append("--verbose")  # debug lines in the kept stderr (e.g. why a reply made ahead was dropped)

    results: dict = {"machine": machine(), "command": cmd, "turns_requested": args.turns, "turns": [],
                     "memory_from": str(args.memory_from) if args.memory_from else None, "facts_imported": args.facts,
                     "memory_seeded": seeded}
    stderr_path = work / "companion.stderr"
    with VirtualHeadset() as hs:
        mic = hs.record(work / "mic.wav", source="mic.monitor").wait_started()
        spk = hs.record(work / "spk.wav", source="spk.monitor").wait_started()
        err = open(stderr_path, "wb")
        launched = time.monotonic()
        proc = subprocess.Popen(cmd, env=hs.environ(env_clean, voice=None), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True, preexec_fn=_die_with_parent)
        try:
            deadline = launched + args.start_timeout
            while "listening (" not in stderr_path.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("companion did not reach 'listening':\n"
                                       + stderr_path.read_text(errors="replace")[-3000:])
                time.sleep(0.01)
            results["cold_start_to_listening_s"] = time.monotonic() - launched
            log(f"listening after {results['cold_start_to_listening_s']:.2f}s; measuring idle CPU for {args.idle_s}s")
            time.sleep(1.0)
            results["idle_cpu_percent_of_one_core"] = idle_cpu(proc.pid, args.idle_s)
            results["rss_after_start_kb"] = status_kb(proc.pid, "VmRSS")

            for i in range(args.turns):
                ut = user_turns[i % len(user_turns)]
                results["turns"].append(one_turn(i, ut, hs, mic, spk, proc, home, args, stderr_path))

            results["peak_rss_kb"] = status_kb(proc.pid, "VmHWM")
            results["rss_end_kb"] = status_kb(proc.pid, "VmRSS")
            proc.send_signal(signal.SIGTERM)
            t = time.monotonic()
            try:
                results["exit_code"] = proc.wait(15)
            except subprocess.TimeoutExpired:
                results["exit_code"] = None
            results["shutdown_s"] = time.monotonic() - t
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            err.close()
            mic.stop()
            spk.stop()
        stderr = stderr_path.read_text(errors="replace")
        results["traceback_in_stderr"] = "Traceback" in stderr
        results["alsa_underruns"] = stderr.count("underrun occurred")  # gaps in the reply audio
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("mic.wav", "spk.wav", "companion.stderr"):
                (keep / name).write_bytes((work / name).read_bytes())
            for f in (home / "transcripts").glob("*.jsonl"):
                if f.name not in args.old_transcripts:
                    (keep / f.name).write_bytes(f.read_bytes())
    tmp.cleanup()
    return results


def one_turn(i: int, ut: dict, hs: VirtualHeadset, mic, spk, proc, home: Path, args, stderr_path: Path) -> dict:
    rec = {"index": i + 1, "user_text": ut["text"]}
    time.sleep(args.gap)
    before = len(transcript_lines(home, args.old_transcripts))
    mic_mark = int(mic.seconds() * mic.rate)
    launch = time.monotonic()
    hs.play(ut["wav"])
    played = time.monotonic()
    rec["file_speech_end_at"] = launch + ut["speech_end_in_file"]
    # the user's speech end as the virtual mic carried it
    time.sleep(0.1)
    heard = mic.audio()[mic_mark:]
    end = last_above(heard, SPEECH_THRESHOLD)
    if end is None:
        rec["error"] = "the played turn never reached the virtual mic"
        log(f"turn {i + 1}: {rec['error']}")
        return rec
    speech_end_at = mic.time_of(mic_mark + end)
    rec["paplay_start_delay_s"] = speech_end_at - rec["file_speech_end_at"]
    rec["play_wall_s"] = played - launch

    # wait for the turn in the transcript (written once the reply has been played)
    want = before + 1
    deadline = time.monotonic() + args.reply_timeout
    lines = []
    while time.monotonic() < deadline:
        lines = transcript_lines(home, args.old_transcripts)
        if len(lines) >= want:
            break
        if proc.poll() is not None:
            raise RuntimeError("companion exited:\n" + stderr_path.read_text(errors="replace")[-3000:])
        time.sleep(0.05)
    # and for the speaker to go quiet
    quiet_deadline = time.monotonic() + 10
    while time.monotonic() < quiet_deadline and not silent_tail(spk.audio(), spk.rate, 0.3):
        time.sleep(0.05)

    start_idx = max(0, int(round((speech_end_at - spk.t0) * spk.rate)))
    onset, first_sound, cues = reply_onset(spk.audio()[start_idx:], spk.rate)
    rec["cues_before_reply"] = cues  # e.g. the 'thinking' earcon when the reply is slow
    if first_sound is not None:
        rec["first_sound_outside_s"] = spk.time_of(start_idx + first_sound) - speech_end_at
    if onset is not None:
        reply_at = spk.time_of(start_idx + onset)
        rec["voice_to_voice_outside_s"] = reply_at - speech_end_at
        rec["voice_to_voice_file_based_s"] = reply_at - rec["file_speech_end_at"]
    if len(lines) >= want:
        turn = lines[want - 1]
        rec["heard_text"] = turn.get("user_text")
        rec["reply_text"] = turn.get("reply_text")
        rec["error"] = turn.get("error")
        rec["timings"] = turn.get("timings", {})
    else:
        rec["error"] = f"no transcript line within {args.reply_timeout}s (turn ignored or lost)"
        rec["missing_line"] = True
    own_t = rec.get("timings") or {}
    if rec.get("voice_to_voice_outside_s") is not None and own_t.get("first_words") is not None \
            and own_t.get("first_audio") is not None:  # an acknowledgment ("Mm,") is the first sound; then her words
        rec["first_words_outside_s"] = rec["voice_to_voice_outside_s"] + own_t["first_words"] - own_t["first_audio"]
        rec["acknowledged"] = own_t["first_words"] - own_t["first_audio"] > 0.05
    v = rec.get("voice_to_voice_outside_s")
    own = (rec.get("timings") or {}).get("voice_to_voice")
    log(f"turn {i + 1}: outside {v * 1000 if v is not None else float('nan'):.0f} ms, "
        f"own {own * 1000 if own is not None else float('nan'):.0f} ms | {ut['text']!r} -> "
        f"{(rec.get('reply_text') or '')[:60]!r}")
    return rec


# -- report --------------------------------------------------------------------------------
def analyse(results: dict) -> dict:
    turns = results["turns"]
    outside = [t["voice_to_voice_outside_s"] for t in turns if t.get("voice_to_voice_outside_s") is not None]
    clean = [t["voice_to_voice_outside_s"] for t in turns
             if t.get("voice_to_voice_outside_s") is not None and not t.get("error")]
    file_based = [t["voice_to_voice_file_based_s"] for t in turns if t.get("voice_to_voice_file_based_s") is not None]
    stages = {s: summary([t["timings"][s] for t in turns if (t.get("timings") or {}).get(s) is not None])
              for s in STAGES}
    gap = [t["voice_to_voice_outside_s"] - t["timings"]["voice_to_voice"] for t in turns
           if t.get("voice_to_voice_outside_s") is not None and (t.get("timings") or {}).get("voice_to_voice")]
    results["summary"] = {
        "voice_to_voice_outside": summary(outside),
        "voice_to_voice_outside_no_error": summary(clean),
        "voice_to_voice_file_based": summary(file_based),
        "first_sound_outside": summary([t["first_sound_outside_s"] for t in turns
                                        if t.get("first_sound_outside_s") is not None]),
        "first_words_outside": summary([t["first_words_outside_s"] for t in turns if t.get("first_words_outside_s") is not None]),
        "turns_acknowledged": sum(1 for t in turns if t.get("acknowledged")),
        "turns_with_cue_before_reply": sum(1 for t in turns if t.get("cues_before_reply")),
        "voice_to_voice_own": stages["voice_to_voice"],
        "outside_minus_own": summary(gap),
        "stages_own": stages,
        "turns_measured": len(outside),
        "turns_failed": sum(1 for t in turns if t.get("voice_to_voice_outside_s") is None or t.get("missing_line")),
        "replies_with_error": sum(1 for t in turns if t.get("error")),
    }
    return results


def ms(v) -> str:
    return "–" if v is None else f"{v * 1000:.0f} ms"


def markdown(results: dict) -> str:
    s, m = results["summary"], results["machine"]
    rows = [("voice-to-voice, measured outside (mic end of speech -> speaker first sample)",
             s["voice_to_voice_outside"]),
            ("voice-to-voice, outside, turns answered without error", s["voice_to_voice_outside_no_error"]),
            ("first sound of any kind on the speaker (a 'thinking' earcon or the reply)", s["first_sound_outside"]),
            ("her own first words, outside (voice-to-voice outside + the acknowledgment's lead, when one played)",
             s["first_words_outside"]),
            ("voice-to-voice, program's own (`timings.voice_to_voice`)", s["voice_to_voice_own"]),
            ("outside minus own (device buffers, PortAudio/ALSA/Pulse)", s["outside_minus_own"])]
    rows += [(STAGE_LABELS[k], s["stages_own"][k]) for k in STAGES if k != "voice_to_voice"]
    out = [f"Machine: {m['nproc']} cores, {m['cpu_model']}; Python {m['python']}",
           f"Turns: {s['turns_measured']} measured of {results['turns_requested']} "
           f"({s['turns_failed']} failed, {s['replies_with_error']} with an error/apology, "
           f"{s['turns_with_cue_before_reply']} with an earcon before the reply, "
           f"{s['turns_acknowledged']} acknowledged first)",
           f"Memory: {_memory_label(results)}", "",
           "| measure | median | p90 | min | max | n |", "|---|---|---|---|---|---|"]
    for label, st in rows:
        out.append(f"| {label} | {ms(st['median'])} | {ms(st['p90'])} | {ms(st['min'])} | {ms(st['max'])} | {st['n']} |")
    cpu = results.get("idle_cpu_percent_of_one_core")
    hwm = results.get("peak_rss_kb")
    out += ["", "| process | value |", "|---|---|",
            f"| cold start to 'listening' | {results.get('cold_start_to_listening_s', float('nan')):.2f} s |",
            f"| idle CPU while listening | {cpu:.1f} % of one core |" if cpu is not None else "| idle CPU | – |",
            f"| peak RSS (VmHWM) | {hwm / 1024:.0f} MiB |" if hwm else "| peak RSS | – |",
            f"| output underruns (ALSA 'underrun occurred' lines) | {results.get('alsa_underruns')} |",
            f"| shutdown on SIGTERM | {results.get('shutdown_s', float('nan')):.2f} s, exit code "
            f"{results.get('exit_code')}, traceback: {results.get('traceback_in_stderr')} |"]
    return "\n".join(out)


@contextmanager
def speech_served(kind: str, folder: Path):
    """The ``--set`` assignments that send recognition and speech to real servers on loopback
    (none for ``local``), with the servers running meanwhile."""
    if kind == "local":
        yield []
        return
    from companion.model_files import whisper_model_dir
    from companion.testing import speech_servers as ss

    stt_server, tts_server, _ = ss.SERVED[kind]
    with stt_server(whisper_model_dir("bundled:base", folder / "models"), folder) as stt, tts_server(folder) as tts:
        log(f"{kind}: speech servers at {stt.url} and {tts.url}")
        yield [f"stt.base_url={stt.url}", f"tts.base_url={tts.url}",
               *(["tts.remote_voice=" + ss.PIPER_VOICE] if kind == "wyoming" else [])]


def comparison(runs: dict[str, dict]) -> str:
    keys = [("voice-to-voice, measured outside", lambda s: s["voice_to_voice_outside"]),
            ("endpointing wait", lambda s: s["stages_own"]["endpoint_wait"]),
            ("STT compute", lambda s: s["stages_own"]["stt"]),
            ("STT wait after the turn", lambda s: s["stages_own"]["stt_wait"]),
            ("TTS first audio", lambda s: s["stages_own"]["tts_first_audio"])]
    out = ["| speech | " + " | ".join(f"{k}: median / p90" for k, _ in keys) + " | turns with an error |",
           "|---|" + "---|" * (len(keys) + 1)]
    for kind, r in runs.items():
        s = r["summary"]
        out.append(f"| {kind} | " + " | ".join(f"{ms(get(s)['median'])} / {ms(get(s)['p90'])}" for _, get in keys)
                   + f" | {s['replies_with_error']} |")
    return "\n".join(out)
def _memory_label(results: dict) -> str:
    if results.get("memory_from"):
        return f"seeded from {results['memory_from']} {results['memory_seeded']}"
    if results.get("facts_imported"):
        return f"{results['facts_imported']} made-up facts imported {results['memory_seeded']}"
    return "empty (a fresh data directory)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--out", type=Path, required=True, help="JSON results")
    p.add_argument("--gap", type=float, default=1.0, help="seconds of silence between a reply and the next turn")
    p.add_argument("--idle-s", type=float, default=10.0, help="seconds of idle listening for the CPU measure")
    p.add_argument("--device", default="pulse", help="PortAudio device name for companion (default: pulse)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="passed to companion (repeatable)")
    p.add_argument("--home", help="COMPANION_HOME to use (default: a fresh temp dir)")
    p.add_argument("--cache-at-start", action="store_true",
                   help="do not make the opener cache first (as set-up does): companion builds it after it starts")
    p.add_argument("--memory-from", type=Path, metavar="LOCOMO_JSON",
                   help="first tell this LoCoMo conversation to the memory (e.g. ../shared/data/locomo10/26.json), "
                        "to measure with a lived-in memory; skipped when the file is absent")
    p.add_argument("--facts", type=int, default=0, metavar="N",
                   help="first import N made-up facts with `companion memory import` (a user with a large memory)")
    p.add_argument("--verbose", action="store_true", help="run companion with debug logging (see --keep)")
    p.add_argument("--keep", help="folder to keep the recordings, stderr and transcript in")
    p.add_argument("--start-timeout", type=float, default=180.0)
    p.add_argument("--reply-timeout", type=float, default=90.0)
    p.add_argument("--speech", default="local", help="comma-separated: local, wyoming, openai (one run each, "
                   "back to back; the remote ones through real servers on 127.0.0.1)")
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.speech.split(",") if k.strip()]
    if not kinds or set(kinds) - {"local", "wyoming", "openai"}:
        p.error("--speech takes local, wyoming and/or openai, separated by commas")
    if not available():
        print(f"benchmark needs PulseAudio: missing {', '.join(missing_tools())}", file=sys.stderr)
        return 2
    def terminate(signum, frame):  # SIGTERM: unwind, so companion and the headset are stopped
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    if args.memory_from and not args.memory_from.exists():
        print(f"no LoCoMo data at {args.memory_from}: skipped (the data lives in ../shared/data/locomo10)")
        return 0
    if kinds == ["local"]:
        results = analyse(run(args))
        table = markdown(results)
    else:
        runs = {}
        with tempfile.TemporaryDirectory(prefix="speech-servers-") as folder:
            for kind in kinds:
                with speech_served(kind, Path(folder)) as assignments:
                    one = copy.copy(args)
                    one.set = [*(args.set or []), *assignments]
                    runs[kind] = analyse(run(one))
                    log(f"{kind}:\n{markdown(runs[kind])}")
        results = {"runs": runs}
        table = comparison(runs) + "\n\n" + "\n\n".join(f"### {k}\n{markdown(r)}" for k, r in runs.items())
    results["markdown"] = table
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(table)
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
