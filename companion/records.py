"""Plain data passed between the stages, so any stage can be fed by hand in a test.

Timings ride along with the data (seconds on the source's clock), so metrics need no
global state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

SAMPLE_RATE = 16_000  # every stage before TTS works on 16 kHz mono float32


@dataclass(frozen=True)
class Frame:
    """A block of 16 kHz mono float32 audio and the source time of its first sample."""

    audio: np.ndarray
    t: float


@dataclass(frozen=True)
class Utterance:
    """One user turn as found by the endpointer."""

    audio: np.ndarray
    speech_start: float  # source time speech began (pre-roll excluded)
    speech_end: float  # source time of the last speech frame
    decided_at: float  # source time the endpointer declared the turn over
    cut: bool = False  # True when max_turn_s forced the end
    final: bool = True  # False for a tentative turn at the first pause (speculative transcription)

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    stt_s: float  # wall seconds spent transcribing


@dataclass
class Timings:
    """Per-stage timings of one reply, in seconds. ``None`` where a stage did not happen."""

    endpoint_wait: float | None = None  # end of speech -> turn declared over
    stt: float | None = None  # transcription compute time
    stt_wait: float | None = None  # how long the reply actually waited for it (less when speculated)
    llm_first_token: float | None = None  # request sent -> first text delta
    first_sentence: float | None = None  # request sent -> first speakable chunk
    tts_first_audio: float | None = None  # first chunk -> its audio synthesised
    first_audio: float | None = None  # turn declared over -> first reply sample handed to the sink
    voice_to_voice: float | None = None  # end of speech -> first reply sample handed to the sink
    reply_total: float | None = None
    thought_ahead: float | None = None  # the reply's request was sent this long before the turn was declared
    first_words: float | None = None  # turn declared over -> the reply's own first words (later than
    # first_audio when an acknowledgment, "Mm,", played first; see dialogue/acknowledge.py)

    def rounded(self) -> dict[str, float | None]:
        return {k: (round(v * 1000) / 1000 if v is not None else None) for k, v in asdict(self).items()}


@dataclass
class Turn:
    """One exchange as logged to ``transcript.jsonl``."""

    index: int
    user_text: str
    reply_text: str = ""  # everything she meant to say
    heard_text: str = ""  # what actually played before the end or an interruption
    interrupted: bool = False  # the user talked over her (or she was stopped) mid-reply
    error: str | None = None  # why the reply is an apology, when it is
    source: str | None = None  # the recording it came from, in replay
    reply_audio: str | None = None
    started_at: str = ""  # ISO time the user started speaking
    timings: Timings = field(default_factory=Timings)

    def to_json(self) -> dict:
        d = asdict(self)
        d["timings"] = self.timings.rounded()
        return d
