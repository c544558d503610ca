"""Shared fixtures: an isolated data directory per test (one env var moves all user state),
real models loaded once per session, and Piper-synthesised user turns."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from companion.ops.config import STTConfig, TTSConfig
from companion.tts import speak_to_array


REAL_MODELS = {"transcriber", "voice", "speech", "virtual_headset"}  # fixtures that load Whisper or Piper, or start PulseAudio


def pytest_collection_modifyitems(items):
    """A test that uses a real model or the virtual headset (directly or through another
    fixture) is slow, marked or not: ``pytest -m "not slow"`` stays the quick run."""
    for item in items:
        if REAL_MODELS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """Assembled Whisper models, shared by every test's data directory (assembly copies 75-145 MB)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def companion_home(tmp_path, monkeypatch, model_cache) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)  # as she makes it (a looser one is tightened, with a warning)
    (home / "models").symlink_to(model_cache, target_is_directory=True)
    monkeypatch.setenv("COMPANION_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # no user config leaks in
    for name in list(os.environ):
        if name.startswith("COMPANION_") and name != "COMPANION_HOME":
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def memory(companion_home):
    """The long-term memory on a real SQLite file in the test's data directory."""
    from companion.memory import DB_NAME, MemoryStore
    from companion.memory.longterm import LongTermMemory
    from companion.ops.config import MemoryConfig

    m = LongTermMemory(MemoryStore(companion_home / DB_NAME), MemoryConfig())
    yield m
    m.store.close()


@pytest.fixture(scope="session")
def transcriber(model_cache):
    from companion.stt import load_transcriber

    return load_transcriber(STTConfig(), model_cache)


@pytest.fixture(scope="session")
def voice(tmp_path_factory):
    from companion.tts import load_synthesizer

    # joe (Piper), not the default voice: the STT fixtures were made with it, and its noise can be
    # turned off (same audio every run)
    return load_synthesizer(TTSConfig(voice="joe"), tmp_path_factory.mktemp("voice-home"), varied=False)


@pytest.fixture(scope="session")
def speech(tmp_path_factory, voice):
    """``speech("text", rate=16000, stereo=False) -> Path``: a real spoken user turn (Piper),
    optionally resampled or made stereo, cached for the session."""
    from companion.audio.files import write_wav
    from companion.audio.resample import resample

    folder = tmp_path_factory.mktemp("speech")

    def make(text: str, rate: int | None = None, stereo: bool = False, lead_s: float = 0.3) -> Path:
        import numpy as np
        import wave

        key = hashlib.sha1(f"{text}|{rate}|{stereo}|{lead_s}".encode()).hexdigest()[:10]
        path = folder / f"{re.sub(r'[^a-z]+', '-', text.lower())[:30]}-{key}.wav"
        if path.exists():
            return path
        audio = speak_to_array(voice, text)
        out_rate = rate or voice.sample_rate
        audio = resample(audio, voice.sample_rate, out_rate)
        audio = np.concatenate([np.zeros(int(lead_s * out_rate), np.float32), audio])
        if not stereo:
            return write_wav(path, audio, out_rate)
        pcm = (np.clip(np.stack([audio, audio * 0.8], 1), -1, 1) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(out_rate)
            w.writeframes(pcm.tobytes())
        return path

    return make


@pytest.fixture
def scripted_llm():
    from companion.testing.scripted_llm import ScriptedLLM

    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def virtual_headset():
    """A private PulseAudio daemon with null-sink ``mic`` and ``spk`` (see
    companion/testing/virtual_headset.py); skipped where PulseAudio is not installed.
    Checks on the way out that none of its processes is left running."""
    from companion.testing import virtual_headset as vh

    if not vh.available():
        pytest.skip(f"PulseAudio not installed (missing {', '.join(vh.missing_tools())}); "
                    "apt-get install pulseaudio pulseaudio-utils libportaudio2")
    with vh.VirtualHeadset() as headset:
        yield headset
        pids = [headset.daemon.pid]
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        pytest.fail(f"virtual headset process {pid} still running after close")


@pytest.fixture
def pulse_ok(virtual_headset):
    """The virtual headset, once PortAudio is seen to list its PulseAudio device."""
    import subprocess

    from companion.testing.checks import companion_command

    devices = subprocess.run([*companion_command(), "devices"], env=virtual_headset.environ(), capture_output=True,
                             text=True, timeout=60)
    if "pulse" not in devices.stdout:
        pytest.skip(f"PortAudio does not see the PulseAudio device: {devices.stdout}")
    return virtual_headset

