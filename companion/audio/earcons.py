"""Short, quiet sounds that show state when there is no screen: she is listening, she is
thinking (only when a reply is slow to start), she is going to sleep, a reminder is due.

They are mixed into the speaker as cues, outside the reply's own audio, so they never
count as her words (latency, what was heard) and never block a reply.
"""

from __future__ import annotations

import threading

import numpy as np

RATE = 22050
_NOTES = {  # (frequency Hz, seconds) per note, a short gap between notes
    "listening": ((523.25, 0.09), (783.99, 0.12)),
    "thinking": ((392.0, 0.07),),
    "sleep": ((783.99, 0.10), (523.25, 0.16)),
    "reminder": ((660.0, 0.14), (880.0, 0.14)),
}


def tone(kind: str, level: float = 0.12, rate: int = RATE) -> np.ndarray:
    """The earcon ``kind`` as mono float32: sine notes with smooth edges (no clicks)."""
    parts = []
    for freq, seconds in _NOTES[kind]:
        t = np.arange(int(seconds * rate)) / rate
        envelope = np.sin(np.pi * t / t[-1]) ** 2
        parts += [level * envelope * np.sin(2 * np.pi * freq * t), np.zeros(int(0.03 * rate))]
    return np.concatenate(parts).astype(np.float32)


class Earcons:
    def __init__(self, level: float = 0.12):
        self.level = level

    def play(self, kind: str, sink) -> None:
        sink.cue(tone(kind, self.level), RATE)

    def arm_thinking(self, sink, after_s: float, cancel) -> None:
        """Play "thinking" if the reply has made no sound ``after_s`` after it started
        (``cancel``: the reply's :class:`~companion.cancel.Cancel`)."""
        def check():
            if not cancel.wait(after_s) and sink.first_sample_at is None:
                self.play("thinking", sink)

        threading.Thread(target=check, name="earcon", daemon=True).start()
