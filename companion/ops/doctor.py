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
    from ..llm.discovery import resolved
    from ..model_files import BUNDLED_WHISPER, assembled_whisper_damage, resolve_gguf, whisper_model_dir
    from ..dialogue.persona import load_persona

    data = data_dir()
    llm_cfg = resolved(cfg.llm)  # "auto": found once, used by both LLM checks

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
        if cfg.stt.base_url:
            return remote_recognizer(cfg, data)
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
        from ..model_files import kokoro_model, kokoro_model_damage
        from ..tts import engine_of, load_synthesizer, speak_to_array

        if cfg.tts.base_url:
            return remote_voice(cfg, data)
        engine = engine_of(cfg.tts, data)
        damage = None
        if engine == "kokoro":  # re-hash the assembled model (loading checks only its size); rebuilds a damaged one
            damage = kokoro_model_damage(data / "models")
            kokoro_model(data / "models", verify=True)
        synth = load_synthesizer(cfg.tts, data)  # a Kokoro voice's vectors are checked against their sha256 here
        seconds = len(speak_to_array(synth, "Hello.")) / synth.sample_rate
        rebuilt = f"; the model was damaged ({damage}) and has been rebuilt from the installed packages" if damage else ""
        return f"{synth.name} ({engine}, {synth.sample_rate} Hz; 'Hello.' is {seconds:.1f} s){rebuilt}"

    def persona():
        p = load_persona(cfg.persona.name)
        return f"{p.name} ({len(p.system_prompt)} characters)"

    def found():
        from ..llm.discovery import KNOWN, discover

        servers = discover()
        if not servers:
            return ("none answered on 127.0.0.1 (" + ", ".join(f"{n} {p}" for n, p in KNOWN)
                    + "); she will use the embedded model")
        return "; ".join(f"{s.name} at {s.base_url} serving {', '.join(s.models[:5])}" for s in servers) + (
            f"; she will use {servers[0].name}")

    def weights():
        if llm_cfg.base_url != "embedded":
            return f"not used (the LLM is {cfg.llm.base_url})"
        return str(resolve_gguf(cfg.llm.gguf, data / "models", verify=True))

    def llm():
        endpoint, keepalive = resolve_endpoint(llm_cfg)
        brain = Brain(llm_cfg, endpoint)
        t = time.perf_counter()
        text = "".join(brain.stream([{"role": "user", "content": "Say hello."}]))
        if not text.strip():
            raise RuntimeError(f"{endpoint.base_url} answered with an empty reply; check [llm] model")
        del keepalive
        return f"{endpoint.base_url} ({endpoint.model}) answered in {time.perf_counter() - t:.2f}s"

    def push_to_talk():
        from ..hearing.push_to_talk import check

        return check(cfg.audio)

    checks = [("data directory", data_ok), ("microphone", device("input")), ("speaker", device("output")),
              *([("push-to-talk", push_to_talk)] if cfg.audio.push_to_talk != "off" else []),
              ("speech recognition", whisper), ("voice", voice), ("persona", persona),
              *([("LLM servers found", found)] if cfg.llm.base_url == "auto" else []),
              ("LLM weights", weights), ("LLM endpoint", llm)]
    return ([_run(name, fn) for name, fn in checks[:1]] + database_checks(data)
            + [_run(name, fn) for name, fn in checks[1:]])


def _listed(name: str, what: str, listing: list[str]) -> str:
    """Whether the server offers ``name`` (``''``: the server's default)."""
    if not name:
        return f"its {what}s: {', '.join(listing[:6]) or 'none listed'}"
    if name in listing:
        return f"{what} {name!r} offered"
    raise RuntimeError(f"the server does not offer the {what} {name!r}; it offers: {', '.join(listing[:10]) or 'none'}")


def _fallback_line(local) -> str:
    return f"falls back to {local.name} here" if local is not None else "no local fallback (set [stt]/[tts] fallback)"


def remote_recognizer(cfg: Config, data: Path) -> str:
    """The speech server: reachable, the model there, one second of audio timed."""
    import numpy as np

    from ..remote import offered
    from ..stt import load_recognizer

    s = cfg.stt
    listing = offered(s.base_url, s.api_key_env, s.connect_timeout_s, s.read_timeout_s)
    models = "it keeps no model list" if listing is None else _listed(
        s.remote_model, "model", listing.get("asr", listing.get("models", [])))
    recognizer = load_recognizer(cfg.stt, data / "models")
    t = time.perf_counter()
    recognizer.remote.transcribe(np.zeros(16000, np.float32))
    return (f"{s.base_url}: reachable, {models}; 1 s of audio transcribed in {time.perf_counter() - t:.2f}s; "
            f"{_fallback_line(recognizer.local)}")


def remote_voice(cfg: Config, data: Path) -> str:
    """The voice server: reachable, the voice there, 'Hello.' timed to its last sample."""
    from ..remote import offered
    from ..tts import load_synthesizer

    s = cfg.tts
    listing = offered(s.base_url, s.api_key_env, s.connect_timeout_s, s.read_timeout_s)
    voices = "it keeps no voice list" if listing is None else (
        _listed(s.remote_voice, "voice", listing["tts"]) if "tts" in listing
        else _listed(s.remote_model, "model", listing["models"]))
    synth = load_synthesizer(cfg.tts, data)
    t = time.perf_counter()
    samples = sum(len(b) for b in synth.remote.synthesize("Hello."))
    if not samples:
        raise RuntimeError(f"{s.base_url} answered 'Hello.' with no audio; check [tts] remote_voice")
    return (f"{s.base_url}: reachable, {voices}; 'Hello.' ({samples / synth.sample_rate:.1f} s) made in "
            f"{time.perf_counter() - t:.2f}s; {_fallback_line(synth.local)}")


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


