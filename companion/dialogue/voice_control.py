"""Everything a user controls, by voice, recognised by rules (never by the LLM, so it works
with the smallest model): stop, say that again, slower/faster/louder/softer (remembered
across restarts), go to sleep / mute until the wake phrase, goodbye, the time, and how
long we have been talking.

Commands must be the whole utterance (after fillers like "please", "um", "Samantha"), so
"I need to stop smoking" is a sentence, not a command; small transcription errors are
forgiven by fuzzy matching.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..ops.logs import Words

log = logging.getLogger(__name__)

PHRASES: dict[str, tuple[str, ...]] = {
    "stop": ("stop", "be quiet", "quiet", "shush", "hush", "shut up", "stop talking", "that's enough", "enough"),
    "repeat": ("say that again", "repeat that", "repeat", "what did you say", "come again", "pardon", "sorry what",
               "say it again", "once more"),
    "slower": ("slower", "speak slower", "slow down", "talk slower", "more slowly", "speak more slowly"),
    "faster": ("faster", "speak faster", "speed up", "talk faster", "more quickly", "speak more quickly"),
    "louder": ("louder", "speak up", "speak louder", "volume up", "turn it up", "i can't hear you", "turn up the volume"),
    "softer": ("softer", "quieter", "speak softer", "speak more quietly", "volume down", "turn it down", "not so loud",
               "too loud", "turn down the volume"),
    "sleep": ("go to sleep", "sleep", "mute", "stop listening", "pause listening", "take a break"),
    "goodbye": ("goodbye", "bye", "bye bye", "good night", "see you later", "talk to you later", "that's all for now"),
    "time": ("what time is it", "what's the time", "tell me the time", "do you have the time", "what is the time"),
    "duration": ("how long have we been talking", "how long have we talked", "how long is this conversation",
                 "how long have we been chatting"),
}
FILLERS = frozenset("please um uh er so okay ok oh hey hi samantha now just a bit little can could would you maybe "
                    "kindly".split())
SPEED_STEP, VOLUME_STEP = 1.15, 1.25
# Her fixed answers ("{wake}" is the wake phrase); fixed_replies() lists them for the opener cache.
REPLIES = {"here": "I'm here.", "nothing yet": "I haven't said anything yet.", "slower": "Okay, I'll speak more slowly.",
           "faster": "Okay, I'll speak faster.", "louder": "Okay, louder.", "softer": "Okay, softer.",
           "sleep": "Okay, I'll be quiet. Say {wake} when you need me.",
           "goodbye": "Goodbye! Say {wake} when you want to talk again.", "just started": "We've only just started talking."}


def fixed_replies(wake_phrase: str) -> list[str]:
    """Every answer of hers that does not depend on the moment, as she says it."""
    return [r.format(wake=wake_phrase) for r in REPLIES.values()]


def normalise(text: str) -> str:
    words = re.findall(r"[a-z']+", text.lower().replace("’", "'"))
    return " ".join(w for w in words if w not in FILLERS)


def parse(text: str) -> str | None:
    """The command ``text`` is, or ``None``."""
    said = normalise(text)
    if not said or len(said.split()) > 8:
        return None
    best, best_ratio = None, 0.0
    for kind, phrases in PHRASES.items():
        for phrase in phrases:
            target = " ".join(w for w in phrase.split() if w not in FILLERS) or phrase
            ratio = difflib.SequenceMatcher(None, said, target).ratio()
            if ratio > best_ratio:
                best, best_ratio = kind, ratio
    return best if best_ratio >= 0.84 else None


def wake_remainder(text: str, wake_phrase: str) -> str | None:
    """If ``text`` starts with the wake phrase (fuzzily: "Hey, Samanta"), what follows it
    (possibly empty); otherwise ``None``."""
    words = re.findall(r"[a-z']+", text.lower())
    wake = re.findall(r"[a-z']+", wake_phrase.lower())
    for extra in (0, 1):  # Whisper sometimes splits or merges a word
        n = len(wake) + extra
        if len(words) >= max(1, n - 1):
            head = " ".join(words[:n])
            if difflib.SequenceMatcher(None, head, " ".join(wake)).ratio() >= 0.75:
                rest = text.split()
                return " ".join(rest[n:]).strip(" ,.!?")
    if wake and words and difflib.SequenceMatcher(None, words[0], wake[-1]).ratio() >= 0.8:  # "Samantha, ..."
        return " ".join(text.split()[1:]).strip(" ,.!?")
    return None


class Preferences:
    """Speaking rate and volume set by voice, kept in the data directory across restarts."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.values = json.loads(path.read_text())
        except (OSError, ValueError):
            self.values = {}

    def get(self, key: str, default: float) -> float:
        value = self.values.get(key)
        return float(value) if isinstance(value, (int, float)) else default

    def set(self, key: str, value: float) -> None:
        self.values[key] = round(value, 3)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.values, fh)
        os.replace(tmp, self.path)


@dataclass
class VoiceControl:
    """A Skill (``handle``) plus the sleep gate (``admit``) the conversation consults first."""

    voice: object
    preferences: Preferences
    wake_phrase: str = "Hey Samantha"
    last_said: Callable[[], str] = lambda: ""
    end_conversation: Callable[[datetime], None] = lambda now: None
    cue: Callable[[str], None] = lambda kind: None  # an earcon: "listening" on waking, "sleep" (runtime.app)
    sleeping: bool = False
    started: datetime | None = None

    def admit(self, text: str, now: datetime) -> str | None:
        """What of ``text`` the conversation should act on: all of it when awake; while asleep,
        only what follows the wake phrase ("" to just wake), else ``None`` (ignored)."""
        if self.started is None:
            self.started = now
        if not self.sleeping:
            return text
        rest = wake_remainder(text, self.wake_phrase)
        if rest is None:
            log.info("asleep: ignored %r", Words(text))
            return None
        self.sleeping = False
        self.started = now
        self.cue("listening")
        log.info("woken by the wake phrase")
        return rest

    def passes_on(self, text: str) -> bool:
        """True when ``text`` would reach the model: she is awake and it is no command. Changes
        nothing (the reply may be started before the turn is confirmed)."""
        return not self.sleeping and bool(text.strip()) and parse(text) is None

    def handle(self, text: str, now: datetime) -> str | None:
        if not text.strip():
            return REPLIES["here"]
        kind = parse(text)
        if kind is None:
            return None
        log.info("voice command: %s", kind)
        return getattr(self, f"_{kind}")(now)

    def _stop(self, now):
        return ""  # the interruption already silenced her; say nothing more

    def _repeat(self, now):
        said = self.last_said()
        return said if said else REPLIES["nothing yet"]

    def _adjust(self, what: str, factor: float, lo: float, hi: float, answer: str) -> str:
        """Change the voice's ``what`` ('speed' or 'volume') by ``factor`` and keep it."""
        value = min(hi, max(lo, self.preferences.get(f"tts.{what}", getattr(self.voice, what)) * factor))
        self.voice.set_prosody(**{what: value})
        self.preferences.set(f"tts.{what}", value)
        return answer

    def _slower(self, now):
        return self._adjust("speed", 1 / SPEED_STEP, 0.5, 2.0, REPLIES["slower"])

    def _faster(self, now):
        return self._adjust("speed", SPEED_STEP, 0.5, 2.0, REPLIES["faster"])

    def _louder(self, now):
        return self._adjust("volume", VOLUME_STEP, 0.1, 2.0, REPLIES["louder"])

    def _softer(self, now):
        return self._adjust("volume", 1 / VOLUME_STEP, 0.1, 2.0, REPLIES["softer"])

    def _sleep(self, now):
        self.sleeping = True
        self.cue("sleep")
        return REPLIES["sleep"].format(wake=self.wake_phrase)

    def _goodbye(self, now):
        self.end_conversation(now)
        self.sleeping = True
        self.cue("sleep")
        return REPLIES["goodbye"].format(wake=self.wake_phrase)

    def _time(self, now):
        return f"It's {now:%-I:%M} {'a.m.' if now.hour < 12 else 'p.m.'}"

    def _duration(self, now):
        minutes = int(((now - self.started).total_seconds() if self.started else 0) // 60)
        if minutes < 1:
            return REPLIES["just started"]
        if minutes < 60:
            return f"We've been talking for {minutes} minute{'s' if minutes != 1 else ''}."
        hours, minutes = divmod(minutes, 60)
        return (f"We've been talking for {hours} hour{'s' if hours != 1 else ''}"
                + (f" and {minutes} minute{'s' if minutes != 1 else ''}." if minutes else "."))
