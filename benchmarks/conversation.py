"""Turn-taking and barge-in of the real ``companion`` process on the virtual headset, with the
embedded defaults, measured from the recorded audio (not the program's logs):

1. plain questions                  -> voice-to-voice latency (end of user speech on the mic
                                       -> first reply sample on the speaker)
2. a user who pauses mid-sentence   -> cut-offs: she starts replying before the user's second
   ("... and" + 1.1 s + "...")         half has ended
3. a user who interrupts            -> barge-in stop time: interruption speech onset on the
                                       mic -> last sample of her voice on the speaker
4. open speakers (her voice looped  -> false barge-ins per minute of her speech, and turns
   back into the mic at -13 dB)        she answered that nobody said
5. silence and faint noise (8 s)    -> turns that came of it (must be none)

    .venv/bin/python benchmarks/conversation.py --out /tmp/conv.json [--plain 20 --pauses 10 --barge 10 --leak 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency as lat  # noqa: E402  (shared probes and audio analysis)

from companion.testing.virtual_headset import VirtualHeadset, _die_with_parent, read_wav, write_wav  # noqa: E402

PLAIN = ["What should I cook for dinner tonight?", "Do you think it will rain this weekend?",
         "Tell me something interesting about the moon.", "How do I make my plants grow better?"]
PAUSED = [("I was thinking about going to the beach and", "maybe having a picnic there."),
          ("My sister called me today, um,", "she wants to visit next week."),
          ("So what I really want to know is", "whether I should learn the piano.")]
STORY = "Please tell me a long story about a lighthouse keeper."
INTERRUPT = "Wait, stop. Tell me about the mountains instead."
SPEECH = 0.01


class Run:
    """One ``companion run`` on the headset with both monitors recorded from the start."""

    def __init__(self, hs: VirtualHeadset, work: Path, home: Path, settings: list[str], record: bool = True):
        self.hs, self.home = hs, home
        self.mic = hs.record(work / "mic.wav", source="mic.monitor").wait_started() if record else None
        self.spk = hs.record(work / "spk.wav", source="spk.monitor").wait_started() if record else None
        self.err_path = work / f"companion-{time.monotonic_ns()}.stderr"
        exe = Path(sys.executable).parent / "companion"
        cmd = [str(exe), "run", "--input-device", "pulse", "--output-device", "pulse"]
        for s in settings:
            cmd += ["--set", s]
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, env=hs.environ(dict(os.environ), voice=None), stdout=subprocess.DEVNULL, stderr=self.err,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 120
        while "listening (" not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("companion did not start:\n" + self.stderr()[-3000:])
            time.sleep(0.05)
        time.sleep(1.5)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def play(self, wav: str) -> tuple[float, float]:
        """Play a user turn; (speech onset, speech end) as the virtual mic carried them."""
        mark = int(self.mic.seconds() * self.mic.rate)
        self.hs.play(wav)
        time.sleep(0.1)
        heard = self.mic.audio()[mark:]
        idx = np.nonzero(np.abs(heard) > SPEECH)[0]
        return self.mic.time_of(mark + idx[0]), self.mic.time_of(mark + idx[-1])

    def play_async(self, wav: str, speech_onset_in_file: float) -> float:
        start = time.monotonic()
        self.hs.play(wav, wait=False)
        return start + speech_onset_in_file  # refined later from the mic recording

    def speech_onset_after(self, t: float) -> float | None:
        mark = max(0, int((t - 0.5 - self.mic.t0) * self.mic.rate))
        idx = np.nonzero(np.abs(self.mic.audio()[mark:]) > SPEECH)[0]
        return self.mic.time_of(mark + idx[0]) if idx.size else None

    def her_speech(self, since: float) -> list[tuple[float, float]]:
        """Her voice on the speaker after ``since``: (start, end) times, earcons left out."""
        start = max(0, int((since - self.spk.t0) * self.spk.rate))
        audio = self.spk.audio()[start:]
        return [(self.spk.time_of(start + a), self.spk.time_of(start + b))
                for a, b in lat.segments(audio, lat.ONSET_THRESHOLD, self.spk.rate, bridge_s=0.25)
                if not lat.is_cue(audio[a:b], self.spk.rate)]

    def wait_quiet(self, since: float, timeout: float = 45.0) -> None:
        """Until she has spoken after ``since`` and then been quiet for 1.5 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.her_speech(since) and lat.silent_tail(self.spk.audio(), self.spk.rate, 1.5):
                return
            time.sleep(0.1)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.err.close()
        for recorder in (self.mic, self.spk):
            if recorder is not None:
                recorder.stop()


def isolated_workspace(prefix: str) -> tempfile.TemporaryDirectory | None:
    """A temp folder, and an environment where no user config or COMPANION_* setting leaks
    into the measured process; ``None`` (after saying why) where PulseAudio is missing."""
    if not lat.available():
        print(f"skipped: PulseAudio missing ({', '.join(lat.missing_tools())})")
        return None
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    for name in [k for k in os.environ if k.startswith("COMPANION_")]:
        del os.environ[name]
    os.environ["XDG_CONFIG_HOME"] = str(Path(tmp.name) / "xdg")
    return tmp


def synthesise(folder: Path, home: Path) -> dict:
    from companion.audio.resample import resample
    from companion.ops.config import load_config
    from companion.model_files import whisper_model_dir
    from companion.tts import load_synthesizer, speak_to_array

    cfg = load_config(None, {})
    whisper_model_dir(cfg.stt.model, home / "models")
    voice = load_synthesizer(cfg.tts, home, varied=False)

    def say(text: str) -> np.ndarray:
        return resample(speak_to_array(voice, text), voice.sample_rate, 16000)

    def wav(name: str, *parts: np.ndarray) -> str:
        return str(write_wav(folder / f"{name}.wav", np.concatenate([np.zeros(4800, np.float32), *parts,
                                                                     np.zeros(3200, np.float32)]), 16000))

    out = {"plain": [wav(f"plain-{i}", say(t)) for i, t in enumerate(PLAIN)],
           "paused": [wav(f"paused-{i}", say(a), np.zeros(int(1.1 * 16000), np.float32), say(b))
                      for i, (a, b) in enumerate(PAUSED)],
           "story": wav("story", say(STORY)), "interrupt": wav("interrupt", say(INTERRUPT)),
           "silence": wav("silence", (np.random.default_rng(0).standard_normal(8 * 16000) * 0.003).astype(np.float32))}
    audio, rate = read_wav(out["interrupt"])
    out["interrupt_onset"] = float(np.nonzero(np.abs(audio) > SPEECH)[0][0] / rate)
    return out


def headset_scenarios(run: Run, wavs: dict, args, results: dict) -> None:
    for i in range(args.plain):
        _, end = run.play(wavs["plain"][i % len(PLAIN)])
        run.wait_quiet(end)
        her = run.her_speech(end)
        if her:
            results["v2v"].append(her[0][0] - end)
        lat.log(f"plain {i + 1}: {results['v2v'][-1] * 1000 if her else float('nan'):.0f} ms")
    before = len(lat.transcript_lines(run.home))
    run.hs.play(wavs["silence"])  # 8 s of room noise: no turn may come of it
    time.sleep(2.0)
    results["turns_from_silence"] = len(lat.transcript_lines(run.home)) - before
    lat.log(f"silence and noise: {results['turns_from_silence']} turns")
    for i in range(args.pauses):
        onset, end = run.play(wavs["paused"][i % len(PAUSED)])
        run.wait_quiet(end)
        her = run.her_speech(onset)
        cut = bool(her) and her[0][0] < end
        results["cutoffs"].append(cut)
        if her and not cut:
            results["v2v"].append(her[0][0] - end)
        lat.log(f"paused {i + 1}: {'CUT OFF' if cut else 'ok'}"
                + (f", reply {(her[0][0] - end) * 1000:.0f} ms after the user" if her else ""))
    for i in range(args.barge):
        _, end = run.play(wavs["story"])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:  # let her tell the story for a while
            her = run.her_speech(end)  # 2 s of her voice, not of time since a first "Mm,"
            if sum(b - a for a, b in her) > 2.0:
                break
            time.sleep(0.05)
        rough = run.play_async(wavs["interrupt"], wavs["interrupt_onset"])
        time.sleep(4.0)
        onset = run.speech_onset_after(rough) or rough
        # a piece she began just as the user did counts too (the user spoke into a gap between two)
        before = [seg for seg in run.her_speech(end) if seg[0] < onset + 0.3]
        stop = max(onset, before[-1][1]) if before and before[-1][1] > onset - 0.25 else onset
        results["barge_stop"].append(stop - onset)
        run.wait_quiet(onset + 1.0)
        lat.log(f"barge-in {i + 1}: her voice stopped {(stop - onset) * 1000:.0f} ms after the user started")


def leak_scenario(run: Run, wavs: dict, args, results: dict) -> None:
    for i in range(args.leak):
        _, end = run.play(wavs["story"])
        deadline = time.monotonic() + 90  # her reply is over when its turn is logged: with no echo gate her echo
        while len(lat.transcript_lines(run.home)) <= i and time.monotonic() < deadline:  # can pause her for 1.5 s
            time.sleep(0.2)
        run.wait_quiet(end, timeout=60)
        time.sleep(2.0)
        her = run.her_speech(end)
        results["leak_speech_s"] += sum(b - a for a, b in her)
        lat.log(f"open speakers {i + 1}: {sum(b - a for a, b in her):.1f}s of her speech")
    err = run.stderr()
    results["false_barge_ins"] = err.count("barge-in (")
    results["leak_extra_turns"] = max(0, len(lat.transcript_lines(run.home)) - args.leak)
    results["leak_barge_in_disabled"] = "barge-in is off" in err


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain", type=int, default=20)
    ap.add_argument("--pauses", type=int, default=10)
    ap.add_argument("--barge", type=int, default=10)
    ap.add_argument("--leak", type=int, default=6)
    ap.add_argument("--leak-volume", default="60%", help="loopback volume (PulseAudio, cubic: 60%% is about -13 dB)")
    ap.add_argument("--leak-set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="a setting for the open-speakers run only, e.g. conversation.echo_gate=false "
                         "conversation.barge_in=on (no echo gate: her raw echo reaches the endpointer)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    tmp = isolated_workspace("conversation-bench-")
    if tmp is None:
        return 0
    work = Path(tmp.name)
    results: dict = {"machine": lat.machine(), "v2v": [], "cutoffs": [], "barge_stop": [], "leak_speech_s": 0.0}
    homes = [work / "home-headset", work / "home-speakers"]
    wavs = synthesise(work, homes[0])
    lat.prepare_cache(homes[0], [])
    with VirtualHeadset() as hs:
        os.environ["COMPANION_HOME"] = str(homes[0])
        run = Run(hs, work, homes[0], [])
        try:
            headset_scenarios(run, wavs, args, results)
        finally:
            run.close()
            if args.out:  # her own account of the headset run: why each interruption took what it took
                args.out.with_suffix(".headset.log").write_text(run.stderr())
        homes[1].mkdir()
        (homes[1] / "models").symlink_to(homes[0] / "models")
        (homes[1] / "voice-cache").symlink_to(homes[0] / "voice-cache")
        os.environ["COMPANION_HOME"] = str(homes[1])
        module = hs.pactl("load-module", "module-loopback", "source=spk.monitor", "sink=mic", "latency_msec=80").strip()
        for line in hs.pactl("list", "short", "sink-inputs").splitlines():
            if line.split("\t")[1:2] == [module]:
                hs.pactl("set-sink-input-volume", line.split("\t")[0], args.leak_volume)
        run = Run(hs, work, homes[1], args.leak_set)
        try:
            leak_scenario(run, wavs, args, results)
        finally:
            run.close()
            if args.out:  # her own account of the open-speakers run: what she heard, why she stopped
                args.out.with_suffix(".leak.log").write_text(run.stderr())
    tmp.cleanup()
    report = {
        "machine": results["machine"],
        "voice_to_voice_s": lat.summary(results["v2v"]),
        "barge_in_stop_s": lat.summary(results["barge_stop"]),
        "cut_offs": f"{sum(results['cutoffs'])} of {len(results['cutoffs'])}",
        "turns_from_8s_of_silence_and_noise": results.get("turns_from_silence"),
        "false_barge_ins_per_minute_of_her_speech": results["false_barge_ins"] / max(results["leak_speech_s"] / 60, 1e-9),
        "her_speech_on_open_speakers_s": results["leak_speech_s"],
        "turns_answered_that_nobody_said": results["leak_extra_turns"],
        "barge_in_disabled_by_auto_mode": results["leak_barge_in_disabled"],
        "open_speakers_settings": args.leak_set,
    }
    print(json.dumps(report, indent=2))
    v, b = report["voice_to_voice_s"], report["barge_in_stop_s"]
    ms = lambda s: "-" if s is None else f"{s * 1000:.0f}"  # noqa: E731  (a scenario run 0 times has no figures)
    print(f"\n| measure | value |\n|---|---|\n"
          f"| voice-to-voice median / p90 ({v['n']} turns) | {ms(v['median'])} / {ms(v['p90'])} ms |\n"
          f"| barge-in stop median / p90 ({b['n']}) | {ms(b['median'])} / {ms(b['p90'])} ms |\n"
          f"| false barge-ins per minute of her speech (open speakers, {report['her_speech_on_open_speakers_s']:.0f} s) "
          f"| {report['false_barge_ins_per_minute_of_her_speech']:.2f} |\n"
          f"| turns answered that nobody said (open speakers) | {report['turns_answered_that_nobody_said']} |\n"
          f"| cut-offs on the mid-sentence-pause script | {report['cut_offs']} |\n"
          f"\nmachine: {report['machine']}")
    if args.out:
        args.out.write_text(json.dumps({**report, "raw": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
