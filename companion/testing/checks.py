"""Helpers shared by the tests (one place, instead of tests importing each other): comparing
words, waiting with a clear failure, finding her voice in a recording, running the
``companion`` process, and one live session on the virtual headset."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ..audio.files import read_audio, write_wav
from ..ops.cli import main
from .virtual_headset import read_wav


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def overlap(said, heard):
    """The share of the words ``said`` that were ``heard`` (0 to 1)."""
    said, heard = words(said), set(words(heard))
    return sum(w in heard for w in said) / max(1, len(said))


def assert_spoken(wav, text, transcriber):
    """``wav`` is audible speech that Whisper reads back as (at least 80% of) ``text``."""
    audio = read_audio(wav)
    assert len(audio) > 0.5 * 16000
    rms = float(np.sqrt(np.mean(audio ** 2)))
    assert rms > 0.02, f"{wav} is (nearly) silent"
    assert overlap(text, transcriber.transcribe(audio).text) >= 0.8


def pause_between(tmp_path, speech, first, second, pause_s):
    """One 16 kHz WAV: ``first`` spoken, ``pause_s`` of silence, then ``second``."""
    a, b = read_audio(speech(first, lead_s=0)), read_audio(speech(second, lead_s=0))
    audio = np.concatenate([np.zeros(4800, np.float32), a, np.zeros(int(pause_s * 16000), np.float32), b])
    return write_wav(tmp_path / "turn.wav", audio, 16000)


def voiced(audio: np.ndarray, rate: int, threshold: float = 0.02, win_s: float = 0.02) -> np.ndarray:
    """Indices of the windows whose RMS is above ``threshold``."""
    win = int(rate * win_s)
    n = len(audio) // win
    rms = np.sqrt(np.mean(audio[: n * win].reshape(n, win) ** 2, axis=1)) if n else np.zeros(0)
    return np.nonzero(rms > threshold)[0] * win


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    """``predicate()``'s first true value; fails naming ``what`` (and the process's log) on a
    timeout or when ``proc`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"companion exited with {proc.returncode} while waiting for {what}:\n"
                        + (log.read_text(errors="replace")[-3000:] if log else ""))
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}:\n"
                + (log.read_text(errors="replace")[-3000:] if log else ""))


def companion_command() -> list[str]:
    """How to start the ``companion`` process of this environment."""
    script = Path(sys.executable).parent / "companion"
    exe = str(script) if script.exists() else shutil.which("companion")
    return [exe] if exe else [sys.executable, "-m", "companion"]


def sigterm(proc: subprocess.Popen, log: Path) -> tuple[int, float]:
    """Send SIGTERM; the exit code and the seconds it took to exit (failing after 10 s)."""
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        code = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("companion did not exit within 10 s of SIGTERM:\n" + log.read_text(errors="replace")[-3000:])
    return code, time.monotonic() - sent


def doctor(capsys, llm, *settings: str) -> tuple[int, dict[str, str]]:
    """Run doctor against the scripted LLM; returns its code and {check name: its line}."""
    args = ["--set", f"llm.base_url={llm.base_url}"]
    for s in settings:
        args += ["--set", s]
    code = main(args + ["doctor"])
    lines = capsys.readouterr().out.splitlines()
    return code, {line[6:].split(":", 1)[0]: line for line in lines[:-1]}


class Session:
    """One ``companion run`` on the virtual headset, with the ear recording throughout."""

    def __init__(self, hs, tmp_path, home, llm, *settings: str):
        self.hs, self.home, self.llm = hs, home, llm
        self.ear = hs.record(tmp_path / "speaker.wav").wait_started()
        self.log = tmp_path / "companion.stderr"
        args = [*companion_command(), "run", "--input-device", "pulse", "--output-device", "pulse",
                "--set", "conversation.earcons=false"]
        for s in settings:
            args += ["--set", s]
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(args, env=hs.environ(COMPANION_LLM_BASE_URL=llm.base_url),
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        wait_for(lambda: "listening (" in self.stderr(), 90, "'listening'", self.proc, self.log)
        time.sleep(1.0)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def turns(self) -> list[dict]:
        return [json.loads(l) for f in (self.home / "transcripts").glob("*.jsonl") for l in f.read_text().splitlines()]

    def say(self, wav, wait=True) -> float:
        """Play a user turn into the mic; returns when its speech starts (monotonic)."""
        audio, rate = read_wav(wav)
        onset = np.nonzero(np.abs(audio) > 0.01)[0][0] / rate
        start = time.monotonic()
        self.hs.play(wav, wait=wait)
        return start + onset

    def her_voice_after(self, t: float, seconds: float, timeout: float = 30) -> float:
        """Wait until she has been heard for ``seconds`` after time ``t``; returns her onset."""
        def onset():
            loud = [i for i in voiced(self.ear.audio(), self.ear.rate) if self.ear.time_of(i) > t]
            if loud and self.ear.time_of(loud[-1]) - self.ear.time_of(loud[0]) >= seconds:
                return self.ear.time_of(loud[0])
            return None
        return wait_for(onset, timeout, f"{seconds}s of her voice", self.proc, self.log)

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.ear.stop()
        err = self.stderr()
        assert "Traceback" not in err, err[-3000:]
        return err
