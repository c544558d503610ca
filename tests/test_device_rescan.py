"""A named headset that comes back under a new entry in PortAudio's device list (a USB
replug gets a new ALSA card number) is found again by re-reading the list, without a
restart: with a stand-in PortAudio, and with the real process on the virtual headset."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from companion.audio import devices, rescan, sinks, sources
from companion.audio.devices import Device

from companion.testing.checks import words

BUILTIN, JABRA = Device(0, "Built-in Audio", 2, 2, 48000, "ALSA"), Device(1, "Jabra EVOLVE 20 (hw:1,0)", 1, 1, 16000, "ALSA")


class FakeStream:
    """A PortAudio stream: its callback runs every 10 ms until the device goes away."""

    def __init__(self, pa, kind, device, samplerate, channels, dtype, blocksize, callback, latency=None):
        if not any(d.index == device and d.name == pa.listed_name(device) for d in pa.present):
            raise RuntimeError(f"device #{device} is gone")  # a stale entry of an unplugged device
        self.pa, self.kind, self.device, self.callback, self.blocksize = pa, kind, device, callback, blocksize
        self.active, self.closed, self.latency = False, False, 0.01
        self._stop = threading.Event()
        pa.streams.append(self)

    def start(self):
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        class Status:
            input_overflow = False

        while not self._stop.wait(0.01):
            self.callback(np.zeros((self.blocksize, 1), np.float32), self.blocksize, None, Status())

    def abort(self):
        self._stop.set()
        self.active = False

    def close(self):
        self.abort()
        self.closed = True


class FakePortAudio:
    """As much of sounddevice as the microphone, the speaker and the re-scan use. Like
    PortAudio, it lists the devices present when it was last initialised."""

    def __init__(self):
        self.default = types.SimpleNamespace(device=(0, 0))
        self.present = [BUILTIN, JABRA]
        self.listed = list(self.present)
        self.streams: list[FakeStream] = []
        self._initialized = 1
        self.inits = 0

    def listed_name(self, index):
        return next((d.name for d in self.listed if d.index == index), None)

    def InputStream(self, **kw):
        return FakeStream(self, "input", **kw)

    def OutputStream(self, **kw):
        return FakeStream(self, "output", **kw)

    def check_input_settings(self, **kw):
        pass

    check_output_settings = check_input_settings

    def _terminate(self):
        open_streams = [s for s in self.streams if not s.closed]
        assert not open_streams, "PortAudio terminated under an open stream"
        self._initialized -= 1

    def _initialize(self):
        self._initialized += 1
        self.inits += 1
        self.listed = list(self.present)

    def unplug(self, device):
        self.present.remove(device)
        for s in self.streams:
            if s.device == device.index and not s.closed:
                s.abort()  # the stream dies with the device

    def plug(self, device):
        self.present.append(device)


@pytest.fixture
def portaudio(monkeypatch):
    pa = FakePortAudio()
    for module in (devices, sources, sinks, rescan):
        monkeypatch.setattr(module, "_sd", lambda: pa)
    monkeypatch.setattr(devices, "list_devices", lambda: list(pa.listed))
    return pa


def test_a_headset_back_under_a_new_index_is_found_by_re_reading_the_list(portaudio):
    mic = sources.MicrophoneSource(JABRA, spec="jabra", retry_s=0.05, stall_s=0.2).start()
    sink = sinks.SpeakerSink(JABRA, spec="jabra")
    watch = rescan.DeviceRescan(mic, sink, every_s=0.2)
    frames = iter(mic)
    next(frames)
    time.sleep(0.3)
    watch.tick()
    assert portaudio.inits == 0  # on the named devices: nothing to look for

    portaudio.unplug(JABRA)
    for _ in range(200):
        next(frames)
        if mic.reopened:
            break
    sink.write(np.zeros(100, np.float32), 16000)  # the next sentence finds the speaker gone
    assert (mic.device, mic.on_fallback, sink.device, sink.on_fallback) == (BUILTIN, True, BUILTIN, True)

    back = Device(2, JABRA.name.replace("hw:1", "hw:2"), 1, 1, 16000, "ALSA")  # a new card number
    portaudio.plug(back)
    assert mic.reopen() and mic.device == BUILTIN  # PortAudio's list still has the old entry only
    time.sleep(0.25)
    watch.tick()
    assert portaudio.inits == 1
    assert (mic.device, mic.on_fallback, sink.device, sink.on_fallback) == (back, False, back, False)
    assert mic.is_open and sink.is_open
    next(frames)  # audio flows from the headset again
    time.sleep(0.25)
    watch.tick()
    assert portaudio.inits == 1  # found: no more re-scans
    mic.close()
    sink.close()


def test_the_microphone_waiting_for_any_device_re_reads_the_list(portaudio):
    portaudio.present = [JABRA]
    portaudio.listed = [JABRA]
    portaudio.default.device = (1, 1)  # the headset was the only device, and the default
    mic = sources.MicrophoneSource(JABRA, spec="", retry_s=0.05, stall_s=0.2).start()
    sink = sinks.SpeakerSink(JABRA, spec="")
    rescan.DeviceRescan(mic, sink, every_s=0.1)
    frames = iter(mic)
    next(frames)
    portaudio.unplug(JABRA)
    back = Device(0, JABRA.name, 1, 1, 16000, "ALSA")
    threading.Timer(0.5, portaudio.plug, (back,)).start()
    portaudio.default.device = (0, 0)
    next(frames)  # blocks in the reopen loop until the re-read list has the headset
    assert mic.device == back and portaudio.inits >= 1 and mic.reopened == 1
    mic.close()
    sink.close()


# -- the real process on the virtual headset ----------------------------------------------------
ALSA_CONF = Path("/usr/share/alsa/alsa.conf")


def declare_headset(conf: Path, card: int | None) -> None:
    """The ALSA side of a headset: its devices exist only while it is plugged in, and under a
    new card number each time, as a USB headset's do (here as ALSA PCMs on PulseAudio sinks)."""
    conf.write_text("" if card is None else f"""
pcm.headset_mic_c{card} {{ type pulse; device "hsmic.monitor"; hint {{ show on; description "Test headset mic" }} }}
pcm.headset_spk_c{card} {{ type pulse; device "hsspk"; hint {{ show on; description "Test headset speaker" }} }}
""")


def plug(hs, conf: Path, card: int) -> None:
    hs.pactl("load-module", "module-null-sink", "sink_name=hsmic", "rate=16000", "channels=1")
    hs.pactl("load-module", "module-null-sink", "sink_name=hsspk", "rate=22050", "channels=1")
    declare_headset(conf, card)


def unplug(hs, conf: Path, pid: int) -> None:
    declare_headset(conf, None)
    for line in hs.pactl("list", "short", "modules").splitlines():
        if "sink_name=hsmic" in line or "sink_name=hsspk" in line:
            hs.pactl("unload-module", line.split("\t")[0])
    # PulseAudio moves the streams of a removed sink to the default one; a real unplug ends them.
    # pactl cannot end a stream: its command-line protocol (pacmd's) can.
    commands = [f"{kill} {block.split('#', 1)[1].split()[0]}\n"
                for kind, kill in (("source-outputs", "kill-source-output"), ("sink-inputs", "kill-sink-input"))
                for block in hs.pactl("list", kind).split("\n\n") if f'application.process.id = "{pid}"' in block]
    with socket.socket(socket.AF_UNIX) as cli:
        cli.connect(str(hs.dir / "cli"))
        cli.sendall("".join(commands).encode())
        time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.skipif(not ALSA_CONF.exists(), reason="no ALSA configuration to extend")
def test_companion_goes_back_to_the_named_headset_when_it_returns(tmp_path, companion_home, virtual_headset, speech,
                                                                  scripted_llm):
    from companion.testing.checks import companion_command, voiced, wait_for

    hs = virtual_headset
    conf = tmp_path / "asound.conf"
    plug(hs, conf, card=1)
    hs.pactl("load-module", "module-cli-protocol-unix", f"socket={hs.dir / 'cli'}")
    env = hs.environ(COMPANION_LLM_BASE_URL=scripted_llm.base_url, ALSA_CONFIG_PATH=f"{ALSA_CONF}:{conf}")
    listed = subprocess.run([*companion_command(), "devices"], env=env, capture_output=True, text=True, timeout=60)
    if "headset_mic_c1" not in listed.stdout:
        pytest.skip(f"PortAudio does not list ALSA PCMs on PulseAudio here: {listed.stdout}")
    scripted_llm.enqueue("First answer, on the headset.", "Second answer, on the laptop.", "Third answer, on the headset again.")
    log = tmp_path / "companion.stderr"

    def turns():
        return [json.loads(line) for f in (companion_home / "transcripts").glob("*.jsonl")
                for line in f.read_text().splitlines()]

    def answered(ear, n, after):
        wait_for(lambda: len(turns()) >= n, 60, f"turn {n}", proc, log)
        wait_for(lambda: any(ear.time_of(i) > after for i in voiced(ear.audio(), ear.rate)), 30,
                 f"her voice after turn {n}", proc, log)

    with open(log, "wb") as err:
        proc = subprocess.Popen([*companion_command(), "run", "--input-device", "headset_mic", "--output-device",
                                 "headset_spk", "--set", "audio.device_rescan_s=2", "--set", "conversation.earcons=false"],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        wait_for(lambda: "listening (" in log.read_text(errors="replace"), 90, "'listening'", proc, log)
        time.sleep(1.0)
        with hs.record(tmp_path / "headset-1.wav", source="hsspk.monitor").wait_started() as ear:
            t = time.monotonic()
            hs.play(speech("Can you hear me on my headset?"), sink="hsmic")
            answered(ear, 1, t)

        unplug(hs, conf, proc.pid)  # the headset goes away: she goes on with the laptop's own devices
        wait_for(lambda: "the default device, until yours is back" in log.read_text(errors="replace"), 20,
                 "the fallback", proc, log)
        time.sleep(1.0)
        with hs.record(tmp_path / "laptop.wav", source="spk.monitor").wait_started() as ear:
            t = time.monotonic()
            hs.play(speech("Are you still there?"))
            answered(ear, 2, t)

        plug(hs, conf, card=2)  # back, under a new card number
        wait_for(lambda: "listening on 'headset_mic_c2', speaking on 'headset_spk_c2'" in log.read_text(errors="replace"),
                 30, "the headset found again", proc, log)
        time.sleep(1.0)
        with hs.record(tmp_path / "headset-2.wav", source="hsspk.monitor").wait_started() as ear:
            t = time.monotonic()
            hs.play(speech("And now, with the headset back?"), sink="hsmic")
            answered(ear, 3, t)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    got = turns()
    assert [words(t["user_text"]) for t in (got[0], got[2])] == [words("Can you hear me on my headset?"),
                                                                  words("And now, with the headset back?")]
    assert [t["reply_text"] for t in got] == ["First answer, on the headset.", "Second answer, on the laptop.",
                                              "Third answer, on the headset again."]


def test_a_held_reply_is_not_taken_for_a_speaker_that_stopped(portaudio):
    """Pauses (the user may be talking, her own echo on open speakers) can add up to more than
    the 5 s the speaker is allowed beyond a reply's length: held time must not count, or the
    rest of the reply is dropped ("stopped playing") while she is only paused."""
    sink = sinks.SpeakerSink(JABRA, spec="jabra")
    sink.write(np.zeros(1600, np.float32), 16000)  # the fake stream never plays it
    sink.pause()
    threading.Timer(0.5, sink.resume).start()
    started = time.monotonic()
    sink.finish(timeout=0.2)
    assert time.monotonic() - started >= 0.55  # 0.5 s held, then 0.2 s playing nothing (to a 0.1 s step)
    sink.close()
