"""Loudness: one rule for every engine and for cached audio, the same as Piper's own
(scale, then clip to [-1, 1]), so "louder" sounds alike whoever speaks."""

from __future__ import annotations

import numpy as np


def with_gain(audio: np.ndarray, volume: float) -> np.ndarray:
    """``audio`` scaled by ``volume`` and clipped, as float32."""
    if volume == 1.0:
        return audio.astype(np.float32, copy=False)
    return np.clip(audio * volume, -1.0, 1.0).astype(np.float32)
