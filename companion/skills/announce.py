"""Saying due reminders in the live loop: only in a gap (never while the user is talking),
a soft two-note earcon first so it does not startle, then the words in the usual voice."""

from __future__ import annotations

import logging
import time
from typing import Iterator

from ..audio.earcons import tone
from ..tts import speak_into
from ..ops.logs import Words

log = logging.getLogger(__name__)


def speak(texts: list[str], voice, sink) -> None:
    if not texts:
        return
    log.info("announcing: %s", Words(" ".join(texts)))
    sink.begin()
    sink.write(tone("reminder", rate=voice.sample_rate), voice.sample_rate)
    for text in texts:
        speak_into(voice, sink, text)
    sink.finish()


class IdleAnnouncer:
    """Wraps the microphone's frames: between frames, when the endpointer hears no speech,
    it checks (once per ``check_every_s``) for due announcements and speaks them; then drops
    what the mic heard meanwhile, as after any reply (half-duplex)."""

    def __init__(self, router, voice, sink, check_every_s: float = 1.0):
        self.router, self.voice, self.sink, self.check_every_s = router, voice, sink, check_every_s
        self._next_check = 0.0

    def at_start(self, mic) -> None:
        if self.router is not None:
            self._say(self.router.start_announcements(), mic, None)

    def between_turns(self, mic, endpointer) -> Iterator:
        for frame in mic:
            yield frame
            self.tick(mic, endpointer)

    def tick(self, mic, endpointer) -> None:
        """Call between frames while she is not speaking: says what is due, in a gap."""
        if self.router is None or endpointer.in_speech or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.check_every_s
        try:
            self._say(self.router.due_announcements(), mic, endpointer)
        except Exception:  # a reminder must never take the conversation down
            log.exception("could not announce due reminders")

    def _say(self, texts: list[str], mic, endpointer) -> None:
        if not texts:
            return
        speak(texts, self.voice, self.sink)
        mic.drain()
        if endpointer is not None:
            endpointer.reset()
