"""``companion doctor`` finds each bad file a laptop can end up with and names the file and
the fix: a half-assembled Whisper model (re-verified and rebuilt), a voice without its
.onnx.json, a "GGUF" that is not one, a damaged database (and one set aside earlier)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from companion.ops.cli import main
from companion.database import open_database
from companion.memory import DB_NAME, MemoryStore
from companion.model_files import BUNDLED_WHISPER, _sha256
from companion.testing.checks import doctor
from companion.ops.config import STTConfig

pytestmark = pytest.mark.slow  # doctor verifies (and first assembles) the real Whisper model files


def test_a_truncated_whisper_model_is_named_reverified_and_rebuilt(companion_home, capsys, scripted_llm):
    (companion_home / "models").unlink()  # this test damages its own copy, not the shared one
    (companion_home / "models").mkdir()
    main(["--set", f"llm.base_url={scripted_llm.base_url}", "doctor"])  # assembles it once
    capsys.readouterr()
    name = STTConfig().model.removeprefix("bundled:")
    model = companion_home / "models" / f"whisper-{name}" / "model.bin"
    size = model.stat().st_size
    with model.open("r+b") as fh:
        fh.truncate(size // 2)  # as if the copy had been cut off half way

    _, checks = doctor(capsys, scripted_llm)
    line = checks["speech recognition"]
    assert line.startswith("ok") and str(model) in line and "truncated" in line and "rebuilt" in line
    assert model.stat().st_size == size and _sha256(model) == BUNDLED_WHISPER[name]["sha256"]

    with model.open("r+b") as fh:  # same size, different bytes: only the sha256 finds it
        fh.seek(size // 3)
        fh.write(b"\0" * 4096)
    _, checks = doctor(capsys, scripted_llm)
    assert "does not match its recorded sha256" in checks["speech recognition"]
    assert _sha256(model) == BUNDLED_WHISPER[name]["sha256"]
    _, checks = doctor(capsys, scripted_llm)
    assert "rebuilt" not in checks["speech recognition"]  # sound now: nothing to say


def test_a_voice_without_its_json_or_with_a_broken_one(companion_home, capsys, scripted_llm):
    voices = companion_home / "voices"
    voices.mkdir()
    (voices / "amy.onnx").write_bytes(b"onnx")
    code, checks = doctor(capsys, scripted_llm, "tts.voice=amy")
    assert code == 1
    line = checks["voice"]
    assert line.startswith("FAIL") and str(voices / "amy.onnx.json") in line and "beside the .onnx" in line

    (voices / "amy.onnx.json").write_text('{"audio": ')
    _, checks = doctor(capsys, scripted_llm, "tts.voice=amy")
    assert str(voices / "amy.onnx.json") in checks["voice"] and "download the voice's .onnx.json again" in checks["voice"]


def test_a_gguf_that_is_not_gguf(tmp_path, capsys, scripted_llm):
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>404 Not Found</html>")  # what a failed download often leaves
    code = main(["--set", f"llm.gguf={fake}", "--set", f"llm.base_url={scripted_llm.base_url}", "doctor"])
    out = capsys.readouterr().out
    assert "not used (the LLM is" in out  # a remote endpoint does not need weights...
    code = main(["--set", f"llm.gguf={fake}", "--set", "llm.base_url=embedded", "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    line = next(line for line in out.splitlines() if "LLM weights" in line)
    assert line.startswith("FAIL") and str(fake) in line and "not a GGUF file" in line and "re-download" in line


def test_a_damaged_database_is_reported_and_left_untouched(companion_home, capsys, scripted_llm):
    store = MemoryStore(companion_home / DB_NAME)
    store.close()
    open_database(companion_home / "skills.sqlite3").close()
    _, checks = doctor(capsys, scripted_llm)
    assert checks["memory database"].startswith("ok") and checks["skills database"].startswith("ok")

    path = companion_home / DB_NAME
    path.write_bytes(b"not sqlite" * 100)
    _, checks = doctor(capsys, scripted_llm)
    line = checks["memory database"]
    assert line.startswith("FAIL") and str(path) in line and "moved aside" in line and "never deleted" in line
    assert path.read_bytes() == b"not sqlite" * 100  # doctor only looks


def test_databases_not_created_yet_are_fine(companion_home, capsys, scripted_llm):
    _, checks = doctor(capsys, scripted_llm)
    assert "not created yet" in checks["memory database"] and checks["memory database"].startswith("ok")
    assert not (companion_home / DB_NAME).exists()
