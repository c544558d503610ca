"""Deciding when the user has finished, from sound and words together.

A fixed silence either cuts slow speakers off (too short) or makes every answer late (too
long). At the user's first pause the turn is transcribed speculatively (see ``stt.py``);
once that text is ready it sets how much more silence ends *this* turn: little after a
finished sentence, more after "and", "so", "um" or a trailing comma, where people pause to
think and go on.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

import numpy as np

from .endpointer import Endpointer
from ..records import Frame, Transcript, Utterance

# Words a finished thought rarely ends on: a pause after them is a pause to think.
HANGING = frozenset("""
and or but so because cause if than as like um uh er erm hmm ah well also plus anyway actually basically
i i'm i'd i'll we they he she the a an my your our their to of in on at for with from by into
""".split())  # words that also end sentences ("it", "you", "that", "do") are left out on purpose
_LAST_WORD = re.compile(r"([a-z']+)[^a-z']*$")


BACKCHANNEL = frozenset("""
mm mmm hm hmm mhm mm-hm mm-hmm uh-huh uh huh yeah yes yep yup ok okay right sure oh ah aha wow nice cool
i see gotcha alright
""".split())


def is_backchannel(text: str) -> bool:
    """True for listener noises ("mm-hm", "yeah", "right", a cough Whisper leaves empty)
    that acknowledge her rather than interrupt her."""
    found = re.findall(r"[a-z'-]+", text.lower())
    return len(found) <= 3 and all(w.strip("-") in BACKCHANNEL or _HUM.match(w) for w in found)


_HUM = re.compile(r"^[mhau-]{1,6}$")  # how Whisper spells a hum: "mm", "hmm", "mma", "uh-huh"


# Words of a user who wants her to stop: alone (or in two), they are never her echo, even
# when her own reply holds them ("...the bus stop", "wait and see").
STOPPING = frozenset("stop wait no nope hold hang pause quiet enough shush shut excuse sorry hey samantha".split())
_NUMBERS = dict(zip("0 1 2 3 4 5 6 7 8 9 10 11 12".split(),
                    "zero one two three four five six seven eight nine ten eleven twelve".split()))


# Words that ask her to stop at once, however short, inside her echo too. Fewer than STOPPING:
# Whisper makes "no", "hey", "sorry" or "Samantha" of a garbled piece of her own voice
# ("Samantha, so make the..." for "...sunlight feeds plants that make the...").
HALTING = frozenset("stop wait pause quiet shush enough".split())


def asks_to_stop(heard: str, said: str) -> bool:
    """``heard`` (sound picked up while she spoke) holds a word asking her to stop ("wait",
    "stop", "hold on", "hang on") that she is not saying herself: it stops her however short
    it is, and inside her own echo too ("...high in the brand stop")."""
    mine, words = set(_echo_words(said)), _echo_words(heard)
    asked = [w for w, after in zip(words, [*words[1:], ""]) if w in HALTING or (w in ("hold", "hang") and after == "on")]
    return any(not any(_misheard_as(w, m) for m in mine) for w in asked)


def _misheard_as(stop_word: str, hers: str) -> bool:
    """How close a heard stop word must be to a word of hers to be hers: the same word, or
    one letter changed in a longer one ("wait" for "want"). Looser likeness would take
    "hang" for "and" and "hold" for "old", and she would never stop for them."""
    return stop_word == hers or (len(hers) >= 4 and _one_letter_changed(stop_word, hers))


def _one_letter_changed(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


def someone_else_talks(heard: str, said: str, run: int = 4) -> bool:
    """``run`` heard words in a row that are none of hers: another voice, not a garbled piece
    of her echo (Whisper makes at most two or three odd words of that: "Thomas, some might
    feed plants" for "surface, sunlight feeds plants")."""
    mine, streak = _echo_words(said), []
    for w in _echo_words(heard):
        streak = [] if any(_sounds_alike(w, m) for m in mine) else [*streak, w]
        if len({w for w in streak if len(w) > 1}) >= run:  # ("The O-O-O-O-O" is one sound, not four words)
            return True
    return False


def ends_in_her_words(heard: str, said: str) -> bool:
    """The newest word heard is one of hers. Checked over the last second and a half of
    sound while her echo is about, the user's first words are the end of it: two of them
    after her own would still pass :func:`is_own_echo`."""
    words = _echo_words(heard)
    return bool(words) and any(_sounds_alike(words[-1], m) for m in _echo_words(said))


def _echo_words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return [_NUMBERS.get(w, w.replace("'", "")) for w in words]


def _sounds_alike(heard: str, said: str) -> bool:
    """Whisper's spelling of a word of hers: the word, a near miss ("see" for "sea", "ocean's"
    for "oceans") or a word cut at the edge of the sound ("wonder" for "wonderful")."""
    if heard == said:
        return True
    if min(len(heard), len(said)) < 3:
        return False
    if len(heard) >= 4 and (said.startswith(heard) or said.endswith(heard)):
        return True
    if _one_letter_changed(heard, said):
        return True
    return SequenceMatcher(None, heard, said).ratio() >= 0.75


def is_own_echo(heard: str, said: str) -> bool:
    """True when ``heard`` (a transcript of sound the microphone picked up while she spoke) is
    her own voice coming back: words of ``said`` (what she is saying or has just said) in her
    order, allowing Whisper's mistakes (near misses, a word dropped or cut). A user who talks
    over her with other words ("wait", "no, I meant...", a question about what she says)
    shares single words with her at most, rarely her word pairs: half the heard pairs of
    neighbouring words or more must be two words of hers at most two apart, and no three
    heard words in a row may be outside such pairs."""
    h, s = _echo_words(heard), _echo_words(said)
    if not h or not s:
        return False
    if len(h) <= 2 and any(w in STOPPING for w in h):
        return False
    alike = [[j for j, w in enumerate(s) if _sounds_alike(word, w)] for word in h]
    if len(h) == 1:
        return len(h[0]) >= 3 and bool(alike[0])
    paired = [any(0 < b - a <= 2 for a in first for b in second) for first, second in zip(alike, alike[1:])]
    if sum(paired) < (len(h) - 1) / 2:
        return False
    # three words in a row that are no pair of hers: someone else is talking ("... tell me more")
    mine = [left or right for left, right in zip([False, *paired], [*paired, False])]
    return "---" not in "".join("+" if m else "-" for m in mine)


def end_silence_for(text: str, default_ms: int, short_ms: int, long_ms: int) -> int:
    """Silence (ms) that should end a turn whose words so far are ``text``."""
    t = text.strip().lower()
    if not t:
        return default_ms
    m = _LAST_WORD.search(t)
    if t.endswith((",", "...", "…", "-", "—", ":")) or (m and m.group(1) in HANGING):
        return long_ms
    if t.endswith((".", "?", "!")):
        return short_ms
    return default_ms


class Listener(Protocol):
    """Whoever answers the turns (``dialogue.conversation.Conversation``), as the turn taker
    sees it while the user speaks."""

    def listen_ahead(self, utt: Utterance) -> None:
        """A tentative turn (the user paused): start transcribing it."""

    def guess(self, wait: bool = False) -> Transcript | None:
        """That transcription, once it is done (at once with ``wait``)."""

    def ready_prompt(self) -> None:
        """The user started speaking."""

    def hear(self, settled: list[np.ndarray]) -> None:
        """The turn so far, as far as it is certain (``Endpointer.settled``), to stream to the
        recogniser (optional: a listener without it gets whole turns only)."""

    def think_ahead(self, guess: Transcript) -> None:
        """The paused turn's words are known: a reply may start."""

    def drop_thought(self) -> None:
        """The user went on after the pause."""


@dataclass(frozen=True)
class Hearing:
    """The user's voice right now, for barge-in: speaking, for how long, and how long quiet."""

    in_speech: bool
    voiced_s: float
    silence_s: float


class TurnTaker:
    """The endpointer plus listening ahead: feed frames, get confirmed turns.

    Tentative turns start a transcription; when it is ready, the silence that ends the turn
    is adjusted from its words. ``wait_for_guess`` (replay) waits for that transcription
    instead of racing it, so faster-than-real-time input behaves as it would live.
    """

    def __init__(self, endpointer: Endpointer, listener: Listener, vad_cfg, wait_for_guess: bool = False):
        self.endpointer, self.listener, self.vad = endpointer, listener, vad_cfg
        self.wait_for_guess = wait_for_guess
        self._guess_pending = False
        self._hear = getattr(listener, "hear", None)

    def feed(self, frame: Frame) -> list[Utterance]:
        confirmed = []
        was_speaking = self.endpointer.in_speech
        for utt in self.endpointer.push(frame):
            if utt.final:
                self._guess_pending = False
                confirmed.append(utt)
            else:
                self.listener.listen_ahead(utt)
                self._guess_pending = True
                # hold the turn open until its words are read: closing it sooner saves nothing (the
                # reply needs the same transcription) and would cut off a pause after "and" on a busy CPU
                self.endpointer.set_end_silence(max(self.vad.end_silence_ms, self.vad.end_silence_long_ms))
                if self.wait_for_guess:
                    self.listener.guess(wait=True)
        if self.endpointer.in_speech and not was_speaking:
            self.listener.ready_prompt()  # the user started: the LLM can read what does not depend on the words
        if self.endpointer.in_speech and self._hear is not None:
            self._hear(self.endpointer.settled())  # a server recogniser takes the audio as it comes
        if self._guess_pending and self.endpointer.in_speech:
            self._adjust()
        elif self.endpointer.in_speech and self.endpointer.silence_s * 1000 < self.vad.speculate_ms:
            self.listener.drop_thought()  # the user went on: the reply made ahead is for unfinished words
        return confirmed

    def _adjust(self) -> None:
        guess = self.listener.guess()
        if guess is None:
            return
        self._guess_pending = False
        if self.endpointer.silence_s * 1000 < self.vad.speculate_ms:  # the user already went on
            return
        self.endpointer.set_end_silence(end_silence_for(guess.text, self.vad.end_silence_ms,
                                                        self.vad.end_silence_short_ms, self.vad.end_silence_long_ms))
        self.listener.think_ahead(guess)  # the reply can start now; the confirmed turn takes it over

    def turns(self, frames: Iterable[Frame]) -> Iterator[Utterance]:
        for frame in frames:
            yield from self.feed(frame)
        yield from self.endpointer.flush()

    @property
    def in_speech(self) -> bool:
        return self.endpointer.in_speech

    def reset(self) -> None:
        self.endpointer.reset()
        self._guess_pending = False
        self.listener.drop_thought()

    # -- for the live loop: barge-in and push-to-talk ---------------------------------------------
    def hearing(self) -> Hearing:
        ep = self.endpointer
        return Hearing(ep.in_speech, ep.voiced_s, ep.silence_s)

    def voiced_since(self, t: float) -> float:
        """Seconds of speech in the turn being spoken captured at or after source time ``t``."""
        return self.endpointer.voiced_since(t)

    def current_audio(self) -> np.ndarray:
        """The speech heard so far in the turn being spoken."""
        return self.endpointer.current_audio()

    def hold_open(self) -> None:
        """Push-to-talk pressed: start afresh, and let no silence end the turn."""
        self.reset()
        self.endpointer.keep_open = True

    def end_turn(self) -> list[Utterance]:
        """Push-to-talk released: the turn ends now, whatever the silence."""
        self.endpointer.keep_open = False
        utts = self.endpointer.flush()
        self.reset()
        return utts
