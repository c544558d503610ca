"""The endpointer on real speech: where turns start and end, and what is not a turn."""

import numpy as np
import pytest
from faster_whisper.vad import SileroVADModel

from companion.audio.files import read_audio
from companion.audio.sources import array_frames
from companion.hearing.endpointer import CHUNK, EndpointSettings, Endpointer, StreamingVAD, silero_model_path
from companion.records import SAMPLE_RATE

from companion.testing.checks import words

def silence(seconds):
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def test_streaming_vad_matches_batch_model(speech):
    """State carried chunk by chunk gives the same probabilities as the whole-file model."""
    audio = read_audio(speech("The quick brown fox jumps over the lazy dog."))
    audio = audio[: len(audio) // CHUNK * CHUNK]
    batch = SileroVADModel(silero_model_path())(audio).reshape(-1)
    vad = StreamingVAD()
    streamed = np.array([vad.prob(audio[i:i + CHUNK]) for i in range(0, len(audio), CHUNK)])
    assert streamed.max() > 0.9
    np.testing.assert_allclose(streamed, batch, atol=1e-4)


def test_one_turn_with_timings_and_preroll(speech, transcriber):
    speech_audio = read_audio(speech("Could you tell me a short story about the sea?", lead_s=0))
    stream = np.concatenate([silence(1.0), speech_audio, silence(1.5)])
    ep = Endpointer(EndpointSettings(end_silence_ms=600, preroll_ms=300))
    utts = list(ep.utterances(array_frames(stream, block=480, t0=10.0)))
    assert len(utts) == 1
    u = utts[0]
    assert 10.9 <= u.speech_start <= 11.3
    true_end = 10.0 + 1.0 + len(speech_audio) / SAMPLE_RATE
    assert abs(u.speech_end - true_end) < 0.25
    assert 0.55 <= u.decided_at - u.speech_end <= 0.7
    assert u.duration >= len(speech_audio) / SAMPLE_RATE - 0.3  # pre-roll keeps the first syllable
    assert words(transcriber.transcribe(u.audio).text) == words("Could you tell me a short story about the sea?")


def test_pause_longer_than_end_silence_gives_two_turns(speech):
    a = read_audio(speech("Good morning.", lead_s=0))
    b = read_audio(speech("What is the weather like?", lead_s=0))
    stream = np.concatenate([silence(0.5), a, silence(1.2), b, silence(1.0)])
    assert len(list(Endpointer(EndpointSettings(end_silence_ms=600)).utterances(array_frames(stream)))) == 2
    # a longer end-of-turn silence keeps a thinking pause inside one turn
    assert len(list(Endpointer(EndpointSettings(end_silence_ms=1500)).utterances(array_frames(stream)))) == 1


@pytest.mark.parametrize("kind", ["silence", "noise", "click"])
def test_no_turn_without_speech(kind):
    rng = np.random.default_rng(0)
    if kind == "silence":
        audio = silence(3)
    elif kind == "noise":
        audio = (rng.standard_normal(3 * SAMPLE_RATE) * 0.02).astype(np.float32)
    else:
        audio = silence(3)
        audio[SAMPLE_RATE: SAMPLE_RATE + 400] = rng.uniform(-0.8, 0.8, 400)
    assert list(Endpointer().utterances(array_frames(audio))) == []


def test_max_turn_length_cuts(speech):
    talk = read_audio(speech("I keep talking and talking without ever taking a breath at all, on and on.", lead_s=0))
    ep = Endpointer(EndpointSettings(max_turn_s=2.0))
    utts = list(ep.utterances(array_frames(np.concatenate([talk, silence(1)]))))
    assert utts[0].cut and utts[0].duration <= 2.4


def test_short_burst_below_min_speech_is_dropped(speech):
    word = read_audio(speech("Hi.", lead_s=0))
    stream = np.concatenate([silence(0.5), word, silence(1.0)])
    assert len(list(Endpointer(EndpointSettings(min_speech_ms=100)).utterances(array_frames(stream)))) == 1
    assert list(Endpointer(EndpointSettings(min_speech_ms=2000)).utterances(array_frames(stream))) == []


def test_tentative_turn_at_first_pause_holds_the_final_audio(speech):
    talk = read_audio(speech("Let me think about that for a second.", lead_s=0))
    stream = np.concatenate([silence(0.5), talk, silence(1.2)])
    ep = Endpointer(EndpointSettings(end_silence_ms=600, speculate_ms=200))
    events = [u for f in array_frames(stream) for u in ep.push(f)]
    assert [u.final for u in events] == [False, True]
    tentative, final = events
    np.testing.assert_array_equal(tentative.audio, final.audio)
    assert 0.18 <= tentative.decided_at - tentative.speech_end <= 0.26
    # utterances() (used where nobody listens ahead) yields only confirmed turns
    assert all(u.final for u in Endpointer().utterances(array_frames(stream)))


def test_no_tentative_when_speculation_is_off(speech):
    talk = read_audio(speech("Good evening.", lead_s=0))
    ep = Endpointer(EndpointSettings(speculate_ms=0))
    events = [u for f in array_frames(np.concatenate([talk, silence(1)])) for u in ep.push(f)]
    assert [u.final for u in events] == [True]


def test_voiced_since_counts_only_speech_captured_after_a_moment(speech):
    """Barge-in asks how much of a sound came after she paused (her echo dies away then): the
    speech of a turn being heard is counted by when it was captured, not when it is read."""
    a = read_audio(speech("Good morning.", lead_s=0))
    b = read_audio(speech("What is the weather like?", lead_s=0))
    stream = np.concatenate([silence(0.5), a, silence(0.4), b])
    ep = Endpointer(EndpointSettings(end_silence_ms=1500))
    for frame in array_frames(stream, t0=100.0):
        ep.push(frame)
    assert ep.in_speech
    second_starts = 100.0 + 0.5 + (len(a) / SAMPLE_RATE) + 0.4
    after = ep.voiced_since(second_starts)
    assert ep.voiced_since(100.0) == pytest.approx(ep.voiced_s)
    assert 0.6 * len(b) / SAMPLE_RATE <= after <= len(b) / SAMPLE_RATE + 0.1  # the second phrase only
    assert ep.voiced_s - after >= 0.5 * len(a) / SAMPLE_RATE
    assert ep.voiced_since(100.0 + len(stream) / SAMPLE_RATE) == 0.0
