"""Speech servers that misbehave, scripted: one that accepts and never answers, one that sends
bytes that are not the protocol, one that errs and then recovers. The remote engines must say
what went wrong within their timeouts, the fallback must take the turn, and the outage must be
said once. Also: the address setting, the WAV stream reader, and "auto" finding an LLM."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from companion.audio.files import write_wav
from companion.fallback import FallbackRecognizer, FallbackSynthesizer
from companion.llm.discovery import discover, resolved
from companion.ops.config import ConfigError, LLMConfig, STTConfig, TTSConfig, load_config
from companion.records import Transcript
from companion.remote import RemoteError
from companion.runtime.faults import REMOTE_LINES, SpokenFaults
from companion.stt.openai_audio import OpenAIRecognizer
from companion.stt.wyoming import WyomingRecognizer
from companion.tts.openai_audio import OpenAISynthesizer, WavStream
from companion.tts.wyoming import WyomingSynthesizer

FAST = {"connect_timeout_s": 0.5, "read_timeout_s": 0.6}
TURN = np.zeros(8000, np.float32)


class TcpStandIn:
    """Accepts connections; ``reply`` is sent to each (``None``: silence until closed)."""

    def __init__(self, reply: bytes | None):
        self.reply, self.connections = reply, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self._held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)
            if self.reply is not None:
                conn.settimeout(1.0)
                heard = b""
                while b'"audio-stop"' not in heard and b'"synthesize"' not in heard:  # the end of the request
                    heard += conn.recv(65536)
                conn.sendall(self.reply)
                conn.close()

    def close(self):
        self.sock.close()
        for c in self._held:
            c.close()


class HttpStandIn:
    """Answers each POST with the next of ``answers``: (status, content type, body bytes)."""

    def __init__(self, *answers):
        self.answers, self.requests = list(answers), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(self.path)
                status, kind, body = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class LocalEars:
    """The local recogniser behind a remote one, counting the turns it was given."""

    name = "local"

    def __init__(self):
        self.turns = 0

    def transcribe(self, audio):
        self.turns += 1
        return Transcript("the words", "en", 0.0)

    def warm_up(self):
        pass


class LocalVoice:
    name, sample_rate, speed, volume = "local", 16000, 1.0, 1.0

    def synthesize(self, text):
        yield np.full(1600, 0.1, np.float32)

    def set_prosody(self, speed=None, volume=None):
        pass


@pytest.fixture
def silent_server():
    server = TcpStandIn(None)
    yield server
    server.close()


def test_a_server_that_never_answers_costs_one_timeout_then_the_turn_is_heard_here(silent_server):
    local = LocalEars()
    ears = FallbackRecognizer(WyomingRecognizer(STTConfig(base_url=silent_server.url, **FAST)), local)
    told = []
    ears.outage.on_down = lambda stage, has_local: told.append(stage)
    t = time.monotonic()
    assert ears.transcribe(TURN).text == "the words"
    assert 0.5 < time.monotonic() - t < 2.0
    t = time.monotonic()
    assert ears.transcribe(TURN).text == "the words"  # the next turn does not wait for it again
    assert time.monotonic() - t < 0.2
    assert local.turns == 2 and told == ["speech recognition"]


def test_wyoming_garbage_and_early_close_are_remote_errors():
    for reply, expected in ((b"this is not json\n", r"closed the connection before answering \(or sent malformed"),
                            (b'{"type": "transcript", "data_length": 999}\n{"te', "closed the connection"),
                            (b'{"type": "error", "data": {"text": "model not loaded"}}\n', "model not loaded"),
                            (b'{"no_type": 1}\n', "not a Wyoming event")):
        server = TcpStandIn(reply)
        try:
            with pytest.raises(RemoteError, match=expected):
                WyomingRecognizer(STTConfig(base_url=server.url, **FAST)).transcribe(TURN)
            with pytest.raises(RemoteError):
                list(WyomingSynthesizer(TTSConfig(base_url=server.url, **FAST), 22050).synthesize("Hi."))
        finally:
            server.close()


def test_refused_connection_is_retried_once_and_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    t = time.monotonic()
    with pytest.raises(RemoteError, match=f"cannot reach tcp://127.0.0.1:{port}"):
        WyomingRecognizer(STTConfig(base_url=f"tcp://127.0.0.1:{port}", **FAST)).transcribe(TURN)
    assert time.monotonic() - t < 1.0


def test_openai_server_errors_once_then_answers():
    server = HttpStandIn((503, "application/json", b'{"error": {"message": "loading"}}'),
                         (200, "application/json", b'{"text": " Hello there. "}'))
    try:
        assert OpenAIRecognizer(STTConfig(base_url=server.url, **FAST)).transcribe(TURN).text == "Hello there."
        assert server.requests == ["/v1/audio/transcriptions"] * 2  # one retry, no more
    finally:
        server.close()


@pytest.mark.parametrize("answer, expected", [
    ((200, "application/json", b'{"txt": "no text field"}'), "without a transcript"),
    ((200, "text/html", b"<html>proxy login</html>"), "cannot use|without a transcript"),
    ((401, "application/json", b'{"error": {"message": "bad key"}}'), "refused the request \\(401"),
])
def test_openai_recognizer_malformed_answers(answer, expected):
    server = HttpStandIn(answer)
    try:
        with pytest.raises(RemoteError, match=expected):
            OpenAIRecognizer(STTConfig(base_url=server.url, **FAST)).transcribe(TURN)
        assert len(server.requests) == 1  # a 4xx or a bad body is not asked again
    finally:
        server.close()


def test_openai_voice_that_answers_no_wav_falls_back_for_the_clause():
    server = HttpStandIn((200, "audio/mpeg", b"ID3\x04 an mp3, not the WAV we asked for"))
    try:
        voice = FallbackSynthesizer(OpenAISynthesizer(TTSConfig(base_url=server.url, **FAST), 16000), LocalVoice())
        told = []
        voice.outage.on_down = lambda stage, has_local: told.append(stage)
        audio = np.concatenate(list(voice.synthesize("Hello.")))
        assert len(audio) == 1600 and told == ["voice"]
        with pytest.raises(RemoteError, match="did not answer with WAV"):
            list(voice.remote.synthesize("Hello."))
    finally:
        server.close()


def test_openai_voice_reads_wav_in_any_pieces_at_any_rate():
    tone = np.sin(np.arange(24000) / 24000 * 2 * np.pi * 440).astype(np.float32) * 0.5
    wav = write_wav(io.BytesIO(), tone, 24000).getvalue()
    wav = wav[:4] + b"\xff\xff\xff\xff" + wav[8:]  # a streaming server does not know the length
    stream = WavStream("test")
    got = np.concatenate([stream.feed(wav[i:i + 7]) for i in range(0, len(wav), 7)])
    assert stream.rate == 24000 and np.allclose(got, tone, atol=1e-4)
    server = HttpStandIn((200, "audio/wav", wav))
    try:
        voice = OpenAISynthesizer(TTSConfig(base_url=server.url, volume=0.5, **FAST), 16000)
        audio = np.concatenate(list(voice.synthesize("A tone.")))
        assert abs(len(audio) - 16000) < 400  # one second, converted to the voice's rate
        assert 0.2 < np.abs(audio).max() < 0.3  # volume applied
    finally:
        server.close()


def test_a_voice_stopped_early_closes_its_connection():
    """Barge-in: the caller stops iterating, and the server sees the connection closed at once."""
    from wyoming.audio import AudioChunk, AudioStart
    from wyoming.event import write_event

    listener = socket.create_server(("127.0.0.1", 0))
    seen = {}

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)  # the Synthesize event
        out = conn.makefile("wb")
        write_event(AudioStart(rate=22050, width=2, channels=1).event(), out)
        write_event(AudioChunk(rate=22050, width=2, channels=1, audio=b"\x10\x00" * 2205).event(), out)
        conn.settimeout(5)
        seen["after"] = conn.recv(65536)  # b"" once the client has closed; a timeout if it has not

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    voice = WyomingSynthesizer(TTSConfig(base_url=f"tcp://127.0.0.1:{listener.getsockname()[1]}",
                                         connect_timeout_s=0.5, read_timeout_s=30), 22050)
    blocks = voice.synthesize("A long reply, of which only the start is heard.")
    assert len(next(blocks)) == 2205
    t = time.monotonic()
    blocks.close()
    server.join(5)
    assert seen == {"after": b""} and time.monotonic() - t < 1.0
    listener.close()


def test_outage_is_said_once_between_turns_even_when_it_began_at_start_up(silent_server):
    ears = FallbackRecognizer(WyomingRecognizer(STTConfig(base_url=silent_server.url, **FAST)), LocalEars())
    ears.warm_up()  # start-up: the server is already down, nobody listens yet
    spoken = SpokenFaults()
    spoken.watch(ears, LocalVoice())
    assert spoken.due_announcements() == [REMOTE_LINES[("speech recognition", True)]]
    ears.transcribe(TURN)
    assert spoken.due_announcements() == []


@pytest.mark.parametrize("value", ["192.168.1.5:10300", "tcp://host", "http://host:8000", "ftp://x/v1"])
def test_a_bad_server_address_names_the_key_and_the_forms(value):
    with pytest.raises(ConfigError, match=r"\[stt\] base_url = .* use '' \(the model on this machine\), tcp://HOST:PORT"):
        load_config(flags={"stt": {"base_url": value}}, environ={})
    assert load_config(flags={"tts": {"base_url": "https://speech.example/v1"}}, environ={}).tts.base_url


def test_auto_finds_a_local_llm_server_and_its_model(scripted_llm):
    port = int(scripted_llm.base_url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]
    ports = (("Ollama", nobody), ("llama.cpp", port))
    assert [f.base_url for f in discover(ports)] == [scripted_llm.base_url]
    chosen = resolved(LLMConfig(base_url="auto"), ports)
    assert (chosen.base_url, chosen.model, chosen.api_key_env) == (scripted_llm.base_url, "scripted", "")
    assert resolved(LLMConfig(base_url="auto", model="mine"), ports).model == "mine"
    assert resolved(LLMConfig(base_url="auto"), (("Ollama", nobody),)).base_url == "embedded"
    assert resolved(LLMConfig(base_url="http://x/v1")).base_url == "http://x/v1"  # not auto: no probing


def test_auto_ignores_a_port_that_is_not_an_llm_server(silent_server):
    port = int(silent_server.url.rsplit(":", 1)[1])
    t = time.monotonic()
    assert discover((("vLLM", port),), timeout=0.3) == []
    assert time.monotonic() - t < 1.0
