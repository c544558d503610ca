"""A stage on another machine with the local one behind it: when the speech server is slow or
down, the turn is recognised (or the clause spoken) here instead, so the user's words are never
lost to a network fault. The outage is logged, reported once (``on_down``, said aloud between
turns by ``runtime.faults.SpokenFaults``), and for the next :data:`RETRY_AFTER_S` seconds the
local stage is used at once, without making the user wait for another timeout."""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterator

import numpy as np

from .audio.resample import Resampler
from .contracts import Recognizer, StreamingRecognizer, Synthesizer
from .records import Transcript
from .remote import RemoteError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0


class Outage:
    """Whether one remote stage is down, and telling it once per outage."""

    def __init__(self, stage: str, has_local: bool):
        self.stage, self.has_local = stage, has_local
        self.on_down: Callable[[str, bool], None] | None = None  # (stage, has_local), once per outage
        self.down = False
        self._retry_at = 0.0

    def skip_remote(self) -> bool:
        return self.has_local and time.monotonic() < self._retry_at

    def failed(self, exc: RemoteError) -> None:
        self._retry_at = time.monotonic() + RETRY_AFTER_S
        instead = "using the local one" if self.has_local else "no local fallback is installed or enabled"
        if self.down:
            log.info("%s server still failing (%s); %s", self.stage, exc, instead)
            return
        self.down = True
        log.warning("%s server failed (%s); %s, trying it again in %.0fs", self.stage, exc, instead, RETRY_AFTER_S)
        if self.on_down is not None:
            self.on_down(self.stage, self.has_local)

    def worked(self) -> None:
        if self.down:
            self.down = False
            log.warning("%s server answers again; using it", self.stage)


class FallbackRecognizer:
    """A remote :class:`Recognizer` first, the local one for a turn the server fails. A remote
    that streams (:class:`StreamingRecognizer`) is streamed to, with the turn's audio kept here
    meanwhile, so a server that dies mid-turn still leaves the whole turn to hear locally."""

    def __init__(self, remote: Recognizer, local: Recognizer | None):
        self.remote, self.local = remote, local
        self.outage = Outage("speech recognition", local is not None)
        self.name = remote.name + (f", else {local.name}" if local is not None else "")
        if isinstance(remote, StreamingRecognizer):
            self.open_stream = self._open_stream  # a StreamingRecognizer only when the server is one

    def _open_stream(self) -> "FallbackStream":
        return FallbackStream(self)

    def warm_up(self) -> None:
        if self.local is not None:
            self.local.warm_up()
        try:
            self.remote.warm_up()
        except RemoteError as exc:
            self.outage.failed(exc)

    def set_hints(self, names: list[str]) -> None:
        for engine in (self.remote, self.local):
            if engine is not None:
                engine.set_hints(names)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        if self.outage.skip_remote():
            return self.local.transcribe(audio)
        try:
            heard = self.remote.transcribe(audio)
        except RemoteError as exc:
            self.outage.failed(exc)
            if self.local is None:  # nothing can hear this turn; it is said aloud between turns
                return Transcript("", "", 0.0)
            return self.local.transcribe(audio)
        self.outage.worked()
        return heard


class FallbackStream:
    """One turn streamed to the server, and kept: if the server fails at any point (opening,
    sending, or the transcript), the turn is heard here, whole."""

    def __init__(self, owner: FallbackRecognizer):
        self.owner = owner
        self._fed: list[np.ndarray] = []
        self._remote = None
        if not owner.outage.skip_remote():
            try:
                self._remote = owner.remote.open_stream()
            except RemoteError as exc:
                self._failed(exc)

    def feed(self, audio: np.ndarray) -> None:
        self._fed.append(audio)
        if self._remote is not None:
            try:
                self._remote.feed(audio)
            except RemoteError as exc:
                self._failed(exc)

    def finish(self) -> Transcript:
        if self._remote is not None:
            try:
                heard = self._remote.finish()
            except RemoteError as exc:
                self._failed(exc)
            else:
                self.owner.outage.worked()
                return heard
        if self.owner.local is None:  # nothing can hear this turn; it is said aloud between turns
            return Transcript("", "", 0.0)
        return self.owner.local.transcribe(np.concatenate(self._fed) if self._fed else np.zeros(0, np.float32))

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None

    def _failed(self, exc: RemoteError) -> None:
        self.owner.outage.failed(exc)
        self.close()


class FallbackSynthesizer:
    """A remote :class:`Synthesizer` first, the local voice for a clause the server fails. A
    clause that broke off part-way is spoken again whole by the local voice: a few words twice
    rather than words missing. Local audio is converted to the remote voice's rate."""

    def __init__(self, remote: Synthesizer, local: Synthesizer | None):
        self.remote, self.local = remote, local
        self.outage = Outage("voice", local is not None)
        self.name = remote.name + (f", else {local.name}" if local is not None else "")
        self.sample_rate = remote.sample_rate

    @property
    def speed(self) -> float:
        return self.remote.speed

    @property
    def volume(self) -> float:
        return self.remote.volume

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        for voice in (self.remote, self.local):
            if voice is not None:
                voice.set_prosody(speed=speed, volume=volume)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        if self.outage.skip_remote():
            yield from self._local(text)
            return
        blocks = self.remote.synthesize(text)
        try:
            for block in blocks:
                yield block
        except RemoteError as exc:
            self.outage.failed(exc)
            if self.local is not None:
                yield from self._local(text)
            return
        finally:
            blocks.close()  # stopped early (barge-in): the remote voice's connection closes now
        self.outage.worked()

    def _local(self, text: str) -> Iterator[np.ndarray]:
        convert = Resampler(self.local.sample_rate, self.sample_rate)
        for block in self.local.synthesize(text):
            yield convert.process(block)
