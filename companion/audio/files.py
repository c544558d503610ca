"""Reading and writing audio files (any rate, mono or stereo in; 16-bit PCM WAV out)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..records import SAMPLE_RATE


class AudioFileError(RuntimeError):
    """An input recording cannot be used; the message names the file."""


def read_audio(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any format PyAV/FFmpeg reads to mono float32 at ``rate``."""
    from faster_whisper.audio import decode_audio

    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p}: the file is empty")
    try:
        audio = decode_audio(str(p), sampling_rate=rate)
    except Exception as exc:  # PyAV raises many error types for unreadable input
        raise AudioFileError(f"{p}: cannot be read as audio ({exc.__class__.__name__}: {exc})") from None
    if audio.size == 0:
        raise AudioFileError(f"{p}: contains no audio samples")
    return audio.astype(np.float32, copy=False)


def pcm16(audio: np.ndarray) -> bytes:
    """Mono float32 in [-1, 1] as 16-bit little-endian PCM (WAV files, speech servers)."""
    return (np.clip(np.asarray(audio, np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    """16-bit little-endian PCM as float32; a trailing odd byte is ignored."""
    return np.frombuffer(data[: len(data) - len(data) % 2], "<i2").astype(np.float32) / 32768.0


def write_wav(path: str | Path | BinaryIO, audio: np.ndarray, rate: int) -> Path | BinaryIO:
    """Write mono float32 in [-1, 1] as 16-bit PCM, to a file or an open binary stream."""
    target = path
    if not hasattr(path, "write"):
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(target if hasattr(target, "write") else str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm16(audio))
    return target
