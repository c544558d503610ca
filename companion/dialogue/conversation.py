"""One conversation: owns the history and the transcript, and turns an utterance into a
spoken reply (transcribe -> think -> chunk -> synthesise -> play), streaming, so the first
clause plays while the rest is still being written."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import queue
import re
import threading
import time
from datetime import datetime
from pathlib import Path

from ..contracts import ChatClient, Memory, NoMemory, Recall, Skill, Synthesizer
from ..llm.client import BrainError
from ..database import Fault, report_fault
from .persona import Persona
from .shaping import shaped
from ..skills.tool_loop import reply_stream
from ..tts.chunking import SpeechChunker
from ..stt.speculative import SpeculativeTranscriber
from .think_ahead import ThinkAhead
from ..records import Timings, Transcript, Turn, Utterance

log = logging.getLogger(__name__)

_WORDS = re.compile(r"[A-Za-z0-9\u00C0-\u024F\u0400-\u04FF\u4e00-\u9fff]")
# Whisper's usual inventions on noise: treated as "nothing was said".
_NOISE_TEXTS = {"you", "thank you.", "thanks for watching!", "thank you for watching.", "bye.", "."}


class TranscriptLog:
    """Append-only JSONL, one line per turn, flushed and fsynced so a crash loses nothing said."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._reported: set[str] = set()

    def append(self, turn: Turn) -> None:
        """A failed write (disk full, a removed folder) is logged and reported once, never
        raised: the turn is already in memory, and she must keep talking."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(turn.to_json(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            kind = "full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "error"
            if kind not in self._reported:
                self._reported.add(kind)
                log.error("could not write the transcript %s: %s (turn %d is in the memory database; "
                          "free some space or check the folder)", self.path, exc, turn.index)
                report_fault(Fault(self.path, kind, str(exc)))


def is_meaningful(text: str) -> bool:
    return bool(_WORDS.search(text)) and text.strip().lower() not in _NOISE_TEXTS


_END = object()  # closes the synthesis queue


class Conversation:
    def __init__(self, transcriber: SpeculativeTranscriber, brain: ChatClient, voice: Synthesizer, persona: Persona,
                 transcript: TranscriptLog | None = None, memory: Memory | None = None,
                 skills: list[Skill] | None = None, history_turns: int = 12, clock=datetime.now, control=None):
        self.transcriber, self.brain, self.voice, self.persona = transcriber, brain, voice, persona
        self.transcript = transcript
        self.memory = memory or NoMemory()
        self.skills = list(skills or [])
        self.control = control  # voice commands and the sleep gate (voice_control.VoiceControl)
        self.history_turns = history_turns
        self.clock = clock
        self.history: list[dict] = []
        self._history_start = 0  # see recent_history
        self.prefill_between_turns = False  # set for a local server (app.new_conversation)
        self._prefill: threading.Thread | None = None
        self._read_ahead: tuple[str, float] | None = None  # (time line, monotonic) the server last read
        self._replying = False
        self.turns = 0
        self.last_turn: Turn | None = None
        self._keep = True
        self.log_off_record = False  # replay's transcript is the output asked for: it keeps every turn
        self.ahead: ThinkAhead | None = None  # replies started at the first pause (app.new_conversation)
        self._hear_names()

    def _hear_names(self) -> None:
        """The recogniser listens for her name and the names memory knows (a user just told her "Biscuit")."""
        hint = getattr(self.transcriber, "set_hints", None)
        if hint is not None:
            hint([self.persona.name, *getattr(self.memory, "known_names", lambda: [])()])

    # -- prompt --------------------------------------------------------------------------
    def messages(self, user_text: str, recall: Recall, now: datetime) -> list[dict]:
        """The request, ordered for the server's prompt cache: what rarely changes first (the
        persona, then what memory holds whatever the words: the profile, the last conversation),
        then the history (the same as in the last request, one exchange longer), the time and
        the in-character reminder (all read between turns, the time again while the user
        speaks, see :meth:`ready_prompt`), and only then what the words recall and the words. A
        small CPU model reads an uncached prompt at ~250 tokens/s, so a clock or memory line at
        the top would cost seconds on every turn."""
        recall_part = [{"role": "system", "content": recall.context}] if recall.context else []
        return [*self._lead(self._time_line(now), now), *recall_part, {"role": "user", "content": user_text}]

    def _lead(self, time_line: str, now: datetime, read_ahead: bool = False) -> list[dict]:
        """Everything in the request before what depends on the user's words: the persona and
        what memory holds whatever the words (it changes only when a fact does, so it comes
        before the history, which grows every turn), the history, the time."""
        context = "\n\n".join([time_line, self.persona.reminder] if self.persona.reminder else [time_line])
        standing = self.memory.standing(now, read_ahead)
        return [{"role": "system", "content": self.persona.system_prompt},
                *([{"role": "system", "content": standing}] if standing else []), *self.recent_history(),
                {"role": "system", "content": context}]

    def _time_line(self, now: datetime) -> str:
        """The time line the server has already read, if it is under a minute old: a line that
        changed between reading ahead and the request would make the server re-read it."""
        line = f"It is {now:%A, %B %-d, %Y, %-I:%M %p}."
        if self._read_ahead is not None and time.monotonic() - self._read_ahead[1] < 60:
            return self._read_ahead[0]
        return line

    def recent_history(self) -> list[dict]:
        """Between ``history_turns`` and twice that many messages pairs, trimmed in one step
        when the window is full: a window sliding by one turn would change the start of the
        prompt every turn and make the server re-read all of it."""
        if not self.history_turns:
            return []
        limit = 2 * self.history_turns
        if len(self.history) - self._history_start > 2 * limit:
            self._history_start = len(self.history) - limit
        return self.history[self._history_start:]

    def prefill(self) -> None:
        """Let a local server read the persona, standing memory, history, time and reminder now,
        between turns, so the next request only adds what the words recall and the words (a 135M
        model reads ~250 tokens/s on two cores)."""
        self.settle()
        now = self.clock()
        self._start_prefill(self._time_line(now), now)

    def ready_prompt(self) -> None:
        """The user started speaking: if the clock has moved to another minute since the last
        prefill, read the request's lead again now, while the CPU is idle listening. Never
        blocks the microphone, and does nothing while a reply is being made (the server is busy)."""
        if not self.prefill_between_turns or self._replying or (self._prefill is not None and self._prefill.is_alive()):
            return
        now = self.clock()
        line = f"It is {now:%A, %B %-d, %Y, %-I:%M %p}."
        if self._read_ahead is None or self._read_ahead[0] != line:
            self._start_prefill(line, now)

    def _start_prefill(self, time_line: str, now: datetime) -> None:
        if self._read_ahead is None or self._read_ahead[0] != time_line:  # keep when it was first read
            self._read_ahead = (time_line, time.monotonic())
        # the lead is built on the prefill thread: memory's database is never read on the microphone's
        self._prefill = threading.Thread(target=lambda: self.brain.warm_up(self._lead(time_line, now, read_ahead=True)),
                                         name="llm-prefill", daemon=True)
        self._prefill.start()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for a prefill in flight: the embedded server must not be torn down under it
        (its shutdown waits for the request, which waits for the server: a hang)."""
        if self._prefill is not None:
            self._prefill.join(timeout)
            self._prefill = None

    # -- one turn ------------------------------------------------------------------------
    def listen_ahead(self, utt: Utterance) -> None:
        """A tentative turn (the user paused): start understanding it before it is confirmed."""
        self.transcriber.prefetch(utt.audio)

    def think_ahead(self, guess: Transcript) -> None:
        """The user paused and their words so far are known: if the model is the one that will
        answer them, start the reply now (see ``think_ahead.py``); the confirmed turn takes it
        over when its request is the same."""
        if self.ahead is None or self._replying:
            return
        text = guess.text
        if (not is_meaningful(text) or (self.control is not None and not self.control.passes_on(text))
                or any(getattr(s, "in_dialogue", False) or getattr(s, "tools", None) is not None for s in self.skills)):
            self.ahead.drop()  # a command, a skill's dialogue, or tools the thought would not offer
            return
        now = self.clock()

        def request() -> list[dict] | None:
            context = self.memory.preview(text, now)
            return None if context is None else self.messages(text, Recall(context), now)

        self.ahead.start(text, request)

    def drop_thought(self) -> None:
        """The user went on after the pause: the reply made ahead is for words not yet finished."""
        if self.ahead is not None and self.ahead.pending:
            self.ahead.drop()
            log.debug("the user went on: dropped the reply made ahead")

    def respond(self, utt: Utterance, sink, source: str | None = None,
                cancel: threading.Event | None = None, reply_audio: str | None = None) -> Turn | None:
        """Transcribe ``utt`` and speak the reply into ``sink``. Returns the logged turn, or
        ``None`` when nothing meaningful was said (silence or noise: no turn is sent)."""
        cancel = cancel or threading.Event()
        started = time.monotonic()
        timings = Timings(endpoint_wait=utt.decided_at - utt.speech_end)
        transcript = self.transcriber.transcribe(utt.audio)
        timings.stt = transcript.stt_s
        timings.stt_wait = time.monotonic() - started
        if not is_meaningful(transcript.text):
            log.info("ignored a turn with no words (%r)", transcript.text)
            return None
        now = self.clock()
        if self.control is not None:
            admitted = self.control.admit(transcript.text, now)
            if admitted is None:  # asleep, and not the wake phrase: not a turn at all
                return None
            transcript = dataclasses.replace(transcript, text=admitted)
        self.turns += 1
        turn = Turn(index=self.turns, user_text=transcript.text, source=source, reply_audio=reply_audio,
                    started_at=now.isoformat(timespec="seconds"), timings=timings)
        log.info("user: %s", transcript.text)
        recall = self.memory.on_user_turn(transcript.text, now)
        self._keep = recall.keep
        if cancel.is_set():  # stopping: keep what the user said, reply nothing
            self.drop_thought()
            turn.error = "stopped before replying"
            self._remember(turn, transcript.text)
            return turn
        if recall.reply is None:
            handlers = ([self.control] if self.control is not None else []) + self.skills
            answer = next((a for a in (h.handle(transcript.text, now) for h in handlers) if a is not None), None)
            if answer is not None:
                recall = Recall(recall.context, answer)

        self._replying = True  # until _remember: no reading ahead meanwhile
        sink.begin()
        speaker = _SpeakingWorker(self.voice, sink, cancel)
        spoken = []
        request_at = time.monotonic()
        chunker = SpeechChunker()

        def say(piece: str, audio=None) -> None:
            if timings.first_sentence is None:
                timings.first_sentence = time.monotonic() - request_at
            spoken.append(piece)
            speaker.put(piece, audio)

        try:
            if recall.reply is not None:
                self.drop_thought()
                for piece in chunker.push(recall.reply + " "):
                    say(piece)
            else:
                messages = self.messages(transcript.text, recall, now)
                thought = self.ahead.take(transcript.text, messages) if self.ahead is not None else None
                if thought is not None:  # made ahead, from the same words: its first clause is ready
                    for piece, audio in thought.pieces(cancel):
                        say(piece, audio)
                    timings.thought_ahead = started - thought.sent_at
                    timings.llm_first_token, timings.first_sentence = thought.first_token_s, thought.first_piece_s
                    timings.tts_first_audio = thought.synth_s
                else:
                    attempt = lambda: reply_stream(self.brain, self.skills, messages, cancel, now)  # skills as tools, if on
                    for delta in shaped(attempt, transcript.text, self.persona.fallback, cancel):
                        if timings.llm_first_token is None:
                            timings.llm_first_token = time.monotonic() - request_at
                        for piece in chunker.push(delta):
                            say(piece)
            for piece in chunker.flush():
                say(piece)
            if not spoken and not cancel.is_set() and recall.reply is None:  # "" from a command is deliberate
                raise BrainError("the model returned an empty reply")
        except BrainError as exc:
            turn.error = str(exc)
            log.warning("no reply: %s", exc)
            say(self.persona.apology)
        finally:
            speaker.close()
        if not cancel.is_set():
            sink.finish()  # returns early when the live loop stops the sink (barge-in)
        sink.stop()
        turn.reply_text = " ".join(spoken)
        turn.interrupted = cancel.is_set()
        turn.heard_text = speaker.heard(sink.played) if turn.interrupted else turn.reply_text
        if timings.thought_ahead is None:
            timings.tts_first_audio = speaker.first_audio_s
        if sink.first_sample_at is not None:
            timings.first_audio = sink.first_sample_at - started
            timings.voice_to_voice = timings.endpoint_wait + timings.first_audio
        timings.reply_total = time.monotonic() - started
        if turn.interrupted:
            log.info("samantha (interrupted): %s", turn.heard_text)
        else:
            log.info("samantha: %s", turn.reply_text)
        log.info("timings: %s", timings.rounded())
        self._remember(turn, transcript.text)
        return turn

    def _remember(self, turn: Turn, user_text: str) -> None:
        """History holds what the user heard: an interrupted reply is cut where playback
        stopped and marked, so the model knows what was not said."""
        self._replying = False
        if turn.error is not None:  # keep the user's words, not the apology: a small model copies it
            said = turn.heard_text.removesuffix(self.persona.apology).strip() or None
        elif turn.interrupted:
            said = (turn.heard_text + "… " if turn.heard_text else "") + "(interrupted by the user)"
        else:
            said = turn.reply_text
        self.history.append({"role": "user", "content": user_text})
        if said is not None:
            self.history.append({"role": "assistant", "content": said})
        if self.prefill_between_turns:
            self.prefill()
        self.last_turn = turn
        try:  # memory first: a transcript log that cannot be written must not cost her side of the turn
            self.memory.on_reply(turn, turn.heard_text)
            self._hear_names()
        except Exception:  # memory must never take the conversation down
            log.exception("memory could not store the reply")
        if self.transcript is not None and (self._keep or self.log_off_record):
            self.transcript.append(turn)


class _SpeakingWorker:
    """Synthesises queued text pieces one at a time on its own thread and writes the audio
    to the sink, so synthesis of piece N overlaps with generation of piece N+1."""

    def __init__(self, voice: Synthesizer, sink, cancel: threading.Event):
        self.voice, self.sink, self.cancel = voice, sink, cancel
        self.first_audio_s: float | None = None
        self.marks: list[tuple[str, int, int]] = []  # (text, first sample, end sample) in the sink
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tts", daemon=True)
        self._thread.start()

    def put(self, text: str, audio=None) -> None:
        """Queue ``text`` to be spoken; ``audio`` when it is already synthesised (thought ahead)."""
        self._queue.put((text, audio, time.monotonic()))

    def close(self) -> None:
        self._queue.put(_END)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self.cancel.is_set():
                continue
            text, ready, queued_at = item
            start = self.sink.queued
            try:
                for audio in ([ready] if ready is not None else self.voice.synthesize(text)):
                    if self.cancel.is_set():
                        break
                    if self.first_audio_s is None:
                        self.first_audio_s = time.monotonic() - queued_at
                    self.sink.write(audio, self.voice.sample_rate)
            except Exception:
                log.exception("could not synthesise %r", text)
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
