"""What the program cannot see of its own latency: the time sound spends in PortAudio's and the
sound server's buffers, for each ``[audio]`` latency setting, on the virtual headset.

Speaker: the real ``SpeakerSink`` plays short tone bursts; the time it hands the first sample to
the device (``first_sample_at``, what the program's own timing uses) is compared with the
burst's onset in a recording of the speaker's monitor. Microphone: bursts are played into the
virtual microphone; the time stamp the real ``MicrophoneSource`` gives the frame with the
onset is compared with the onset in a recording of the microphone's monitor. Both clocks are
``time.monotonic()``. Each setting runs in its own child process (PortAudio reads the
PulseAudio address at start) and counts output underruns.

    .venv/bin/python benchmarks/device_latency.py [--bursts 15] [--settings high 60 30 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from companion.testing.virtual_headset import VirtualHeadset, available, missing_tools, write_wav  # noqa: E402

THRESHOLD = 0.05


def burst(rate: int, seconds: float = 0.05) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)


def onsets(audio: np.ndarray, rate: int, gap_s: float = 0.3) -> list[int]:
    """Sample indexes where a burst starts (above THRESHOLD after ``gap_s`` of quiet)."""
    loud = np.flatnonzero(np.abs(audio) > THRESHOLD)
    found, last = [], -10 ** 9
    for i in loud:
        if i - last > gap_s * rate:
            found.append(int(i))
        last = i
    return found


# -- the child: the program's own side ------------------------------------------------------
def child(kind: str, latency_ms: int, block: int, bursts: int, period: float) -> None:
    from companion.audio.devices import find_device

    if kind == "output":
        from companion.audio.sinks import SpeakerSink

        sink = SpeakerSink(find_device("pulse", "output"), block, latency_ms=latency_ms)
        time.sleep(1.0)
        tone = burst(sink.rate)
        handed = []
        for _ in range(bursts):
            sink.begin()
            sink.write(tone, sink.rate)
            sink.finish()
            handed.append(sink.first_sample_at)
            time.sleep(period)
        print(json.dumps({"times": handed, "stream_latency_s": sink._stream.latency}), flush=True)
        sink.close_stream()
        return
    from companion.audio.sources import MicrophoneSource

    mic = MicrophoneSource(find_device("pulse", "input"), 32, latency_ms=latency_ms).start()
    print(json.dumps({"ready": True, "stream_latency_s": mic._stream.latency}), flush=True)
    stamps, quiet_since = [], None
    deadline = time.monotonic() + bursts * period + 10
    for frame in mic:
        loud = np.flatnonzero(np.abs(frame.audio) > THRESHOLD)
        if len(loud) and (quiet_since is None or frame.t - quiet_since > 0.3):
            stamps.append(frame.t + loud[0] / 16000)
        if len(loud):
            quiet_since = frame.t + loud[-1] / 16000
        if len(stamps) >= bursts or time.monotonic() > deadline:
            break
    mic.close()
    print(json.dumps({"times": stamps}), flush=True)


# -- the parent: the outside view -----------------------------------------------------------
def measure(hs: VirtualHeadset, work: Path, kind: str, latency_ms: int, block: int, bursts: int, period: float) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--latency-ms", str(latency_ms), "--block", str(block),
           "--bursts", str(bursts), "--period", str(period)]
    source = "spk.monitor" if kind == "output" else "mic.monitor"
    rec = hs.record(work / f"{kind}-{latency_ms}.wav", source=source).wait_started()
    env = hs.environ({**os.environ, "PYTHONPATH": str(ROOT)}, voice=None)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = {}
    if kind == "input":
        info = json.loads(proc.stdout.readline())
        time.sleep(1.0)
        wav = write_wav(work / "burst.wav", np.concatenate([burst(16000), np.zeros(1600, np.float32)]), 16000)
        for _ in range(bursts):
            hs.play(wav)
            time.sleep(period)
    out, err = proc.communicate(timeout=bursts * (period + 1) + 60)
    time.sleep(0.3)
    rec.stop()
    own = json.loads(out.strip().splitlines()[-1])
    info.update(own)
    seen = [rec.time_of(i) for i in onsets(rec.audio(), rec.rate)]
    delays = []
    for t in own["times"]:  # each own time with the nearest outside onset (output: after it; input: before it)
        near = [s for s in seen if (0 <= s - t < 1.0) if kind == "output"] or [s for s in seen if kind == "input" and 0 <= t - s < 1.0]
        if near:
            delays.append((near[0] - t) if kind == "output" else (t - near[-1]))
    return {"kind": kind, "latency_ms": latency_ms, "block": block, "delays_ms": [d * 1000 for d in delays],
            "stream_latency_ms": (info.get("stream_latency_s") or 0) * 1000,
            "underruns": err.count("underrun"), "matched": len(delays), "bursts": bursts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", choices=("output", "input"), help=argparse.SUPPRESS)
    ap.add_argument("--latency-ms", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--block", type=int, default=512, help="speaker callback size in samples")
    ap.add_argument("--bursts", type=int, default=15)
    ap.add_argument("--period", type=float, default=0.6, help="seconds between bursts")
    ap.add_argument("--settings", type=int, nargs="+", default=[0, 60, 30],
                    help="[audio] *_latency_ms values to compare (0 = PortAudio's 'high')")
    ap.add_argument("--kinds", nargs="+", default=["output", "input"], choices=("output", "input"))
    args = ap.parse_args()
    if args.child:
        child(args.child, args.latency_ms, args.block, args.bursts, args.period)
        return 0
    if not available():
        print(f"benchmark needs PulseAudio: missing {', '.join(missing_tools())}", file=sys.stderr)
        return 2
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="device-latency-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or ''}")
    print("| device | setting | PortAudio reports | hidden delay median / p90 ms | bursts matched | underruns |")
    print("|---|---|---|---|---|---|")
    with VirtualHeadset() as hs:
        for kind in args.kinds:
            for ms in args.settings:
                r = measure(hs, work, kind, ms, args.block, args.bursts, args.period)
                d = r["delays_ms"]
                q = statistics.quantiles(d, n=10)[-1] if len(d) > 1 else float("nan")
                label = "high (default)" if ms == 0 else f"{ms} ms"
                med = f"{statistics.median(d):.0f} / {q:.0f}" if d else "-"
                print(f"| {'speaker' if kind == 'output' else 'microphone'} | {label} | {r['stream_latency_ms']:.0f} ms | "
                      f"{med} | {r['matched']}/{r['bursts']} | {r['underruns']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
