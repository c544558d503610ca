"""The echo gate on real speech: her own voice played back into the microphone (delayed,
quieter) is removed, while the user talking over her passes through."""

import numpy as np
import pytest

from companion.audio.echo import EchoCanceller
from companion.audio.resample import resample
from companion.hearing.endpointer import EndpointSettings, Endpointer
from companion.records import Frame
from companion.tts import speak_to_array

RATE = 22050


def rms(a):
    return float(np.sqrt(np.mean(a ** 2)))


def simulate(voice, delay_s, gain, user_at_s=None, clock_offset_s=0.0, track=None):
    """Speaker output at 22,050 Hz from t=100 s; the mic hears it ``delay_s`` later at ``gain``,
    plus, optionally, the user from ``user_at_s``. Returns mic, residual and the canceller."""
    her = speak_to_array(voice, "I think the best way to start the morning is with a slow cup of coffee and music.")
    user = resample(speak_to_array(voice, "Wait, stop, I have a question."), RATE, 16000)
    out = np.concatenate([np.zeros(RATE // 2), her, np.zeros(RATE)]).astype(np.float32)
    her16 = resample(out, RATE, 16000)
    d = int(delay_s * 16000)
    mic = np.zeros(len(her16) + d, np.float32)
    mic[d:] += gain * her16
    mic += (np.random.default_rng(0).standard_normal(len(mic)) * 0.001).astype(np.float32)
    if user_at_s is not None:
        u = int(user_at_s * 16000)
        mic[u:u + len(user)] += 0.5 * user[: len(mic) - u]
    ec = EchoCanceller(RATE)
    sent, residual = 0, []
    for i in range(0, len(mic), 512):
        t = 100.0 + i / 16000
        while sent < len(out) and 100.0 + sent / RATE <= t:
            ec.on_output(out[sent:sent + 512], 100.0 + sent / RATE)
            sent += 512
        residual.append(ec.process(Frame(mic[i:i + 512], t + clock_offset_s)).audio)
        if track is not None and 1.0 <= i / 16000 <= len(mic) / 16000 - 1.0:  # while she speaks
            track.append(ec.echo_present)
    return mic, np.concatenate(residual), ec, len(user)


@pytest.mark.parametrize("delay_s, gain, offset", [(0.05, 0.3, 0.0), (0.23, 0.5, 0.0), (0.6, 0.2, -0.1), (0.05, 0.4, 0.15)])
def test_own_voice_is_removed_and_finds_the_delay(voice, delay_s, gain, offset):
    mic, residual, ec, _ = simulate(voice, delay_s, gain, clock_offset_s=offset)
    talking = slice(16000, len(mic) - 16000)
    assert rms(residual[talking]) < 0.05 * rms(mic[talking])  # over 26 dB quieter
    assert abs(ec.delay - int((delay_s + offset) * 16000)) <= 2  # as the (offset) mic clock sees it
    # and the endpointer hears no turn in it
    ep = Endpointer(EndpointSettings())
    assert list(ep.utterances(Frame(residual[i:i + 512], i / 16000) for i in range(0, len(residual), 512))) == []


def test_user_talking_over_her_passes_through(voice):
    mic, residual, ec, n = simulate(voice, 0.23, 0.5, user_at_s=2.0)
    user = slice(32000, 32000 + n)
    assert rms(residual[user]) > 0.7 * rms(mic[user]) - 0.5 * rms(mic[16000:32000])
    ep = Endpointer(EndpointSettings())
    turns = list(ep.utterances(Frame(residual[i:i + 512], i / 16000) for i in range(0, len(residual), 512)))
    assert len(turns) == 1 and 1.9 <= turns[0].speech_start <= 2.4


def test_nothing_played_means_nothing_changed(voice):
    ec = EchoCanceller(RATE)
    ec.on_output(np.zeros(512, np.float32), 1.0)
    x = (np.random.default_rng(1).standard_normal(512) * 0.1).astype(np.float32)
    np.testing.assert_array_equal(ec.process(Frame(x, 1.1)).audio, x)


def test_a_user_talking_on_a_headset_is_not_taken_for_her_echo(voice):
    """A headset: the microphone hears only the user, talking over her. Two voices can match
    for a moment at some delay (a normalised correlation over 0.3 in a 0.4 s window); taken
    as her echo that 'could not be removed' (0.6 dB), it made ``auto`` turn barge-in off in
    the middle of the user's interruption. Her real echo comes back at one delay, chunk
    after chunk; a chance match does not."""
    present = []
    for user_at in (0.6, 1.5, 2.4):
        _, _, ec, _ = simulate(voice, 0.23, 0.0, user_at_s=user_at, track=present)
    assert not any(present)


def test_her_real_echo_is_present_at_one_delay(voice):
    present = []
    simulate(voice, 0.23, 0.3, track=present)
    assert sum(present) > 0.5 * len(present)
