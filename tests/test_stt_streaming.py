"""A turn streamed to a recogniser while the user speaks (``contracts.StreamingRecognizer``):
the audio leaves as it is heard, only the rest is sent at the pause, the words are those of the
whole turn, and a server failing part-way still leaves the whole turn to be heard here. The
endpointer runs on a stand-in VAD (loud is speech), so these need no model."""

from __future__ import annotations

import numpy as np

from companion.fallback import FallbackRecognizer
from companion.hearing.endpointer import CHUNK, EndpointSettings, Endpointer
from companion.hearing.turn_taking import TurnTaker
from companion.ops.config import VADConfig
from companion.records import Frame, Transcript
from companion.remote import RemoteError
from companion.stt.speculative import SpeculativeTranscriber
from companion.testing.stand_ins import TranscriberOnly

RATE = 16000


class LoudIsSpeech:
    def reset(self):
        pass

    def prob(self, chunk):
        return 1.0 if float(np.sqrt(np.mean(chunk ** 2))) > 0.05 else 0.0


def tone(seconds, seed):
    rng = np.random.default_rng(seed)  # different audio every turn: a turn is told by its samples
    return (0.3 * np.sin(np.arange(int(seconds * RATE)) * 0.07) + 0.01 * rng.standard_normal(int(seconds * RATE))
            ).astype(np.float32)


def silence(seconds):
    return np.zeros(int(seconds * RATE), np.float32)


class Stream:
    def __init__(self, owner):
        self.owner, self.audio, self.done = owner, [], False

    def feed(self, audio):
        if self.owner.fail_after is not None and sum(map(len, self.audio)) >= self.owner.fail_after:
            raise RemoteError("the server went away")
        self.audio.append(audio.copy())

    def finish(self):
        self.done = True
        heard = np.concatenate(self.audio)
        self.owner.finished.append(heard)
        return Transcript(f"{len(heard)} samples.", "en", 0.01)

    def close(self):
        self.owner.closed += 1


class StreamingStandIn:
    """A recogniser that streams, and says how many samples it was given."""

    name = "streaming stand-in"

    def __init__(self, fail_after=None):
        self.streams, self.finished, self.whole, self.closed, self.fail_after = [], [], [], 0, fail_after

    def open_stream(self):
        self.streams.append(Stream(self))
        return self.streams[-1]

    def transcribe(self, audio):
        self.whole.append(audio)
        return Transcript(f"{len(audio)} samples.", "en", 0.01)

    def warm_up(self):
        pass

    def set_hints(self, names):
        pass


def run(recognizer, audio, check_at=None, check=lambda: None):
    """Feed ``audio`` in 20 ms frames; at ``check_at`` seconds (the worker drained) call ``check``.
    Returns the final utterances and their transcripts."""
    stt = SpeculativeTranscriber(recognizer)
    taker = TurnTaker(Endpointer(EndpointSettings(speculate_ms=150), vad=LoudIsSpeech()), TranscriberOnly(stt),
                      VADConfig(), wait_for_guess=True)
    out, step = [], 320
    for i in range(0, len(audio), step):
        for utt in taker.feed(Frame(audio[i:i + step], i / RATE)):
            out.append((utt, stt.transcribe(utt.audio)))
        if check_at is not None and i <= check_at * RATE < i + step:
            stt._worker.submit(lambda: None).result()
            check()
    for utt in taker.endpointer.flush():
        out.append((utt, stt.transcribe(utt.audio)))
    return out


def test_the_turn_is_sent_while_it_is_spoken_and_only_the_rest_at_the_pause():
    rec = StreamingStandIn()
    audio = np.concatenate([silence(0.5), tone(2.0, 1), silence(2.5)])
    sent_by_mid_speech = []
    (utt, heard), = run(rec, audio, check_at=2.0, check=lambda: sent_by_mid_speech.append(
        sum(len(a) for s in rec.streams for a in s.audio)))
    assert sent_by_mid_speech[0] >= 1.5 * RATE  # most of the turn was sent while it was being spoken
    assert len(rec.streams) == 1 and not rec.whole  # one stream, and no whole-turn upload
    assert np.array_equal(rec.finished[0], utt.audio)  # exactly the turn's audio, once
    assert heard.text == f"{len(utt.audio)} samples."


def test_going_on_after_a_pause_opens_a_new_stream_with_the_whole_turn():
    rec = StreamingStandIn()
    audio = np.concatenate([silence(0.3), tone(1.0, 2), silence(0.4), tone(1.0, 3), silence(2.5)])
    (utt, heard), = run(rec, audio)
    assert len(rec.streams) == 2 and not rec.whole  # the first pause finished one; going on opened another
    assert len(rec.finished[0]) < len(utt.audio)
    assert np.array_equal(rec.finished[-1], utt.audio)  # the second has the whole turn, from its start
    assert heard.text == f"{len(utt.audio)} samples."


def test_two_turns_each_get_their_own_stream():
    rec = StreamingStandIn()
    audio = np.concatenate([silence(0.3), tone(1.0, 4), silence(2.5), tone(1.2, 5), silence(2.5)])
    turns = run(rec, audio)
    assert len(turns) == 2 and len(rec.finished) == 2
    for (utt, heard), sent in zip(turns, rec.finished):
        assert np.array_equal(sent, utt.audio) and heard.text == f"{len(utt.audio)} samples."


def test_a_recogniser_that_does_not_stream_gets_whole_turns():
    class Whole(StreamingStandIn):
        open_stream = None  # not a StreamingRecognizer

    rec = Whole()
    assert not SpeculativeTranscriber(rec).streams
    (utt, heard), = run(rec, np.concatenate([silence(0.3), tone(1.0, 6), silence(2.5)]))
    assert len(rec.whole) == 1 and np.array_equal(rec.whole[0], utt.audio)


def test_a_server_failing_mid_stream_leaves_the_whole_turn_to_the_local_model():
    remote, local = StreamingStandIn(fail_after=RATE // 2), StreamingStandIn()
    fallback = FallbackRecognizer(remote, local)
    told = []
    fallback.outage.on_down = lambda stage, has_local: told.append(stage)
    (utt, heard), = run(fallback, np.concatenate([silence(0.3), tone(1.5, 7), silence(2.5)]))
    assert len(local.whole) == 1 and np.array_equal(local.whole[0], utt.audio)  # nothing lost
    assert heard.text == f"{len(utt.audio)} samples."
    assert told == ["speech recognition"] and remote.closed == 1
    # the next turn, while the server is held down, is heard here at once without a stream to it
    (utt2, heard2), = run(fallback, np.concatenate([silence(0.3), tone(1.0, 8), silence(2.5)]))
    assert len(remote.streams) == 1 and np.array_equal(local.whole[1], utt2.audio)
    assert told == ["speech recognition"]


def test_a_fallback_streams_only_when_its_server_does():
    class Whole(StreamingStandIn):
        open_stream = None

    assert SpeculativeTranscriber(FallbackRecognizer(StreamingStandIn(), None)).streams
    assert not SpeculativeTranscriber(FallbackRecognizer(Whole(), None)).streams


def test_settled_audio_is_a_growing_prefix_of_the_utterance():
    ep = Endpointer(EndpointSettings(speculate_ms=0), vad=LoudIsSpeech())
    audio = np.concatenate([silence(0.3), tone(0.5, 9), silence(0.3), tone(0.5, 10), silence(1.0)])
    seen, final = [], None
    for i in range(0, len(audio), CHUNK):
        for utt in ep.push(Frame(audio[i:i + CHUNK], i / RATE)):
            final = utt
        if ep.in_speech:
            seen.append(np.concatenate(ep.settled()))
    assert all(len(a) <= len(b) for a, b in zip(seen, seen[1:]))
    assert all(np.array_equal(s, final.audio[:len(s)]) for s in seen)
    assert len(seen[-1]) == len(final.audio)
