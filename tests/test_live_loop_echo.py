"""``barge_in = "auto"`` on open speakers: when the echo gate cannot remove her voice, barge-in
is switched off mid-reply. If her own echo had just paused her ("the user may be talking"),
the switch must resume her: with barge-in off nothing watches the pause any more, and the
reply was left silent until the speaker gave up on it ("stopped playing; dropping the rest of
this reply"), which a loaded machine made likely (tests/test_barge_in.py, ``auto``)."""

from __future__ import annotations

import dataclasses
import threading
from types import SimpleNamespace

from companion.ops.config import Config
from companion.dialogue.reply import Reply
from companion.runtime.live_loop import LiveLoop, _Reply


class Speaker:
    """A sink that has played 4 s of a reply and can be paused."""

    rate = 22050

    def __init__(self):
        self.played = 4 * self.rate
        self.paused = False

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False

    def stop(self):
        self.paused = False


class LeakyRoom:
    """An echo gate that hears her voice and removes only 3 dB of it."""

    echo_present = True
    suppression_db = 3.0


def test_switching_barge_in_off_resumes_a_reply_her_own_echo_had_paused():
    cfg = dataclasses.replace(Config(), conversation=dataclasses.replace(Config().conversation, barge_in="auto",
                                                                          earcons=False))
    speaker = Speaker()
    loop = LiveLoop(cfg, SimpleNamespace(control=None), mic=None, sink=speaker, turn_taker=None, echo=LeakyRoom())
    done = threading.Event()
    reply = _Reply(threading.Thread(target=done.wait, daemon=True), Reply(speaker))
    reply.thread.start()
    try:
        loop._reply = reply
        reply.handle.pause()  # as _watch_barge_in does at the first sign of speech: here, her own echo
        assert speaker.paused
        loop._check_echo()
        assert loop.barge_in is False  # she listens only between replies now...
        assert speaker.paused is False and not reply.handle.paused  # ...and goes on speaking
        assert reply.interrupted is False and not reply.handle.cancelled
    finally:
        done.set()


def test_a_reply_the_speaker_gave_up_on_records_only_what_was_heard(scripted_llm):
    """When the speaker stops taking audio (SpeakerSink.finish gives up and drops the rest), the
    turn keeps what was actually played, as for an interruption, not the whole reply."""
    import numpy as np

    from companion.audio.sinks import NullSink
    from companion.dialogue.conversation import Conversation
    from companion.dialogue.persona import load_persona
    from companion.llm.client import Brain
    from companion.llm.embedded import Endpoint
    from companion.records import Utterance
    from companion.testing.stand_ins import Heard, Silent

    class GivesUp(NullSink):
        """Plays the first piece of the reply, then nothing more."""

        def write(self, audio, rate):
            self.queued += len(audio)
            self.played = self.played or self.queued

    scripted_llm.enqueue("Whales sing to each other. They sing across hundreds of miles. Isn't that wonderful?")
    conv = Conversation(Heard(["Tell me about whales."]), Brain(Config().llm, Endpoint(scripted_llm.base_url, "k", "m")),
                        Silent(), load_persona("samantha"))
    turn = conv.respond(Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7), GivesUp())
    assert turn.interrupted is False
    assert turn.heard_text == "Whales sing to each other."


# -- her own words heard back: the decision the loop makes on the words that paused her -------
class Hears:
    """A turn taker that hears ``voiced_s`` of speech going on, ``after_pause_s`` of it captured
    once she had gone quiet, and can be reset."""

    def __init__(self, voiced_s: float = 0.4, after_pause_s: float = 0.0):
        from companion.hearing.turn_taking import Hearing
        self.now = Hearing(True, voiced_s, 0.0)
        self.after_pause_s = after_pause_s
        self.resets = 0

    def hearing(self):
        return self.now

    def voiced_since(self, t):
        return self.after_pause_s

    def current_audio(self):
        import numpy as np
        return np.zeros(6400, np.float32)

    def reset(self):
        self.resets += 1


def words_heard(text: str):
    from concurrent.futures import Future

    from companion.records import Transcript
    done = Future()
    done.set_result(Transcript(text, "en", 0.1))
    return SimpleNamespace(control=None, check_words=lambda audio: done)


HER = ("The sea is wide and deep and old, and it has carried ships and stories for longer than anyone "
       "remembers, from the first small boats to the great ships of today.")


def loop_hearing(text: str, mode: str = "on", echo=None):
    cfg = dataclasses.replace(Config(), conversation=dataclasses.replace(Config().conversation, barge_in=mode,
                                                                          earcons=False))
    speaker, ears = Speaker(), Hears()
    loop = LiveLoop(cfg, words_heard(text), mic=None, sink=speaker, turn_taker=ears, echo=echo)
    done = threading.Event()
    reply = _Reply(threading.Thread(target=done.wait, daemon=True), Reply(speaker))
    reply.handle.said(HER)
    reply.thread.start()
    loop._reply = reply
    return loop, reply, speaker, ears, done


def test_her_own_words_heard_while_she_speaks_do_not_interrupt_her():
    loop, reply, speaker, ears, done = loop_hearing("the see is wide and deep and old")  # as Whisper heard her
    try:
        loop._watch_barge_in(reply)
        assert reply.interrupted is False and not reply.handle.cancelled and loop.barge_ins == 0
        assert loop.echo_words == 1 and ears.resets == 1  # the echo is dropped, not left to add up to a turn
        assert speaker.paused is False and not reply.handle.held  # she goes on
    finally:
        done.set()


def test_words_asking_her_to_stop_stop_her_at_once():
    for said in ("Wait, what about the mountains?", "Stop.", "Hang on.", "Hold on, I meant the lake."):
        loop, reply, speaker, ears, done = loop_hearing(said)
        try:
            loop._watch_barge_in(reply)
            assert reply.interrupted is True and reply.handle.cancelled and loop.barge_ins == 1, said
            assert loop.echo_words == 0
        finally:
            done.set()


def test_other_words_stop_her_once_they_go_on_while_she_is_quiet():
    """A user talking over her goes on when she pauses: 0.3 s of it heard after her paused
    voice has died away stops her."""
    loop, reply, speaker, ears, done = loop_hearing("What about the mountains?")
    try:
        loop._watch_barge_in(reply)
        assert reply.interrupted is False and reply.handle.held  # paused, listening
        ears.after_pause_s = 0.32
        loop._watch_barge_in(reply)
        assert reply.interrupted is True and reply.handle.cancelled and loop.barge_ins == 1
    finally:
        done.set()


class Headset:
    """An echo gate that finds none of her voice in the microphone."""

    echo_present = False
    suppression_db = None

    def process(self, frame):
        return frame


def test_with_a_headset_other_words_stop_her_at_once():
    """Where her voice does not reach the microphone there is nothing to wait for: a short
    "Why?" stops her as soon as it is read."""
    loop, reply, speaker, ears, done = loop_hearing("Why?", echo=Headset())
    try:
        loop._watch_barge_in(reply)
        assert reply.interrupted is True and reply.handle.cancelled and loop.barge_ins == 1
    finally:
        done.set()


def test_with_a_headset_her_words_said_by_the_user_are_the_users():
    """The gate finds none of her voice in the microphone: words she is saying too are the
    user's ("tell me about" while her reply asks "could you tell me a bit more?")."""
    loop, reply, speaker, ears, done = loop_hearing("the sea is wide and deep", mode="auto", echo=Headset())
    try:
        loop._watch_barge_in(reply)
        loop._check_echo()
        assert reply.interrupted is True and loop.echo_words == 0 and loop.barge_in is True
    finally:
        done.set()


def test_a_sound_that_dies_away_with_her_voice_does_not_stop_her():
    """No echo gate, open speakers: Whisper made other words of 0.3 s of her own echo ("The
    old house" for "The oce-"). That sound stopped when she paused: she goes on, and the words
    are checked again once the sound is longer."""
    from companion.hearing.turn_taking import Hearing
    loop, reply, speaker, ears, done = loop_hearing("The old house")
    try:
        loop._watch_barge_in(reply)
        loop._watch_barge_in(reply)
        assert reply.interrupted is False and reply.handle.held
        ears.now = Hearing(True, 0.4, 0.35)  # quiet since she paused
        loop._watch_barge_in(reply)
        assert reply.interrupted is False and not reply.handle.held and loop.resumed == 1
        assert reply.check is None
        ears.now = Hearing(True, 0.5, 0.0)  # her echo again: too little new sound to read again
        loop._watch_barge_in(reply)
        assert reply.check is None and reply.handle.held
    finally:
        done.set()


def test_auto_takes_her_own_words_heard_back_as_open_speakers():
    """Her words came back twice: the speakers leak, even where the gate's figures look fine
    (or there is no gate): ``auto`` listens only between replies from then on."""
    loop, reply, speaker, ears, done = loop_hearing("carried ships and stories", mode="auto")
    try:
        loop._watch_barge_in(reply)
        loop._check_echo()
        assert loop.barge_in is True  # once may be a fluke
        reply.check = None
        loop._watch_barge_in(reply)
        loop._check_echo()
        assert loop.barge_in is False and reply.interrupted is False
    finally:
        done.set()


class Answers:
    """A conversation that hears ``text`` in any turn and notes the turns it answers."""

    control = None

    def __init__(self, text: str):
        from companion.records import Transcript
        self.heard, self.answered = Transcript(text, "en", 0.1), []

    def listen_ahead(self, utt):
        pass

    def guess(self, wait=False):
        return self.heard

    def respond(self, utt, sink, reply=None):
        self.answered.append(self.heard.text)


def answered_after_her_reply(text: str, began_after_end_s: float, lasted_s: float = 0.5,
                             echo_heard: bool = False) -> list[str]:
    """A turn of ``lasted_s`` heard ``began_after_end_s`` after her last reply ended (negative:
    before); ``echo_heard``: her own words came back during the reply (open speakers)."""
    import time

    import numpy as np

    from companion.records import Utterance
    cfg = dataclasses.replace(Config(), conversation=dataclasses.replace(Config().conversation, barge_in="on",
                                                                          earcons=False))
    conv = Answers(text)
    loop = LiveLoop(cfg, conv, mic=None, sink=Speaker(), turn_taker=Hears())
    ended = time.monotonic()
    loop._said_before = (HER, ended)
    if echo_heard:
        loop._echo_heard_at = ended - 1.0
    start = ended + began_after_end_s
    loop._on_turn(Utterance(np.zeros(int(lasted_s * 16000), np.float32), start, start + lasted_s, start + lasted_s + 0.5))
    loop._reply.thread.join(5)
    return conv.answered


def test_the_echo_of_her_last_words_is_not_answered_as_a_turn():
    assert answered_after_her_reply("from the first small boats to the great ships", -0.4) == []


def test_a_turn_that_overlaps_her_last_words_is_answered_when_it_is_the_users():
    assert answered_after_her_reply("What about the mountains?", -0.4) == ["What about the mountains?"]


def test_on_open_speakers_a_short_sound_that_ends_with_her_voice_is_her_echo_whatever_its_words():
    """No echo gate: Whisper wrote "on light." for the echo of her "...their own light." Her
    words had been coming back during the reply, and the sound ended as her voice did."""
    assert answered_after_her_reply("on light.", -0.4, echo_heard=True) == []
    assert answered_after_her_reply("He", -1.1, lasted_s=1.2, echo_heard=True) == []  # (a tail heard as 1.0 s)
    assert answered_after_her_reply("on light.", -0.4, echo_heard=False) == ["on light."]  # a headset: the user's
    # a user who starts as she ends and talks on past her voice is answered
    assert answered_after_her_reply("What about the lake?", -0.2, lasted_s=1.4, echo_heard=True) == ["What about the lake?"]


def test_her_words_said_back_well_after_her_reply_are_the_users():
    assert answered_after_her_reply("the great ships of today", 5.0) == ["the great ships of today"]


def test_the_turn_that_stopped_her_is_answered_even_when_whisper_hears_her_words_in_it():
    """No echo gate: the user's words overlap her echo, and Whisper may write only hers
    ("Onto Bweards high in the branches" for her "...to birds high in the branches" and the
    user's "Wait, stop..."). The sound already stopped her as the user's: it is not dropped."""
    import time

    import numpy as np

    from companion.records import Utterance
    cfg = dataclasses.replace(Config(), conversation=dataclasses.replace(Config().conversation, barge_in="on",
                                                                          earcons=False))
    conv = Answers("from the first small boats to the great ships")
    loop = LiveLoop(cfg, conv, mic=None, sink=Speaker(), turn_taker=Hears())
    stopped = _Reply(threading.Thread(target=lambda: None, daemon=True), Reply(Speaker()), interrupted=True)
    stopped.handle.said(HER)
    stopped.thread.start()
    stopped.thread.join()
    loop._reply = stopped
    start = time.monotonic() - 1.0
    loop._on_turn(Utterance(np.zeros(8000, np.float32), start, start + 0.5, start + 1.0))
    loop._reply.thread.join(5)
    assert conv.answered == ["from the first small boats to the great ships"]
