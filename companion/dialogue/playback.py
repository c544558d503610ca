"""Playing one reply: speakable pieces in, audio out through the sink, synthesis on a thread
of its own so piece N is synthesised while the model writes piece N+1; and what was heard
when playback was cut (barge-in), so the history holds only that."""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np

from ..ops.logs import Words
from ..contracts import Synthesizer
from ..records import Timings, Turn
from ..tts import speak_into
from .reply import Reply

log = logging.getLogger(__name__)

_END = object()  # closes the synthesis queue


class ReplyPlayer:
    """Opens the sink for one reply (the reply is SPEAKING from now), speaks the pieces it is
    given, and at :meth:`end` fills in the turn: what was said, whether it was cut, what was heard."""

    def __init__(self, voice: Synthesizer, sink, reply: Reply, timings: Timings):
        self.sink, self.reply, self.timings = sink, reply, timings
        sink.begin()
        reply.speaking()
        self._worker = _SpeakingWorker(voice, sink, reply)
        self.spoken: list[str] = []
        self.started_at = time.monotonic()  # the request is sent from here
        self.first_words_at: float | None = None  # set by end()
        self.acknowledged = False  # an acknowledgment ("Mm,") was played first

    def say(self, piece: str, audio: np.ndarray | None = None) -> None:
        """Queue one piece (``audio``: already synthesised, by a thought made ahead)."""
        if self.timings.first_sentence is None:
            self.timings.first_sentence = time.monotonic() - self.started_at
        self.spoken.append(piece)
        self.reply.said(piece)
        self._worker.put(piece, audio)

    def acknowledge(self, audio: np.ndarray) -> None:
        """Play a short acknowledgment ("Mm,") before the reply's first piece: heard, but not
        part of what she said (not in the reply's text, nor in the history)."""
        self.acknowledged = True
        self._worker.put("", audio, cue=True)

    def first_token(self) -> None:
        self.timings.llm_first_token = time.monotonic() - self.started_at

    def drain(self) -> None:
        """Wait until every queued piece is synthesised into the sink (or dropped, when cancelled)."""
        self._worker.close()

    def end(self, turn: Turn) -> None:
        """Let the sink play out unless the reply was cancelled, then record in ``turn`` what
        was said and heard, and when the first audio played."""
        if not self.reply.cancelled:
            self.sink.finish()  # returns early when the live loop stops the sink (barge-in)
        self.sink.stop()
        if not getattr(self.sink, "saved", True):
            turn.reply_audio = None  # never a file that was not written
        turn.reply_text = " ".join(self.spoken)
        turn.interrupted = not self.reply.finish()
        cut = turn.interrupted or self.sink.played < self.sink.queued  # or the speaker gave up on the rest of it
        turn.heard_text = self._worker.heard(self.sink.played) if cut else turn.reply_text
        if self.timings.thought_ahead is None:
            self.timings.tts_first_audio = self._worker.first_audio_s
        self.first_words_at = self._worker.first_words_at(getattr(self.sink, "first_sample_at", None))


class _SpeakingWorker:
    """Synthesises queued text pieces one at a time on its own thread and writes the audio
    to the sink, so synthesis of piece N overlaps with generation of piece N+1."""

    def __init__(self, voice: Synthesizer, sink, reply: Reply):
        self.voice, self.sink, self.reply = voice, sink, reply
        self.first_audio_s: float | None = None
        self.marks: list[tuple[str, int, int]] = []  # (text, first sample, end sample) in the sink
        self.cue_written: tuple[float, float] | None = None  # (when, seconds long): the acknowledgment
        self.words_written: float | None = None  # when the reply's first own block was handed to the sink
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tts", daemon=True)
        self._thread.start()

    def put(self, text: str, audio=None, cue: bool = False) -> None:
        """Queue ``text`` to be spoken; ``audio`` when it is already synthesised (thought ahead);
        ``cue``: an acknowledgment, not counted as the reply's first audio."""
        self._queue.put((text, audio, time.monotonic(), cue))

    def first_words_at(self, first_sample_at: float | None) -> float | None:
        """Monotonic time the reply's own first words reached the speaker: the first sample,
        or, after an acknowledgment, its end or the first block's arrival (plus the device's
        delay, as measured for the acknowledgment), whichever is later."""
        if first_sample_at is None or self.cue_written is None or self.words_written is None:
            return first_sample_at
        written, length = self.cue_written
        return max(first_sample_at + length, self.words_written + max(0.0, first_sample_at - written))

    def close(self) -> None:
        self._queue.put(_END)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self.reply.cancelled:
                continue
            text, ready, queued_at, cue = item
            start = self.sink.queued

            def first_block(queued_at=queued_at, cue=cue, ready=ready):
                if cue:
                    self.cue_written = (time.monotonic(), len(ready) / self.voice.sample_rate)
                    return
                if self.words_written is None:
                    self.words_written = time.monotonic()
                if self.first_audio_s is None:
                    self.first_audio_s = time.monotonic() - queued_at

            whole = False
            try:
                whole = speak_into(self.voice, self.sink, text, ready, self.reply, first_block)
            except Exception:
                log.exception("could not synthesise %r", Words(text))
            if whole or self.sink.queued > start:  # a piece stopped before any of it was made was not said
                self.marks.append((text, start, self.sink.queued))

    def heard(self, played: int) -> str:
        """The text whose audio had played when playback stopped at sample ``played``; the
        piece in progress is cut in proportion (words are spread evenly enough for that)."""
        heard = []
        for text, start, end in self.marks:
            if end <= played:
                heard.append(text)
            elif start < played:
                words = text.split()
                heard.append(" ".join(words[: int(len(words) * (played - start) / max(1, end - start))]))
                break
            else:
                break
        return " ".join(h for h in heard if h)
