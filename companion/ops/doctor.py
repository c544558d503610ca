"""``companion doctor``: check every part the live loop needs and say exactly what to fix."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
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
    from ..audio.devices import find_device
    from ..llm.client import Brain, resolve_endpoint
    from ..model_files import BUNDLED_WHISPER, assembled_whisper_damage, resolve_gguf, whisper_model_dir
    from ..dialogue.persona import load_persona

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
        name = cfg.stt.model.removeprefix("bundled:")
        assembled = data / "models" / f"whisper-{name}"
        damage = (assembled_whisper_damage(assembled, verify=True)
                  if name in BUNDLED_WHISPER and assembled.exists() else None)
        path = whisper_model_dir(cfg.stt.model, data / "models", verify=True)  # rebuilds a damaged one
        from faster_whisper import WhisperModel

        WhisperModel(path, device=cfg.stt.device, compute_type=cfg.stt.compute_type)
        rebuilt = f"; it was damaged ({damage}) and has been rebuilt from the installed packages" if damage else ""
        return f"{cfg.stt.model} -> {path}{rebuilt}"

    def voice():
        from ..tts import load_synthesizer, speak_to_array

        synth = load_synthesizer(cfg.tts, data)
        seconds = len(speak_to_array(synth, "Hello.")) / synth.sample_rate
        return f"{synth.name} ({synth.sample_rate} Hz; 'Hello.' is {seconds:.1f} s)"

    def persona():
        p = load_persona(cfg.persona.name)
        return f"{p.name} ({len(p.system_prompt)} characters)"

    def weights():
        if cfg.llm.base_url != "embedded":
            return f"not used (the LLM is {cfg.llm.base_url})"
        return str(resolve_gguf(cfg.llm.gguf, data / "models", verify=True))

    def llm():
        endpoint, keepalive = resolve_endpoint(cfg.llm)
        brain = Brain(cfg.llm, endpoint)
        t = time.perf_counter()
        text = "".join(brain.stream([{"role": "user", "content": "Say hello."}]))
        if not text.strip():
            raise RuntimeError(f"{endpoint.base_url} answered with an empty reply; check [llm] model")
        del keepalive
        return f"{endpoint.base_url} answered in {time.perf_counter() - t:.2f}s"

    def push_to_talk():
        from ..hearing.push_to_talk import check

        return check(cfg.audio)

    checks = [("data directory", data_ok), ("microphone", device("input")), ("speaker", device("output")),
              *([("push-to-talk", push_to_talk)] if cfg.audio.push_to_talk != "off" else []),
              ("speech recognition", whisper), ("voice", voice), ("persona", persona), ("LLM weights", weights),
              ("LLM endpoint", llm)]
    return ([_run(name, fn) for name, fn in checks[:1]] + database_checks(data)
            + [_run(name, fn) for name, fn in checks[1:]])


def database_checks(data: Path) -> list[Check]:
    """Each database read-only (doctor never changes one), plus any damaged copy set aside
    earlier: it stays a FAIL line until the user rescues or deletes it, so it is never
    forgotten."""
    from ..database import check, set_aside
    from ..memory import DB_NAME

    checks = []
    for name, what in ((DB_NAME, "memory database"), ("skills.sqlite3", "skills database")):
        path = data / name
        if not path.exists():
            checks.append(Check(what, True, f"{path} not created yet (she creates it on her first start)"))
            continue
        try:
            db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
            try:
                problem = check(db)
            finally:
                db.close()
        except sqlite3.Error as exc:
            problem = str(exc)
        if problem is None:
            checks.append(Check(what, True, f"{path} is sound"))
        else:
            checks.append(Check(what, False, f"{path} is damaged ({problem}). On her next start it is moved aside to "
                                             f"{name}.corrupt-<time>, never deleted, and a fresh one is started"))
    for copy in set_aside(data):
        checks.append(Check("damaged database set aside", False,
                            f"{copy} is an earlier {copy.name.split('.corrupt-')[0]} that was damaged and is no longer "
                            f"used. To try to rescue what it holds: sqlite3 '{copy}' .recover > rescued.sql "
                            "(then ask for help importing it); delete the file once you do not need it"))
    return checks


def report(checks: list[Check]) -> tuple[str, int]:
    lines = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks]
    bad = [c for c in checks if not c.ok]
    if bad:
        lines.append(f"{len(bad)} problem(s). Fix the FAIL lines above; 'companion replay' works without audio devices.")
    else:
        lines.append("Everything looks good. Run 'companion' to start talking.")
    return "\n".join(lines), (1 if bad else 0)


