"""``companion doctor``: check every part the live loop needs and say exactly what to fix."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from .config import Config, data_dir


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name, True, fn())
    except Exception as exc:  # every failure becomes a line of advice, never a traceback
        return Check(name, False, str(exc) or exc.__class__.__name__)


def run_checks(cfg: Config) -> list[Check]:
    from .audio.devices import find_device
    from .brain import Brain, resolve_endpoint
    from .models import resolve_voice, whisper_model_dir
    from .persona import load_persona

    data = data_dir()

    def data_ok():
        with tempfile.NamedTemporaryFile(dir=data):
            pass
        return f"{data} is writable"

    def device(kind):
        def check():
            d = find_device(getattr(cfg.audio, f"{kind}_device"), kind)
            return f"#{d.index} {d.name!r} ({d.default_rate} Hz, {d.hostapi})"
        return check

    def whisper():
        path = whisper_model_dir(cfg.stt.model, data / "models", verify=True)
        from faster_whisper import WhisperModel

        WhisperModel(path, device=cfg.stt.device, compute_type=cfg.stt.compute_type)
        return f"{cfg.stt.model} -> {path}"

    def voice():
        files = resolve_voice(cfg.tts.voice, data)
        from piper import PiperVoice

        PiperVoice.load(files.onnx, config_path=files.config)
        return f"{files.name}: {files.onnx}"

    def persona():
        p = load_persona(cfg.persona.name)
        return f"{p.name} ({len(p.system_prompt)} characters)"

    def llm():
        endpoint, keepalive = resolve_endpoint(cfg.llm)
        brain = Brain(cfg.llm, endpoint)
        t = time.perf_counter()
        text = "".join(brain.stream([{"role": "user", "content": "Say hello."}]))
        if not text.strip():
            raise RuntimeError(f"{endpoint.base_url} answered with an empty reply; check [llm] model")
        del keepalive
        return f"{endpoint.base_url} answered in {time.perf_counter() - t:.2f}s"

    checks = [("data directory", data_ok), ("microphone", device("input")), ("speaker", device("output")),
              ("speech recognition", whisper), ("voice", voice), ("persona", persona), ("LLM endpoint", llm)]
    return [_run(name, fn) for name, fn in checks]


def report(checks: list[Check]) -> tuple[str, int]:
    lines = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks]
    bad = [c for c in checks if not c.ok]
    if bad:
        lines.append(f"{len(bad)} problem(s). Fix the FAIL lines above; 'companion replay' works without audio devices.")
    else:
        lines.append("Everything looks good. Run 'companion' to start talking.")
    return "\n".join(lines), (1 if bad else 0)


