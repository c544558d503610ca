"""Stand-ins for the slow models, for tests of the conversation logic around them: a
transcriber that "hears" scripted sentences and a voice that synthesises silence."""

from __future__ import annotations

import numpy as np

from ..records import Transcript


class Heard:
    """Transcribes each utterance as the next of ``texts``."""

    def __init__(self, texts):
        self.texts = iter(texts)

    def transcribe(self, audio):
        return Transcript(next(self.texts), "en", 0.0)


class Silent:
    """A voice that speaks a few samples of silence per piece of text."""

    sample_rate = 22050

    def synthesize(self, text):
        yield np.zeros(100, np.float32)
