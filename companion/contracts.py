"""The stages' contracts: what each stage of the pipeline must offer, in one place.

source ──frames──▶ endpointer ──Utterance──▶ Recognizer ──Transcript──▶ ChatClient (+ Memory,
Skill) ──text──▶ Synthesizer ──audio──▶ Sink. Replacing an engine means writing one class
that satisfies one protocol here; nothing else in the pipeline names the engine. Plain data
passed between the stages lives in ``records.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Protocol, runtime_checkable

import numpy as np

from .cancel import Cancel
from .records import Frame, Transcript, Turn


@runtime_checkable
class Recognizer(Protocol):
    """Speech to text for one utterance at a time (blocking; the caller owns the threads).
    Speculation, caching and threading are the pipeline's (``stt.speculative``), not the engine's."""

    name: str

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """16 kHz mono float32 audio of one turn in, its words out."""

    def warm_up(self) -> None:
        """One throw-away pass, so the first real turn does not pay for lazy initialisation."""

    def set_hints(self, names: list[str]) -> None:
        """Names the user may say (people, pets, places memory knows), to be heard as spelled;
        an engine that cannot take hints ignores them."""


class RecognizerStream(Protocol):
    """One turn's audio on its way to a recogniser while the user is still speaking."""

    def feed(self, audio: np.ndarray) -> None:
        """More of the turn's 16 kHz mono float32 audio, in order."""

    def finish(self) -> Transcript:
        """The audio fed so far is the whole turn: its words (``stt_s``: the wait after this call)."""

    def close(self) -> None:
        """Abandon the turn (the user went on, or it was noise); safe after ``finish``."""


@runtime_checkable
class StreamingRecognizer(Recognizer, Protocol):
    """A recogniser that can take a turn's audio as it is heard (a server: the upload happens
    while the user speaks, and only the last chunk is left when the turn ends). Optional: the
    pipeline (``stt.speculative``) streams to engines that offer it and hands the others the
    whole turn; a local engine gains nothing from it and need not offer it."""

    def open_stream(self) -> RecognizerStream:
        """Start a turn; its audio follows with ``feed``. Blocking (it may connect)."""


@runtime_checkable
class Synthesizer(Protocol):
    """Text to speech, one clause or sentence at a time. ``synthesize`` is blocking and yields
    audio as it is made, so a caller that stops iterating stops the synthesis (barge-in)."""

    name: str
    sample_rate: int
    speed: float
    volume: float

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Mono float32 audio at :attr:`sample_rate`, in one or more blocks."""

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        """Change rate and loudness from the next piece on ("slower", "louder")."""


class Source(Protocol):
    """Where the user's audio comes from (microphone, file): 16 kHz mono float32 frames."""

    def start(self) -> "Source": ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Where her audio goes (speaker, WAV file, nothing). Every method may be called from the
    reply's threads; ``stop`` and ``pause`` take effect mid-chunk."""

    queued: int  # samples written so far in this reply
    played: int  # samples that reached the ear so far in this reply
    first_sample_at: float | None  # monotonic time the first sample was played

    def begin(self) -> None: ...

    def write(self, audio: np.ndarray, rate: int) -> None: ...

    def finish(self) -> None: ...

    def stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cue(self, audio: np.ndarray, rate: int) -> None: ...

    def close(self) -> None: ...


class ChatClient(Protocol):
    """An OpenAI-compatible chat endpoint (``llm.client.Brain``)."""

    def stream(self, messages: list[dict], cancel: Cancel | None = None, **kwargs) -> Iterator:
        """Text deltas as the model writes them; cancelling ``cancel`` ends the stream and
        closes its request (register the close on it with ``cancel.on_cancel``)."""

    def warm_up(self, messages: list[dict]) -> None: ...


@dataclass(frozen=True)
class Recall:
    """What memory contributes to a reply: extra system context, or a complete answer that
    replaces the LLM (e.g. "what do you remember about me?" answered from the database)."""

    context: str = ""
    reply: str | None = None
    keep: bool = True  # False: off the record ("don't remember this conversation"), not even in the transcript log


class Memory(Protocol):
    def on_user_turn(self, text: str, now: datetime) -> Recall:
        """Called before thinking; stores the user's words durably and recalls what they bring back."""

    def standing(self, now: datetime, read_ahead: bool = False) -> str:
        """What every request carries whatever the words (who the user is); ``read_ahead``: the
        copy the server reads between turns, which the next request repeats."""

    def on_reply(self, turn: Turn, spoken: str) -> None:
        """Called after speaking, with what was actually said aloud."""

    def preview(self, text: str, now: datetime) -> str | None:
        """The context ``on_user_turn`` would recall for ``text``, storing nothing (to think
        ahead); ``None`` when the words would change memory or be answered from it."""

    def end_session(self, now: datetime) -> None:
        """Called once when the conversation ends (closing the session, summarising it)."""

    def known_names(self, most: int = 30) -> list[str]:
        """Names of the people, pets and places the user has told about, most recent first
        (hints for the recogniser)."""


class Skill(Protocol):
    def handle(self, text: str, now: datetime) -> str | None:
        """A complete spoken answer when this skill recognises the request, else ``None``.
        Skills are deterministic (rules, parsers), so they work with the smallest model."""


class NoMemory:
    """Memory switched off: nothing stored, nothing recalled."""

    def on_user_turn(self, text: str, now: datetime) -> Recall:
        return Recall(keep=False)  # nor in the live transcript log (replay's transcript is the output asked for)

    def standing(self, now: datetime, read_ahead: bool = False) -> str:
        return ""

    def on_reply(self, turn: Turn, spoken: str) -> None:
        pass

    def preview(self, text: str, now: datetime) -> str | None:
        return ""

    def end_session(self, now: datetime) -> None:
        pass

    def known_names(self, most: int = 30) -> list[str]:
        return []


__all__ = ["Frame", "Recognizer", "RecognizerStream", "StreamingRecognizer", "Synthesizer", "Source", "Sink", "ChatClient", "Recall", "Memory", "Skill", "NoMemory"]
