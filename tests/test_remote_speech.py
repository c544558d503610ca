"""Speech recognition and synthesis on real servers started on 127.0.0.1 in the test run, on
the bundled models: wyoming-faster-whisper and wyoming-piper (Wyoming), faster-whisper-server and
local-tts-studio (the OpenAI audio API). The words must be the same as on the local path, and a
server killed in the middle of a turn must lose nothing."""

from __future__ import annotations

import json
import logging
import threading
import time

import numpy as np
import pytest

from companion.audio.files import read_audio
from companion.audio.resample import resample
from companion.fallback import FallbackRecognizer, FallbackSynthesizer
from companion.model_files import whisper_model_dir
from companion.ops.cli import main
from companion.ops.config import STTConfig, TTSConfig
from companion.remote import RemoteError
from companion.stt import load_recognizer
from companion.stt.openai_audio import OpenAIRecognizer
from companion.stt.wyoming import WyomingRecognizer
from companion.tts import load_synthesizer
from companion.tts.openai_audio import OpenAISynthesizer
from companion.tts.wyoming import WyomingSynthesizer

from companion.testing.checks import words
from companion.testing.stand_ins import TranscriberOnly

pytestmark = pytest.mark.slow

SLOW_MACHINE = {"connect_timeout_s": 5.0, "read_timeout_s": 60.0}  # two shared cores: a real answer, not a fallback
SENTENCES = ["Hi Samantha, my name is Theodore.", "Please remind me to call my sister at six."]


def overlap(said: str, heard: str) -> float:
    said, heard = words(said), set(words(heard))
    return sum(w in heard for w in said) / max(1, len(said))


@pytest.fixture(scope="module")
def servers_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("speech-servers")


def served(kind, folder, model_cache):
    """Both real servers of one kind, started for the module (skipped without the dev extra)."""
    from companion.testing.speech_servers import SERVED

    stt_server, tts_server, modules = SERVED[kind]
    for module in modules:
        pytest.importorskip(module, reason="the remote-speech servers come with the dev extra: pip install -e '.[dev]'")
    with stt_server(whisper_model_dir("bundled:base", model_cache), folder) as stt, tts_server(folder) as tts:
        yield stt, tts


@pytest.fixture(scope="module")
def wyoming(servers_dir, model_cache):
    yield from served("wyoming", servers_dir, model_cache)


@pytest.fixture(scope="module")
def openai_speech(servers_dir, model_cache):
    yield from served("openai", servers_dir, model_cache)


def engines(kind, stt_url, tts_url, rate):
    stt, tts = STTConfig(base_url=stt_url, **SLOW_MACHINE), TTSConfig(base_url=tts_url, **SLOW_MACHINE)
    if kind == "wyoming":
        return WyomingRecognizer(stt), WyomingSynthesizer(TTSConfig(base_url=tts_url, remote_voice="en_US-joe-medium",
                                                                    **SLOW_MACHINE), rate)
    return OpenAIRecognizer(stt), OpenAISynthesizer(tts, rate)


@pytest.mark.parametrize("kind", ["wyoming", "openai"])
def test_same_words_as_the_local_path(kind, request, speech, transcriber, voice):
    stt_server, tts_server = request.getfixturevalue("wyoming" if kind == "wyoming" else "openai_speech")
    recognizer, synthesizer = engines(kind, stt_server.url, tts_server.url, voice.sample_rate)
    recognizer.warm_up()
    for text in SENTENCES:
        turn = read_audio(speech(text))
        local, remote = transcriber.recognizer.transcribe(turn).text, recognizer.transcribe(turn).text
        assert words(remote) == words(local), (kind, remote, local)  # the same model, here and there
        assert overlap(text, remote) >= 0.8

        blocks = list(synthesizer.synthesize(text))
        assert len(blocks) > 1 or kind == "wyoming"  # the HTTP answer arrives in pieces, played as they come
        spoken = np.concatenate(blocks)
        assert 0.8 < len(spoken) / voice.sample_rate / (sum(len(b) for b in voice.synthesize(text)) / voice.sample_rate) < 1.25
        heard = transcriber.recognizer.transcribe(resample(spoken, synthesizer.sample_rate, 16000)).text
        here = transcriber.recognizer.transcribe(resample(np.concatenate(list(voice.synthesize(text))),
                                                          voice.sample_rate, 16000)).text
        assert overlap(text, heard) >= min(0.8, overlap(text, here)), (kind, heard, here)


def test_a_turn_replayed_through_remote_speech_matches_the_local_replay(tmp_path, speech, scripted_llm, wyoming,
                                                                      openai_speech, transcriber, caplog):
    scripted_llm.answer = lambda body: "The forecast says sunshine and a light breeze."
    turn = speech(SENTENCES[0])
    common = ["--set", f"llm.base_url={scripted_llm.base_url}", "--set", "stt.read_timeout_s=60",
              "--set", "tts.read_timeout_s=60"]
    runs = {"local": [], "wyoming": ["--set", f"stt.base_url={wyoming[0].url}", "--set", f"tts.base_url={wyoming[1].url}"],
            "openai": ["--set", f"stt.base_url={openai_speech[0].url}", "--set", f"tts.base_url={openai_speech[1].url}"]}
    heard = {}
    with caplog.at_level(logging.WARNING, logger="companion.fallback"):
        for name, extra in runs.items():
            assert main(["replay", str(turn), "--out", str(tmp_path / name), *common, *extra]) == 0
            (record,) = [json.loads(line) for line in (tmp_path / name / "transcript.jsonl").read_text().splitlines()]
            reply = read_audio(tmp_path / name / "reply-001.wav")
            heard[name] = (words(record["user_text"]), words(record["reply_text"]),
                           words(transcriber.recognizer.transcribe(reply).text))
    assert not [r for r in caplog.records if "server failed" in r.getMessage()]  # the servers answered, no fallback
    understood = {name: h[:2] for name, h in heard.items()}  # what she heard, and what she answered
    assert understood["wyoming"] == understood["openai"] == understood["local"], heard
    reply = "The forecast says sunshine and a light breeze."
    for name, (_, _, said) in heard.items():  # what she said, as Whisper hears it from each voice
        assert overlap(reply, " ".join(said)) >= 0.75, heard


@pytest.mark.parametrize("kind", ["wyoming", "openai"])
def test_recognition_server_killed_mid_turn_falls_back_and_keeps_the_words(kind, tmp_path, speech, transcriber,
                                                                           model_cache):
    from companion.testing.speech_servers import SERVED

    start = SERVED[kind][0]
    pytest.importorskip(SERVED[kind][2][0])
    turn = read_audio(speech(SENTENCES[1]))
    with start(whisper_model_dir("bundled:base", model_cache), tmp_path) as server:
        fallback = FallbackRecognizer((WyomingRecognizer if kind == "wyoming" else OpenAIRecognizer)(
            STTConfig(base_url=server.url, **SLOW_MACHINE)), transcriber.recognizer)
        told = []
        fallback.outage.on_down = lambda stage, local: told.append((stage, local))
        fallback.remote.warm_up()
        result = {}
        worker = threading.Thread(target=lambda: result.update(t=fallback.transcribe(turn)))
        worker.start()
        time.sleep(0.15)  # the audio is on its way or being decoded
        server.kill()
        worker.join(60)
    assert words(result["t"].text) == words(transcriber.recognizer.transcribe(turn).text)
    assert told == [("speech recognition", True)]
    t = time.monotonic()  # the next turn goes straight to the local model: no second wait for a dead server
    assert words(fallback.transcribe(turn).text) == words(result["t"].text)
    assert told == [("speech recognition", True)]  # said once per outage
    with pytest.raises(RemoteError):
        fallback.remote.transcribe(turn)
    assert time.monotonic() - t < 30


@pytest.mark.parametrize("kind", ["wyoming", "openai"])
def test_voice_server_killed_mid_sentence_falls_back_and_says_every_word(kind, tmp_path, transcriber, voice):
    from companion.testing.speech_servers import SERVED

    pytest.importorskip(SERVED[kind][2][1])

    text = ("I looked at the forecast for the whole week. Monday starts with rain in the morning, "
            "then the clouds clear away and the afternoon is warm and bright.")
    with SERVED[kind][1](tmp_path) as server:
        cfg = TTSConfig(base_url=server.url, **SLOW_MACHINE)
        remote = (WyomingSynthesizer if kind == "wyoming" else OpenAISynthesizer)(cfg, voice.sample_rate)
        fallback = FallbackSynthesizer(remote, voice)
        told = []
        fallback.outage.on_down = lambda stage, local: told.append((stage, local))
        blocks = []
        if kind == "openai":  # local-tts-studio answers only once the whole text is made: it dies while making it
            threading.Timer(0.05, server.kill).start()
        for block in fallback.synthesize(text):
            if not blocks:
                server.kill()  # wyoming-piper streams sentence by sentence: it dies while the first one plays
            blocks.append(block)
    assert told == [("voice", True)]
    spoken = resample(np.concatenate(blocks), fallback.sample_rate, 16000)
    heard = words(transcriber.recognizer.transcribe(spoken).text)
    assert heard[-6:] == words(text)[-6:]  # the end of the sentence was said, by the local voice


def test_doctor_checks_each_remote_endpoint(wyoming, openai_speech, scripted_llm, capsys):
    stt, tts = wyoming
    main(["--set", f"llm.base_url={scripted_llm.base_url}", "--set", f"stt.base_url={stt.url}",
          "--set", f"tts.base_url={tts.url}", "--set", "tts.remote_voice=en_US-joe-medium", "--set",
          "stt.read_timeout_s=60", "doctor"])
    out = capsys.readouterr().out
    assert f"ok    speech recognition: {stt.url}: reachable" in out and "transcribed in" in out
    assert f"ok    voice: {tts.url}: reachable, voice 'en_US-joe-medium' offered" in out
    main(["--set", f"llm.base_url={scripted_llm.base_url}", "--set", f"tts.base_url={openai_speech[1].url}",
          "--set", "tts.remote_model=no-such-model", "doctor"])
    out = capsys.readouterr().out
    assert "FAIL  voice: the server does not offer the model 'no-such-model'; it offers: tts-1" in out


def test_replay_with_both_speech_servers_down_keeps_the_turn_and_speaks_it_here(tmp_path, speech, scripted_llm,
                                                                               transcriber, caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]  # closed again: a server that is down
    scripted_llm.answer = lambda body: "Nice to meet you, Theodore."
    with caplog.at_level(logging.WARNING, logger="companion.fallback"):
        assert main(["replay", str(speech(SENTENCES[0])), "--out", str(tmp_path), "--set",
                     f"llm.base_url={scripted_llm.base_url}", "--set", f"stt.base_url=tcp://127.0.0.1:{nobody}",
                     "--set", f"tts.base_url=http://127.0.0.1:{nobody}/v1"]) == 0
    (record,) = [json.loads(line) for line in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert overlap(SENTENCES[0], record["user_text"]) >= 0.8 and record["error"] is None
    assert overlap("Nice to meet you, Theodore.", transcriber.recognizer.transcribe(
        read_audio(tmp_path / "reply-001.wav")).text) >= 0.6
    failed = [r.getMessage() for r in caplog.records if "server failed" in r.getMessage()]
    assert len(failed) == 2 and f"cannot reach tcp://127.0.0.1:{nobody}" in failed[0]  # each logged once


class CountingProxy:
    """Between us and a server on loopback: counts the bytes we send, and when each arrived."""

    def __init__(self, url):
        import socket

        self.target = url.removeprefix("tcp://").rsplit(":", 1)
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, bytes), client to server
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import socket

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection((self.target[0], int(self.target[1])))
            threading.Thread(target=self._pipe, args=(conn, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, conn, False), daemon=True).start()

    def _pipe(self, src, dst, count):
        try:
            while data := src.recv(65536):
                if count:
                    self.arrivals.append((time.monotonic(), len(data)))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def sent_before(self, t):
        return sum(n for at, n in self.arrivals if at <= t)

    def close(self):
        self.sock.close()


def streamed_turn(recognizer, audio, pace=True, during=None):
    """``audio`` through the real endpointer (Silero) and the speculative transcriber, in 20 ms
    frames, in real time with ``pace``; ``during(seconds)`` is called after each frame. Returns
    (utterance, transcript, monotonic time the last voiced frame was fed)."""
    from companion.hearing.endpointer import EndpointSettings, Endpointer
    from companion.hearing.turn_taking import TurnTaker
    from companion.ops.config import VADConfig
    from companion.records import Frame
    from companion.stt.speculative import SpeculativeTranscriber

    stt = SpeculativeTranscriber(recognizer)
    taker = TurnTaker(Endpointer(EndpointSettings.from_config(VADConfig())), TranscriberOnly(stt), VADConfig())
    fed_at, start, step = {}, time.monotonic(), 320
    for i in range(0, len(audio), step):
        if pace:
            time.sleep(max(0.0, start + i / 16000 - time.monotonic()))
        fed_at[i // step] = time.monotonic()
        for utt in taker.feed(Frame(audio[i:i + step], i / 16000)):
            return utt, stt.transcribe(utt.audio), fed_at[int(utt.speech_end * 16000) // step]
        if during is not None:
            during(i / 16000)
    (utt,) = taker.endpointer.flush()
    return utt, stt.transcribe(utt.audio), fed_at[int(utt.speech_end * 16000) // step]


def test_wyoming_gets_the_turn_while_it_is_spoken_and_hears_the_local_words(wyoming, speech, transcriber):
    proxy = CountingProxy(wyoming[0].url)
    try:
        remote = WyomingRecognizer(STTConfig(base_url=proxy.url, **SLOW_MACHINE))
        remote.warm_up()
        told = []
        fallback = FallbackRecognizer(remote, transcriber.recognizer)
        fallback.outage.on_down = lambda stage, local: told.append(stage)
        audio = np.concatenate([read_audio(speech(SENTENCES[1])), np.zeros(32000, np.float32)])
        before = sum(n for _, n in proxy.arrivals)
        utt, heard, speech_end = streamed_turn(fallback, audio)
    finally:
        proxy.close()
    assert not told  # the server answered
    pcm = 2 * len(utt.audio)
    assert proxy.sent_before(speech_end) - before >= 0.75 * pcm  # most of the turn was on the server before it ended
    assert words(heard.text) == words(transcriber.recognizer.transcribe(utt.audio).text)  # the same words as here
    assert overlap(SENTENCES[1], heard.text) >= 0.8


def test_wyoming_killed_while_the_turn_streams_falls_back_with_nothing_lost(tmp_path, speech, transcriber, model_cache):
    from companion.testing.speech_servers import wyoming_whisper

    audio = np.concatenate([read_audio(speech(SENTENCES[1])), np.zeros(32000, np.float32)])
    with wyoming_whisper(whisper_model_dir("bundled:base", model_cache), tmp_path) as server:
        remote = WyomingRecognizer(STTConfig(base_url=server.url, **SLOW_MACHINE))
        remote.warm_up()
        fallback = FallbackRecognizer(remote, transcriber.recognizer)
        told = []
        fallback.outage.on_down = lambda stage, local: told.append(stage)
        utt, heard, _ = streamed_turn(fallback, audio,
                                      during=lambda s: server.kill() if s >= 1.0 else None)  # mid-sentence
    assert told == ["speech recognition"]
    assert words(heard.text) == words(transcriber.recognizer.transcribe(utt.audio).text)
    assert overlap(SENTENCES[1], heard.text) >= 0.8
