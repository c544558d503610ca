"""Streaming sample-rate and channel conversion (libswresample through PyAV).

Devices open at whatever rate they like (Bluetooth headsets give 8, 16 or 48 kHz); every
stage inside works at one rate, so conversion happens once at the edge.
"""

from __future__ import annotations

import av
import numpy as np

_LAYOUTS = {1: "mono", 2: "stereo"}


class Resampler:
    """Converts blocks of float32 audio (frames x channels) to mono at ``dst_rate``, keeping
    filter state between blocks so block edges do not click."""

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1):
        if channels not in _LAYOUTS:
            raise ValueError(f"unsupported channel count {channels}; use mono or stereo")
        self.src_rate, self.dst_rate, self.channels = int(src_rate), int(dst_rate), channels
        self._passthrough = self.src_rate == self.dst_rate and channels == 1
        self._resampler = None if self._passthrough else av.AudioResampler(format="flt", layout="mono", rate=self.dst_rate)

    def process(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        if self._passthrough:
            return block.reshape(-1).copy()
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block).reshape(1, -1), format="flt",
                                           layout=_LAYOUTS[self.channels])
        frame.sample_rate = self.src_rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        if self._passthrough:
            return np.zeros(0, np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames) -> np.ndarray:
        parts = [f.to_ndarray().reshape(-1) for f in frames]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Whole-buffer mono conversion, for files and synthesised sentences."""
    if src_rate == dst_rate:
        return np.asarray(audio, np.float32)
    r = Resampler(src_rate, dst_rate)
    return np.concatenate([r.process(audio), r.flush()])
