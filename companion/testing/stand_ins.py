"""Stand-ins for the slow models and the sound devices, for tests of the logic around them:
transcribers that "hear" scripted sentences, voices that synthesise silence or a tone, a VAD
that hears any loud sound, and a microphone and a speaker that run in real time."""

from __future__ import annotations

import threading
import time

import numpy as np

from ..audio.sinks import NullSink
from ..records import SAMPLE_RATE, Frame, Transcript


class Heard:
    """Transcribes each utterance as the next of ``texts``."""

    def __init__(self, texts):
        self.texts = iter(texts)

    def transcribe(self, audio):
        return Transcript(next(self.texts), "en", 0.0)

    def set_hints(self, names) -> None:
        self.hints = list(names)


class Silent:
    """A voice that speaks a few samples of silence per piece of text."""

    sample_rate = 22050

    def synthesize(self, text):
        yield np.zeros(100, np.float32)


class Said:
    """A recogniser (``contracts.Recognizer``) that hears ``text`` in any audio, at once; a
    callable ``text`` chooses the words from the audio (e.g. "Mm-hm." for a short sound)."""

    name = "said"

    def __init__(self, text):
        self.text = text

    def transcribe(self, audio):
        return Transcript(self.text(audio) if callable(self.text) else self.text, "en", 0.0)

    def warm_up(self) -> None:
        pass

    def set_hints(self, names) -> None:
        self.hints = list(names)


class Tone:
    """A voice (``contracts.Synthesizer``) that says each word as ``word_s`` of a quiet tone,
    so replies last as long as real speech and an interruption cuts them mid-sentence."""

    name, sample_rate, speed, volume = "tone", 16000, 1.0, 1.0

    def __init__(self, word_s: float = 0.25):
        self.word_s = word_s

    def synthesize(self, text):
        n = int(self.sample_rate * self.word_s * max(1, len(text.split())))
        yield (0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / self.sample_rate)).astype(np.float32)

    def set_prosody(self, speed=None, volume=None) -> None:
        pass


class LoudnessVAD:
    """A voice-activity detector for the endpointer that calls anything loud speech: the loop's
    logic can then be driven by noise bursts of exact lengths instead of recorded speech."""

    def prob(self, chunk) -> float:
        return 1.0 if float(np.sqrt(np.mean(np.square(chunk)))) > 0.01 else 0.0

    def reset(self) -> None:
        pass


def noise(seconds: float, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """A burst that :class:`LoudnessVAD` hears as speech."""
    return (level * np.random.default_rng(seed).standard_normal(int(SAMPLE_RATE * seconds))).astype(np.float32)


class PacedMic:
    """16 kHz frames of ``audio`` at real-time pace, stamped on the monotonic clock (like the
    microphone), then silence until stopped; ``at[offset]`` is called with the frame time
    when the frame at ``offset`` seconds is reached, and :meth:`say` mixes a sound into the
    frames from now on (the user talking over her)."""

    def __init__(self, audio: np.ndarray, at: dict | None = None):
        self.audio, self.at = audio, dict(at or {})
        self._stop = threading.Event()
        self._said: list[np.ndarray] = []
        self.t0 = time.monotonic() + 0.05

    def say(self, audio: np.ndarray) -> None:
        self._said.append(audio)

    def __iter__(self):
        i = 0
        while not self._stop.is_set():
            t = self.t0 + i / SAMPLE_RATE
            for offset in [o for o in self.at if self.t0 + o <= t]:
                self.at.pop(offset)(self.t0 + offset)
            time.sleep(max(0.0, t - time.monotonic()))
            block = self.audio[i:i + 512]
            block = block if len(block) == 512 else np.zeros(512, np.float32)
            if self._said:
                said = self._said[0]
                block = block + np.pad(said[:512], (0, max(0, 512 - len(said))))
                self._said[0] = said[512:]
                if not len(self._said[0]):
                    self._said.pop(0)
            yield Frame(block, t)
            i += 512

    def drain(self):
        pass

    def stop(self):
        self._stop.set()


class PacedSink(NullSink):
    """Plays nowhere, in real time: ``finish`` lasts as long as the audio, ``pause`` holds it,
    ``stop`` cuts it. Like the speaker's sink, one non-reentrant lock guards its state;
    ``on_pause`` runs inside :meth:`pause` with that lock held (to land a signal just there)."""

    def __init__(self, on_pause=None):
        super().__init__()
        self.on_pause = on_pause
        self._lock = threading.Lock()
        self._start = self._paused_since = None
        self._held = 0.0  # seconds spent paused in this reply
        self._cut = threading.Event()
        self._played_at_cut = None
        self.stopped_at = None  # when playback was last cut short
        self.pauses = 0
        self._audio: list[np.ndarray] = []  # this reply's audio, for a microphone that hears it (LeakyMic)

    @property
    def played(self):
        if self._played_at_cut is not None:
            return self._played_at_cut
        if self._start is None:
            return 0
        now = self._paused_since or time.monotonic()
        return min(self.queued, int((now - self._start - self._held) * self.rate))

    @played.setter
    def played(self, value):
        pass

    def begin(self):
        """A new reply; like the speaker's sink, a pause still in force holds it too."""
        with self._lock:
            super().begin()
            self._start, self._played_at_cut, self._held = None, None, 0.0
            self._cut.clear()
            self._audio = []

    def write(self, audio, rate):
        with self._lock:
            if self._cut.is_set() or not len(audio):
                return
            self.rate = self.rate or rate
            if self._start is None:
                self._start = self.first_sample_at = time.monotonic()
                if self._paused_since is not None:  # held from its first sample
                    self._paused_since = self._start
            self.queued += len(audio)
            self._audio.append(np.asarray(audio, np.float32))

    def sound(self, start: int, end: int) -> np.ndarray:
        """Samples ``start`` to ``end`` of the reply (as played: zeros where there are none)."""
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32)
        out = audio[max(0, start):max(0, end)]
        return np.pad(out, (0, max(0, end - max(0, start) - len(out))))

    def finish(self):
        while not self._cut.is_set() and (self._paused_since is not None or self.played < self.queued):
            self._cut.wait(0.01)

    def pause(self):
        with self._lock:
            if self._paused_since is None:
                self._paused_since = time.monotonic()
                self.pauses += 1
            if self.on_pause is not None:
                self.on_pause()

    def resume(self):
        with self._lock:
            if self._paused_since is not None:
                self._held += time.monotonic() - self._paused_since
                self._paused_since = None

    def stop(self):
        """Cut the reply short; like the speaker's sink, a pause ends with it."""
        with self._lock:
            if self._start is not None and not self._cut.is_set():
                self._played_at_cut = self.played
                if self._played_at_cut < self.queued:  # cut short, not stopped after the end
                    self.stopped_at = time.monotonic()
            self._cut.set()
            self._paused_since = None

    @property
    def playing(self):
        return self._start is not None and not self._cut.is_set() and self.played < self.queued


class LeakyMic(PacedMic):
    """A :class:`PacedMic` on open speakers: it also hears what ``sink`` (a :class:`PacedSink`
    at 16 kHz) plays, ``delay_s`` later and at ``gain``, so her own voice comes back into the
    microphone and stops coming back soon after she pauses or stops."""

    def __init__(self, audio: np.ndarray, sink: "PacedSink", gain: float = 0.5, delay_s: float = 0.08, **kw):
        super().__init__(audio, **kw)
        self.sink, self.gain, self.delay = sink, gain, int(delay_s * SAMPLE_RATE)
        self._heard_to = 0  # reply sample up to which the microphone has heard her

    def __iter__(self):
        reply_start = None
        for frame in super().__iter__():
            if self.sink._start is not None and self.sink._start != reply_start:  # a new reply began
                reply_start, self._heard_to = self.sink._start, 0
            played = self.sink.played - self.delay
            leak = self.sink.sound(self._heard_to, max(self._heard_to, played))[-len(frame.audio):]
            self._heard_to = max(self._heard_to, played)
            block = frame.audio.copy()
            if len(leak):
                block[-len(leak):] += self.gain * leak
            yield Frame(block, frame.t)


class TranscriberOnly:
    """What the turn taker calls on the conversation, reduced to a transcriber: the speculative
    pass, the guess and the streamed turn go to it; prompts and thoughts are not made."""

    def __init__(self, transcriber):
        self.transcriber = transcriber

    def listen_ahead(self, utt):
        self.transcriber.prefetch(utt.audio)

    def guess(self, wait=False):
        return self.transcriber.guess(wait)

    def hear(self, settled):
        hear = getattr(self.transcriber, "hear", None)
        if hear is not None:
            hear(settled)

    def ready_prompt(self):
        pass

    def think_ahead(self, guess):
        pass

    def drop_thought(self):
        pass
