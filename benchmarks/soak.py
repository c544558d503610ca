"""Soak: the real ``companion run`` on the virtual headset for a long time (default 60 min),
with the embedded defaults, a replayed conversation with silence gaps, sampling the process
every minute: resident memory, open files, threads, CPU. Growth is what it looks for.

    .venv/bin/python benchmarks/soak.py --minutes 60 --out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency as lat  # noqa: E402
from conversation import Run, isolated_workspace, synthesise  # noqa: E402

from companion.testing.virtual_headset import VirtualHeadset  # noqa: E402


def probe(pid: int) -> dict:
    return {"rss_mb": (lat.status_kb(pid, "VmRSS") or 0) / 1024, "open_files": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": lat.status_kb(pid, "Threads"), "cpu_s": lat.cpu_seconds(pid)}


def by_window(samples: list[dict], minutes: int) -> list[dict]:
    """RSS per window: the minimum is the baseline between replies (a sample taken while she
    is replying is up to ~100 MB higher), so growth is read from the minima."""
    out = []
    for lo in range(0, int(max(s["minute"] for s in samples)) + 1, minutes):
        rss = sorted(s["rss_mb"] for s in samples if lo <= s["minute"] < lo + minutes)
        if rss:
            out.append({"from_minute": lo, "min": round(rss[0]), "median": round(rss[len(rss) // 2]), "max": round(rss[-1])})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--gap", type=float, default=20, help="silence between user turns, seconds")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    tmp = isolated_workspace("soak-")
    if tmp is None:
        return 0
    work = Path(tmp.name)
    home = work / "home"
    os.environ["COMPANION_HOME"] = str(home)
    wavs = synthesise(work, home)
    turns = wavs["plain"] + wavs["paused"]
    samples, answered, played = [], 0, 0
    with VirtualHeadset() as hs:
        run = Run(hs, work, home, [], record=False)  # an hour of recordings would dwarf what we measure
        start = time.monotonic()
        next_probe = start
        try:
            while time.monotonic() - start < args.minutes * 60:
                if time.monotonic() >= next_probe:
                    samples.append({"minute": round((time.monotonic() - start) / 60, 1), **probe(run.proc.pid)})
                    lat.log(f"soak: {samples[-1]}")
                    next_probe += 60
                before = len(lat.transcript_lines(home))
                hs.play(turns[played % len(turns)])
                played += 1
                deadline = time.monotonic() + 60
                while len(lat.transcript_lines(home)) == before and time.monotonic() < deadline:
                    time.sleep(0.2)  # the line is written once the reply has been played
                answered = len(lat.transcript_lines(home))
                time.sleep(args.gap)
                if run.proc.poll() is not None:
                    raise RuntimeError("companion exited during the soak:\n" + run.stderr()[-3000:])
            samples.append({"minute": round((time.monotonic() - start) / 60, 1), **probe(run.proc.pid)})
        finally:
            run.close()
            # the recordings of a long soak are large; they stay in the temp folder, removed below
    tmp.cleanup()
    first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]  # after warm-up
    report = {"minutes": args.minutes, "user_turns_played": played, "turns_answered": answered,
              "rss_mb_start": first["rss_mb"], "rss_mb_end": last["rss_mb"], "rss_mb_max": max(s["rss_mb"] for s in samples),
              "open_files_start": first["open_files"], "open_files_end": last["open_files"],
              "threads_start": first["threads"], "threads_end": last["threads"],
              "cpu_percent_of_one_core": 100 * (last["cpu_s"] - samples[0]["cpu_s"]) / max(1, 60 * last["minute"]),
              "rss_mb_by_10_minutes": by_window(samples, 10), "machine": lat.machine(), "samples": samples}
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
