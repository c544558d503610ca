"""What ``companion status`` reads: a small JSON file in the data directory that the live loop
keeps current (pid, devices, models, start time, turns, the last turn's latency).

A file rather than a socket: nothing more to listen on, and it survives the process, so a
crash still tells when she was last seen. Written atomically (temporary file + rename) with
mode 0600; a clean exit marks it stopped. Whether she is running is decided by the pid, not
by the file alone, because a ``kill -9`` cannot mark anything."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

STATUS_NAME = "status.json"


def write_private_json(path: Path, data: dict) -> None:
    """Replace ``path`` with ``data`` in one step, readable by the user only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class LiveStatus:
    """The running loop's status file. A failed write (disk full) is logged, never raised:
    the status must not cost a reply."""

    def __init__(self, data: Path, *, input_device: str, output_device: str, models: dict[str, str]):
        self.path = Path(data) / STATUS_NAME
        self.state = {"state": "running", "pid": os.getpid(), "started_at": _now(), "input_device": input_device,
                      "output_device": output_device, "models": models, "turns": 0, "last_turn_at": None,
                      "last_voice_to_voice_s": None}
        self._write()

    def turn(self, turns: int, last_turn) -> None:
        """Called after each turn with the conversation's count and ``last_turn``."""
        self.state["turns"] = turns
        if last_turn is not None:
            self.state["last_turn_at"] = _now()
            self.state["last_voice_to_voice_s"] = last_turn.timings.voice_to_voice
        self._write()

    def stopped(self) -> None:
        self.state.update(state="stopped", stopped_at=_now())
        self._write()

    def _write(self) -> None:
        try:
            write_private_json(self.path, self.state)
        except OSError as exc:
            log.warning("could not update %s (%s); 'companion status' may be out of date", self.path, exc)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_status(data: Path) -> dict | None:
    """The last published status with ``running`` decided from the pid; ``None`` if she never
    ran on this data directory (or the file is unreadable)."""
    try:
        state = json.loads((Path(data) / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    state["running"] = state.get("state") == "running" and pid_alive(int(state.get("pid", 0)))
    return state


def describe_other(pid: int, what: str, data: Path) -> str | None:
    """The line for a process other than the live loop holding the data directory (a
    ``replay``); ``None`` when that process is gone."""
    if not pid_alive(pid):
        return None
    return (f"Samantha: running 'companion {what}' (pid {pid}) on {data}; not listening live until it ends "
            f"(or: kill {pid})")


def describe(state: dict | None, data: Path) -> str:
    """The lines ``companion status`` prints."""
    if state is None:
        return f"Samantha has not run on {data} yet. Start her with 'companion' (or 'companion service install')."
    models = state.get("models", {})
    turns = state.get("turns", 0)
    latency = state.get("last_voice_to_voice_s")
    if state["running"]:
        head = f"running (pid {state['pid']}) since {state.get('started_at')} ({_ago(state.get('started_at'))})"
    elif state.get("state") == "stopped":
        head = f"not running; stopped at {state.get('stopped_at')} after running since {state.get('started_at')}"
    else:
        head = (f"not running; pid {state.get('pid')} ended without stopping cleanly (crashed or killed) "
                f"after starting at {state.get('started_at')}; see {Path(data) / 'logs'}")
    lines = [f"Samantha: {head}",
             f"  microphone: {state.get('input_device')}",
             f"  speaker:    {state.get('output_device')}",
             f"  speech recognition: {models.get('stt')}",
             f"  voice:      {models.get('voice')}",
             f"  LLM:        {models.get('llm')}",
             f"  turns:      {turns}" + (f", last at {state.get('last_turn_at')}" if state.get("last_turn_at") else "")]
    if latency is not None:
        lines.append(f"  last turn's latency (end of your speech to her first sound): {latency * 1000:.0f} ms")
    elif turns:
        lines.append("  last turn's latency: not measured (nothing was played)")
    return "\n".join(lines)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _ago(stamp: str | None) -> str:
    try:
        seconds = time.time() - datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return "unknown"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"up {hours}h {m:02d}m" if hours else f"up {m}m {s:02d}s"


def models_in_use(cfg, parts) -> dict[str, str]:
    """What ``companion status`` names: the STT model and voice (or the servers that run them,
    with the local ones behind), and the LLM as reached (the embedded server's weights, or a
    remote endpoint's model)."""
    endpoint = parts.brain.endpoint
    llm = (f"embedded llama.cpp, {cfg.llm.gguf} ({endpoint.base_url})" if parts.keepalive is not None
           else f"{cfg.llm.model or endpoint.model} at {endpoint.base_url}")
    return {"stt": parts.transcriber.name if cfg.stt.base_url else cfg.stt.model,
            "voice": parts.voice.name if cfg.tts.base_url else cfg.tts.voice, "llm": llm}
