"""``companion voices``: which voices there are (without loading a model) and what each sounds
like (a sample written to a WAV or played)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from ..model_files import ModelError, resolve_kokoro_voice, resolve_voice, voice_engine, voice_names
from ..ops.config import TTSConfig

SAMPLE_TEXT = "Hi, I'm here. What's on your mind today?"


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    engine: str
    language: str
    sample_rate: int | None
    problem: str | None = None  # why it cannot be used now (a missing or damaged file)

    def line(self, current: str) -> str:
        mark = "*" if self.name == current else " "
        rate = f"{self.sample_rate:,} Hz" if self.sample_rate else "?"
        state = f"  unusable: {self.problem}" if self.problem else ""
        return f"{mark} {self.name:<12} {self.engine:<7} {self.language:<6} {rate}{state}"


def describe(spec: str, data: Path) -> VoiceInfo:
    """What ``[tts] voice = spec`` is, from its files alone."""
    engine = voice_engine(spec, data)
    try:
        if engine == "kokoro":
            from .kokoro import SAMPLE_RATE

            return VoiceInfo(spec, engine, resolve_kokoro_voice(spec, data).language, SAMPLE_RATE)
        if engine == "piper":
            files = resolve_voice(spec, data)
            config = json.loads(files.config.read_text(encoding="utf-8"))
            language = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice", "?")
            return VoiceInfo(spec, engine, language.replace("_", "-").lower(), int(config["audio"]["sample_rate"]))
        return VoiceInfo(spec, engine, "?", None)  # an engine that describes itself only once loaded
    except ModelError as exc:
        return VoiceInfo(spec, engine, "?", None, str(exc))


def list_voices(data: Path) -> list[VoiceInfo]:
    return [describe(name, data) for name in voice_names(data)]


def sample(cfg: TTSConfig, data: Path, name: str):
    """One voice's :data:`SAMPLE_TEXT`, at the configured speed and volume: ``(audio, rate)``."""
    from . import load_synthesizer, speak_to_array

    voice = load_synthesizer(dataclasses.replace(cfg, voice=name), data)
    return speak_to_array(voice, SAMPLE_TEXT), voice.sample_rate


def write_samples(cfg: TTSConfig, data: Path, folder: Path) -> list[tuple[VoiceInfo, Path | None]]:
    """A ``NAME.wav`` sample of every usable voice in ``folder``; unusable voices get ``None``."""
    from ..audio.files import write_wav

    written = []
    for info in list_voices(data):
        if info.problem:
            written.append((info, None))
            continue
        audio, rate = sample(cfg, data, info.name)
        written.append((info, write_wav(folder / f"{info.name}.wav", audio, rate)))
    return written
