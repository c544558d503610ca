"""The CLI's promises to someone without a screen: clear messages and exit codes."""

import pytest

from companion.audio import devices
from companion.audio.devices import AudioDeviceError, Device, find_device
from companion.ops.cli import main

FAKE = [Device(0, "Built-in Audio", 2, 2, 48000, "ALSA"), Device(1, "Jabra Evolve 65", 1, 1, 16000, "ALSA"),
        Device(2, "HDMI Output", 0, 8, 48000, "ALSA")]


@pytest.fixture
def fake_devices(monkeypatch):
    class FakeSD:
        class default:
            device = (0, 0)

    monkeypatch.setattr(devices, "list_devices", lambda: FAKE)
    monkeypatch.setattr(devices, "_sd", lambda: FakeSD)


def test_device_by_name_substring_index_or_default(fake_devices):
    assert find_device("jabra", "input").index == 1
    assert find_device("2", "output").name == "HDMI Output"
    assert find_device("", "input").index == 0


@pytest.mark.parametrize("spec, kind, message", [
    ("AirPods", "input", "No audio input device matches 'AirPods'"),
    ("2", "input", "#2 does not exist or has no input channels"),
    ("9", "output", "#9 does not exist"),
])
def test_unknown_device_says_how_to_pick_one(fake_devices, spec, kind, message):
    with pytest.raises(AudioDeviceError) as err:
        find_device(spec, kind)
    assert message in str(err.value)
    assert "companion devices" in str(err.value)
    if kind == "input":
        assert "companion replay" in str(err.value)


def test_no_input_device_at_all(monkeypatch):
    monkeypatch.setattr(devices, "list_devices", lambda: [Device(3, "Speaker", 0, 2, 48000, "ALSA")])
    monkeypatch.setattr(devices, "_sd", lambda: None)
    with pytest.raises(AudioDeviceError, match="No audio input device found.*companion replay"):
        find_device("", "input")


def test_run_without_the_named_microphone_exits_1_with_advice(capsys):
    assert main(["run", "--input-device", "no-such-microphone-xyz"]) == 1
    err = capsys.readouterr().err
    assert "companion replay" in err and "Traceback" not in err


@pytest.mark.slow  # doctor verifies the real model files
def test_doctor_names_what_to_fix(capsys):
    code = main(["doctor", "--input-device", "no-such-microphone-xyz", "--set", "tts.voice=nobody"])
    out = capsys.readouterr().out
    assert code == 1
    lines = {line.split(":")[0].split("  ", 1)[1].strip(): line for line in out.splitlines() if line[:4] in ("ok  ", "FAIL")}
    assert lines["microphone"].startswith("FAIL")
    assert lines["voice"].startswith("FAIL") and "[tts] voice = 'nobody' was not found; available: heart, joe" in lines["voice"]
    for part in ("data directory", "speech recognition", "persona", "LLM endpoint"):
        assert lines[part].startswith("ok"), lines[part]
    assert "problem(s)" in out


def test_say_writes_a_wav(tmp_path, transcriber):
    from companion.audio.files import read_audio

    out = tmp_path / "hello.wav"
    assert main(["say", "Good night, Theodore.", "--out", str(out)]) == 0
    assert transcriber.transcribe(read_audio(out)).text.lower().startswith("good night")
