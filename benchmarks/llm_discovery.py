"""What ``[llm] base_url = "auto"`` adds to every start: the probe of the four usual ports.

Three cases, each repeated: nothing listens on any of the four ports (the common case on a
laptop without a local server), a scripted OpenAI-compatible server on one of them (what
"auto" is for), and a program that accepts connections but never answers (the worst case: the
probe waits for its timeout). The ports are free ones picked here, standing in for 11434, 1234,
8080 and 8000, so whatever runs on this machine does not change the result.

    .venv/bin/python benchmarks/llm_discovery.py --repeat 50
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from companion.llm.discovery import PROBE_TIMEOUT_S, discover  # noqa: E402
from companion.testing.scripted_llm import ScriptedLLM  # noqa: E402


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(ports, repeat: int) -> tuple[list[float], int]:
    times, found = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        found = len(discover(ports))
        times.append(time.perf_counter() - t)
    return times, found


def row(label: str, times: list[float], found: int) -> str:
    times = sorted(times)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    return f"| {label} | {statistics.median(times) * 1000:.1f} ms | {p90 * 1000:.1f} ms | {found} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args(argv)
    names = ("Ollama", "LM Studio", "llama.cpp", "vLLM")
    nobody = [closed_port() for _ in names]
    print(f"probe timeout {PROBE_TIMEOUT_S}s, {args.repeat} runs each\n")
    print("| case | median | p90 | servers found |\n|---|---|---|---|")
    print(row("nothing listens on the four ports", *timed(list(zip(names, nobody)), args.repeat)))
    with ScriptedLLM() as llm:
        port = int(llm.base_url.rsplit(":", 1)[1].split("/")[0])
        print(row("an LLM server on one of them", *timed(list(zip(names, [port, *nobody[1:]])), args.repeat)))
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the kernel's backlog) and never answers
        port = silent.getsockname()[1]
        print(row("a program that accepts and never answers", *timed(list(zip(names, [*nobody[:3], port])),
                                                                       max(3, args.repeat // 10))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
