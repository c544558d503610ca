"""The opener cache: the phrases she says most (the greeting, the apology, confirmations,
"Oh,", "Of course.") synthesised once and kept in the data directory, so a reply that opens
with one sounds at once instead of after the engine's first call (about 0.4 s for Kokoro).

:class:`OpenerCache` wraps any :class:`~companion.contracts.Synthesizer`: a piece that is
exactly a cached phrase is played from the cache, anything else goes to the engine. The cache
is keyed by engine, voice, speed and :data:`VERSION`, and built again when one changes; it is
stored at the voice's own level (volume 1.0) and the current volume is applied when played.
Set-up builds it for the configured voice (``runtime.app.prepare_opener_cache``); a start
that finds it missing (another voice or speed) builds it on a background thread at the lowest
priority, one phrase at a time, only once the voice has been quiet and the conversation idle
(:meth:`hold`) for ``IDLE_S``, so neither start-up nor a reply waits for it."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..contracts import Synthesizer
from .level import with_gain

log = logging.getLogger(__name__)

VERSION = 1  # bump when the way pieces are synthesised changes, so old audio is not played
IDLE_S = 1.5  # the voice must have been quiet this long before a phrase is built
REST = 1.0  # after each phrase, rest this many times as long as it took: at most half the CPU,
# so the user's next turn (Whisper, the LLM) is not starved while the cache fills


def cache_name(engine: str, voice: str, speed: float) -> str:
    """The file one engine + voice + speed is cached in."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", voice)[-60:]
    return f"{engine}-{safe}-x{speed:.3f}-v{VERSION}.npz"


class OpenerCache:
    """A :class:`Synthesizer` that plays cached phrases and hands the rest to ``voice``."""

    def __init__(self, voice: Synthesizer, engine: str, folder: Path, phrases: Iterable[str]):
        self.voice, self.engine, self.folder = voice, engine, folder
        self.name, self.sample_rate = voice.name, voice.sample_rate
        self.phrases = list(dict.fromkeys(p.strip() for p in phrases if p.strip()))
        self.hits = self.misses = 0
        self._state = threading.Condition()
        self._speaking = 0  # synthesis in progress for the conversation
        self._building = False  # a phrase in progress for the cache (the voice's volume is 1.0 meanwhile)
        self._quiet_since = 0.0
        self._stop = threading.Event()
        self._builder: threading.Thread | None = None
        self._store = self._read()

    @property
    def speed(self) -> float:
        return self.voice.speed

    @property
    def volume(self) -> float:
        return self.voice.volume

    @property
    def path(self) -> Path:
        return self.folder / cache_name(self.engine, self.voice.name, self.voice.speed)

    def cached(self, text: str) -> bool:
        """Whether ``text`` would be played from the cache now."""
        return text.strip() in self._store

    def summary(self) -> str:
        return f"{self.hits} of {self.hits + self.misses} pieces played from the opener cache"

    def missing(self) -> list[str]:
        return [p for p in self.phrases if p not in self._store]

    def set_prosody(self, speed: float | None = None, volume: float | None = None) -> None:
        """As the voice's; a new speed switches to that speed's cache (built in the background
        when building was started)."""
        with self._state:
            self._state.wait_for(lambda: not self._building)
            before = self.voice.speed
            self.voice.set_prosody(speed=speed, volume=volume)
            if self.voice.speed != before:
                self._store = self._read()
        if self.voice.speed != before and self._builder is not None:
            self.build_in_background()

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        audio = self._store.get(text.strip())
        if audio is not None:
            self.hits += 1
            yield with_gain(audio, self.voice.volume)
            return
        self.misses += 1
        with self._state:
            self._state.wait_for(lambda: not self._building)  # at most one short phrase
            self._speaking += 1
        try:
            yield from self.voice.synthesize(text)
        finally:
            with self._state:
                self._speaking -= 1
                self._quiet_since = time.monotonic()
                self._state.notify_all()

    def hold(self) -> None:
        """The conversation is busy without the voice (the user started speaking, their words
        are being read, a reply is being thought of ahead): building waits ``IDLE_S`` from now."""
        with self._state:
            self._quiet_since = max(self._quiet_since, time.monotonic())

    def build(self, idle_s: float = 0.0, rest: float = 0.0) -> int:
        """Synthesise every missing phrase (each only once the voice has been idle ``idle_s``,
        resting ``rest`` times the phrase's cost after it), save the cache and return how many
        were made. Stops early when :meth:`close` is called."""
        made = 0
        while not self._stop.is_set():
            todo = self.missing()
            if not todo:
                break
            with self._state:
                while not self._stop.is_set():
                    idle_for = time.monotonic() - self._quiet_since
                    if not self._speaking and idle_for >= idle_s:
                        break
                    self._state.wait(timeout=max(0.05, idle_s - idle_for))
                if self._stop.is_set():
                    break
                self._building = True
                key, volume = self.path, self.voice.volume
                self.voice.set_prosody(volume=1.0)
            started = time.monotonic()
            try:
                audio = np.concatenate([np.zeros(0, np.float32), *self.voice.synthesize(todo[0])])
            finally:
                with self._state:
                    self.voice.set_prosody(volume=volume)
                    self._building = False
                    self._state.notify_all()
            if key == self.path:  # the speed did not change meanwhile
                self._store = {**self._store, todo[0]: audio}
                made += 1
            self._stop.wait(rest * (time.monotonic() - started))
        if made:
            self._write()
        return made

    def build_in_background(self) -> threading.Thread:
        """Start :meth:`build` on a daemon thread, in the gaps of the conversation."""
        previous = self._builder
        if previous is not None and previous.is_alive():
            return previous  # it goes on to the new speed's phrases by itself
        self._builder = threading.Thread(target=self._build_logged, name="opener-cache", daemon=True)
        self._builder.start()
        return self._builder

    def close(self) -> None:
        self._stop.set()
        with self._state:
            self._state.notify_all()
        if self._builder is not None:
            self._builder.join()

    def _build_logged(self) -> None:
        t = time.perf_counter()
        try:  # the lowest priority for this thread: a reply that starts meanwhile takes the cores
            # (the engine's own worker threads keep theirs: ONNX Runtime made them at load)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # not Linux: idle-only building is still the rule
            pass
        try:
            made = self.build(IDLE_S, REST)
        except Exception:  # the cache is an optimisation: the conversation goes on without it
            log.exception("the opener cache could not be built")
            return
        if made:
            log.info("opener cache: %d phrases for %s made in %.1fs (%s)", made, self.voice.name,
                     time.perf_counter() - t, self.path)

    def _read(self) -> dict[str, np.ndarray]:
        """The stored phrases for the current key; a damaged or foreign file counts as empty."""
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                if int(npz["rate"]) != self.sample_rate:
                    return {}
                texts = [str(t) for t in npz["texts"]]
                return {t: npz[f"a{i}"].astype(np.float32) for i, t in enumerate(texts)}
        except FileNotFoundError:
            return {}
        except Exception as exc:  # damaged: rebuilt on the next build
            log.warning("opener cache %s unreadable (%s); it is made again", self.path, exc)
            return {}

    def _write(self) -> None:
        """Save atomically, and drop the files of other voices and speeds (rebuilt if needed)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        store, path = self._store, self.path
        tmp = self.folder / f".{path.name}.{os.getpid()}.tmp.npz"
        np.savez(tmp, rate=np.int64(self.sample_rate), texts=np.array(list(store), dtype=str),
                 **{f"a{i}": a for i, a in enumerate(store.values())})
        os.replace(tmp, path)
        for other in self.folder.glob("*.npz"):
            if other != path:
                other.unlink(missing_ok=True)
