"""The live conversation: the microphone is read all the time, and replies run on their own
thread, so she keeps listening while she speaks.

Barge-in works as "pause, then confirm": when speech starts during her reply, playback
pauses at once; if it goes on for ``barge_in_min_ms`` and its words are not a backchannel
nor her own, the reply is cancelled (LLM stream closed, queued audio dropped, history cut at
what was heard); if it stops sooner (a cough, "mm-hm") she resumes where she paused. On open
speakers the echo gate removes her own voice from the microphone first; if it cannot
(``auto`` mode), barge-in is turned off and she listens only between replies. Where her
voice may still reach the microphone (no gate, or her words heard back), words that are not
clearly someone else's must also go on while she is paused: her own echo dies away with her.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..audio.earcons import Earcons
from ..dialogue.reply import Reply
from ..hearing.turn_taking import (TurnTaker, asks_to_stop, ends_in_her_words, is_backchannel, is_own_echo,
                                   someone_else_talks)
from ..records import SAMPLE_RATE, Utterance
from ..ops.logs import Words

log = logging.getLogger(__name__)

ECHO_TAIL_S = 1.0  # a sound that began this soon after her reply ended may still be its echo
ECHO_WORDS_FOR_LEAK = 2  # ``auto``: her own words heard back this often means open speakers that leak
LEAKY_FOR_S = 30.0  # after her own words came back, sounds are checked before they pause her, this long
ECHO_PATH_S = 0.15  # from her speaker into the microphone (room, loopback), and the jitter of block stamps
ECHO_CONTEXT_S = 1.5  # while her echo is about, words are read from at least this much of the latest sound

HEADSET_WORDS = ("headset", "headphone", "earbud", "earphone", "airpods", "buds", "jabra", "plantronics", "poly ",
                 "bose", "sennheiser", "bluez", "bluetooth", "hands-free", "handsfree", "hfp", "a2dp", "wh-1000", "wf-1000")


def looks_like_headset(device_name: str) -> bool:
    name = device_name.lower()
    return any(w in name for w in HEADSET_WORDS)


@dataclass
class _Reply:
    """The reply in flight as the loop sees it: its thread, its handle, and the barge-in watch."""

    thread: threading.Thread
    handle: Reply
    interrupted: bool = False  # the loop stopped it (it may have been DONE already, still storing)
    check: object | None = None  # transcription of the sound that paused her (a Future)
    tolerated: bool = False  # that sound was a backchannel: let it be
    checked_s: float = 0.0  # the sound's voiced seconds when its words were last checked
    held_at: float | None = None  # when the loop paused her for the sound (None: she is playing)

    @property
    def active(self) -> bool:
        return self.thread.is_alive()



class LiveLoop:
    def __init__(self, cfg, conversation, mic, sink, turn_taker: TurnTaker, echo=None, announcer=None,
                 output_name: str = "", push_to_talk=None, devices=None, earcons: Earcons | None = None,
                 after_turn: Callable[[], None] | None = None):
        self.cfg = cfg.conversation
        self.conv, self.mic, self.sink, self.turns, self.echo = conversation, mic, sink, turn_taker, echo
        self.announcer = announcer
        self.ptt = push_to_talk  # a push_to_talk.TalkGate: only what is said while talking is heard
        self.devices = devices  # an audio.rescan.DeviceRescan: finds a missing named device again
        self.earcons = earcons  # "listening" at the start, "thinking" when a reply is slow to start
        self.after_turn = after_turn  # called on the reply's thread after each turn (the status file)
        mode = self.cfg.barge_in
        self.barge_in = mode in ("on", "auto") or (mode == "headset" and looks_like_headset(output_name))
        self._stop = threading.Event()
        self._reply: _Reply | None = None
        self.barge_ins = 0
        self.resumed = 0
        self.echo_words = 0  # sounds heard while she spoke whose words were her own
        self._echo_heard_at = float("-inf")
        self._echo_seen_at = float("-inf")  # when the echo gate last found her voice in the microphone
        self._said_before = ("", float("-inf"))  # the last reply's text, and when it ended
        self._last_stopped = False  # the last reply was stopped by a sound: the turn it becomes is the user's
        self._recent: collections.deque[np.ndarray] = collections.deque()  # the latest ECHO_CONTEXT_S heard
        self._recent_len = 0
        log.info("barge-in %s (mode %s, output %r)", "on" if self.barge_in else "off", mode, output_name)

    # -- control -----------------------------------------------------------------------------
    def stop(self) -> None:
        """End the loop and the reply in flight. Called from another thread (``graceful_stop``'s,
        never from the signal handler itself): it takes the sink's and the reply's locks."""
        self._stop.set()
        reply = self._reply
        if reply is not None:
            reply.handle.cancel()
        self.mic.stop()
        self.sink.stop()  # and whatever else is playing (a reminder said between turns)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        if self.earcons:
            self.earcons.play("listening", self.sink)
        if self.announcer is not None:
            self.announcer.at_start(self.mic)
        if self.ptt is not None:
            self.ptt.reset()  # presses made before she listened do not count
        for frame in self.mic:
            if self._stop.is_set():
                break
            reply = self._reply if self._reply is not None and self._reply.active else None
            if reply is None and self._reply is not None:
                self._reply_finished()
            if self.echo is not None:
                frame = self.echo.process(frame)
                if self.echo.echo_present:
                    self._echo_seen_at = time.monotonic()
            self._remember(frame.audio)
            if self.ptt is not None:
                self._push_to_talk(frame)
                if not self.ptt.talking:
                    if reply is None:
                        self._between_turns()
                    continue  # the key is up: nothing reaches the endpointer
            elif reply is not None and not self.barge_in:
                continue  # half-duplex: her own voice must not become a turn
            for utt in self.turns.feed(frame):
                self._on_turn(utt)
            if reply is not None:
                self._watch_barge_in(reply)
            elif self.ptt is None:  # (while talking with the key, nothing is said in a gap)
                self._between_turns()
            self._check_echo()
        self._finish()

    def _on_turn(self, utt: Utterance) -> None:
        reply = self._reply
        if reply is not None and reply.active and not reply.interrupted:
            log.info("ignored %.2fs of sound while speaking (too short to interrupt)", utt.duration)
            self._resume(reply)
            return
        if reply is not None:
            reply.thread.join()
            self._reply_finished()
        log.info("heard %.1fs of speech", utt.duration)
        said, ended = self._said_before
        barged = self._last_stopped  # this sound stopped her: it is the user's
        self._last_stopped = False
        self._start_reply(utt, echo_of=said if utt.speech_start < ended + ECHO_TAIL_S and not barged else "", ended=ended)

    def _start_reply(self, utt: Utterance, echo_of: str = "", ended: float = float("-inf")) -> None:
        handle = Reply(self.sink)  # cancelling drops its queued audio at once, whatever the reply is doing
        self._recent.clear()  # the words of a sound heard while she speaks are read back to this turn's end, no further
        self._recent_len = 0

        def work():
            try:
                if echo_of and self._only_her_echo(utt, echo_of, ended):
                    return
                self.conv.respond(utt, self.sink, reply=handle)
                if self.after_turn is not None:
                    self.after_turn()
            except Exception:  # a failed turn must never end the conversation
                log.exception("the reply failed")

        thread = threading.Thread(target=work, name="reply", daemon=True)
        self._reply = _Reply(thread, handle)
        thread.start()
        if self.earcons:
            self.earcons.arm_thinking(self.sink, self.cfg.thinking_after_s, handle)

    def _between_turns(self) -> None:
        """Nobody is speaking: say what is due, look again for a missing device."""
        if self.announcer is not None:
            self.announcer.tick(self.mic, self.turns)
        if self.devices is not None and self._reply is None and not self.turns.in_speech:
            self.devices.tick()

    def _push_to_talk(self, frame) -> None:
        """Apply the key's edges up to this frame: a press stops her and opens a turn that
        silence does not end; the end of talking ends the turn at once."""
        for edge in self.ptt.take(frame.t):
            if edge.talking:
                reply = self._reply
                if reply is not None and reply.active and not reply.interrupted:
                    self._interrupt(reply, "push-to-talk pressed")
                self.turns.hold_open()
                log.info("push-to-talk: listening")
                continue
            utts = self.turns.end_turn()
            log.info("push-to-talk: turn over%s", "" if utts else " (no speech heard)")
            for utt in utts:
                self._on_turn(utt)

    def _only_her_echo(self, utt: Utterance, said: str, ended: float) -> bool:
        """A turn that began while she was speaking and holds only her own words: the tail of
        her reply, come back through the microphone. Its transcription is the turn's own.
        Where her words have been coming back (open speakers), a sound that also ended as
        her voice did is her echo whatever Whisper made of it ("on light." for "...own light.")."""
        self.conv.listen_ahead(utt)  # respond() reuses it when this is a real turn
        heard = self.conv.guess(wait=True)
        if heard is None:
            return False
        if is_own_echo(heard.text, said):
            self.echo_words += 1
            log.info("ignored %r: her own words, heard back after her reply", Words(heard.text))
            return True
        leaky = time.monotonic() - self._echo_heard_at < LEAKY_FOR_S
        if leaky and utt.duration <= ECHO_CONTEXT_S and utt.speech_end <= ended + self._echo_reach():
            log.info("ignored %r: it ended with her voice (her echo, open speakers)", Words(heard.text))
            return True
        return False

    def _reply_finished(self) -> None:
        if self._reply is not None:
            self._said_before = (self._reply.handle.text, time.monotonic())
            self._last_stopped = self._reply.interrupted
        self._reply = None
        if not self.barge_in and not (self.ptt is not None and self.ptt.talking):
            # half-duplex: what the mic heard while she spoke was her own voice, not a turn
            self.mic.drain()
            self.turns.reset()

    # -- barge-in ----------------------------------------------------------------------------
    def _watch_barge_in(self, reply: _Reply) -> None:
        """Pause at the first sign of speech; after ``barge_in_min_ms`` of it, check the words:
        a backchannel ("mm-hm", "yeah") lets her go on, her own words (echo) too; words asking
        her to stop ("wait", "stop", "no...") or another voice's stop her. Other words stop her
        at once where her voice does not reach the microphone (a headset); where it may (open
        speakers, no echo gate), once ``barge_in_min_ms`` of the sound has been heard while she
        was quiet: her own voice dies away when she pauses (Whisper makes other words of a
        short piece of it: "The old house" for "The oce-"), a user goes on talking. Speech that
        goes on a second longer stops her whatever its words.

        Once her own words have come back (open speakers), every echo would pause her: for a
        while she then goes on speaking until the words are known, and pauses only for words
        that are not hers, to see whether they go on without her."""
        if reply.interrupted:
            return
        leaky = time.monotonic() - self._echo_heard_at < LEAKY_FOR_S
        ep = self.turns.hearing()
        if not ep.in_speech or ep.silence_s * 1000 >= self.cfg.barge_in_resume_ms:  # quiet (again)
            if not ep.in_speech:
                reply.tolerated, reply.check, reply.checked_s = False, None, 0.0
            elif reply.check is not None and reply.check.done():
                reply.check = None  # it stopped (with her, if it was her echo): check it again once it is longer
            self._resume(reply)
            return
        min_ms = self.cfg.barge_in_min_ms
        doubt = self._may_hear_herself(leaky)
        if reply.tolerated:  # a backchannel: only speech that goes on a second more stops her
            if ep.voiced_s * 1000 >= min_ms + 1000:
                if doubt:
                    self._hold(reply)
                if not doubt or self._heard_while_held(reply) * 1000 >= min_ms:
                    self._interrupt(reply, "speech went on")
            return
        if not leaky:
            self._hold(reply)
        if reply.check is None:
            if (ep.voiced_s - reply.checked_s) * 1000 < min_ms:
                return
            reply.check, reply.checked_s = self.conv.check_words(self._sound_to_check(leaky, doubt)), ep.voiced_s
        went_on_ms = self._heard_while_held(reply) * 1000 if doubt else ep.voiced_s * 1000
        if not reply.check.done():
            if went_on_ms >= min_ms + 1000:
                self._interrupt(reply, "speech went on")
            return
        text = reply.check.result().text
        her = self._her_words(reply)
        if is_backchannel(text) and leaky:  # her echo goes on around it: let it not add up to "went on"
            self.turns.reset()
            reply.check, reply.checked_s = None, 0.0
        elif is_backchannel(text):
            reply.tolerated = True
            log.info("heard %r while speaking: going on", Words(text))
            self._resume(reply)
        elif asks_to_stop(text, her) or someone_else_talks(text, her):
            self._interrupt(reply, repr(text))
        elif doubt and is_own_echo(text, her) and (not leaky or ends_in_her_words(text, her)):
            self._heard_herself(reply, text)
        elif not doubt:
            self._interrupt(reply, repr(text))
        elif reply.held_at is None:
            self._hold(reply)  # not her words, but her voice is about: does the sound go on while she is quiet?
        elif went_on_ms >= min_ms:
            self._interrupt(reply, repr(text))

    def _may_hear_herself(self, leaky: bool) -> bool:
        """Could the sound be her own voice? Yes with no echo gate, when her words came back
        lately, or when the gate found her voice in the microphone lately (open speakers);
        no with a headset, where the gate finds none: there the user's words are the user's
        even when she says them too ("Tell me about..." while her reply asks "Could you tell
        me a bit more?" made a headset run take them for her echo and turn barge-in off)."""
        if leaky or self.echo is None or self.echo.echo_present:
            return True
        return time.monotonic() - self._echo_seen_at < LEAKY_FOR_S

    def _remember(self, audio: np.ndarray) -> None:
        self._recent.append(audio)
        self._recent_len += len(audio)
        while self._recent_len - len(self._recent[0]) >= ECHO_CONTEXT_S * SAMPLE_RATE:
            self._recent_len -= len(self._recent.popleft())

    def _sound_to_check(self, leaky: bool, doubt: bool) -> np.ndarray:
        """The sound whose words decide: the one being heard. Where her voice may be in it,
        its latest ECHO_CONTEXT_S (a sound her echo keeps going grows to the 30 s limit, and
        the words of the newest part decide); while her echo is about, with the sound just
        before it, up to ECHO_CONTEXT_S (Whisper makes other words of half a second of her
        echo, "Browns.com", "Why?", and reads her own words in a longer piece)."""
        audio = self.turns.current_audio()
        window = int(ECHO_CONTEXT_S * SAMPLE_RATE)
        if not doubt:
            return audio
        if len(audio) >= window or not leaky or not self._recent:
            return audio[-window:]
        return np.concatenate(self._recent)[-window:]

    def _hold(self, reply: _Reply) -> None:
        """Pause her (the user may be talking), noting when her voice began to die away (a
        reply that is over, or has nothing to play, is as quiet from now as a paused one)."""
        if reply.held_at is not None:
            return
        if reply.handle.pause():
            log.debug("paused: the user may be talking")
        reply.held_at = time.monotonic()

    def _heard_while_held(self, reply: _Reply) -> float:
        """Seconds of the sound captured since her paused voice could still reach the microphone."""
        if reply.held_at is None:
            return 0.0
        return self.turns.voiced_since(reply.held_at + self._echo_reach())

    def _echo_reach(self) -> float:
        """How long her voice can still reach the microphone after the speaker is given no more:
        the speaker's buffer plays out, the room (or a loopback) carries it, and the
        microphone's buffer holds it a while before the loop reads it."""
        return sum(float(getattr(part, "latency_s", 0.0) or 0.0) for part in (self.sink, self.mic)) + ECHO_PATH_S

    def _her_words(self, reply: _Reply) -> str:
        """What she is saying, and what she said just before (its echo may still be arriving)."""
        said, ended = self._said_before
        recent = said if time.monotonic() - ended < ECHO_TAIL_S + 2 else ""
        return f"{recent} {reply.handle.text}".strip()

    def _heard_herself(self, reply: _Reply, text: str) -> None:
        """The words that paused her were her own, leaking from the speaker into the microphone:
        not an interruption. The sound is dropped (it must not add up to "speech went on", nor
        become a turn), she goes on, and ``auto`` counts it as a sign of open speakers."""
        self.echo_words += 1
        self._echo_heard_at = time.monotonic()
        log.info("heard her own words %r while speaking (echo): going on", Words(text))
        self.turns.reset()
        reply.check, reply.checked_s, reply.tolerated = None, 0.0, False
        self._resume(reply)

    def _interrupt(self, reply: _Reply, why: str) -> None:
        reply.interrupted = True
        reply.handle.cancel()
        self.barge_ins += 1
        log.info("barge-in (%s): stopped speaking", why)

    def _resume(self, reply: _Reply) -> None:
        """Let go of a pause, if the reply is held."""
        reply.held_at = None
        if reply.handle.resume():
            self.resumed += 1
            log.info("resumed: the sound was too short to be an interruption")

    def _check_echo(self) -> None:
        """``auto``: when her voice reaches the mic and the gate cannot remove it well
        enough, stop listening while she speaks rather than interrupt herself."""
        if self.cfg.barge_in != "auto" or not self.barge_in:
            return
        if self.echo_words >= ECHO_WORDS_FOR_LEAK:
            why = f"her own words came back {self.echo_words} times"
        elif self.echo is None:
            return
        else:
            db = self.echo.suppression_db
            if not (self.echo.echo_present and db is not None and db < 10 and self.sink.played > 3 * (self.sink.rate or 1)):
                return
            why = f"cannot be removed ({db:.1f} dB)"
        self.barge_in = False
        reply = self._reply
        if reply is not None:  # paused by her own echo? nothing would resume it now
            self._resume(reply)
        log.warning("her own voice reaches the microphone and %s: barge-in is off; use a headset to interrupt her", why)

    def _finish(self) -> None:
        reply = self._reply
        if reply is not None:
            reply.handle.cancel()
            reply.thread.join(timeout=2)
