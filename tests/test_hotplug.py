"""A headset that disappears and comes back under a running companion (PulseAudio modules
unloaded and loaded again): she keeps running and answers afterwards, without a restart."""

import time

import pytest

from companion.testing.checks import Session, wait_for, words



def reload_sink(hs, name: str, rate: int) -> None:
    module = next(line.split("\t")[0] for line in hs.pactl("list", "short", "modules").splitlines()
                  if f"sink_name={name} " in line + " ")
    hs.pactl("unload-module", module)
    time.sleep(1.5)  # gone for a while, as a Bluetooth drop would be
    hs.pactl("load-module", "module-null-sink", f"sink_name={name}", f"rate={rate}", "channels=1")


@pytest.mark.slow  # the real process on the virtual headset
def test_devices_unplugged_and_back(tmp_path, companion_home, pulse_ok, speech, scripted_llm):
    hs = pulse_ok
    scripted_llm.enqueue("Here is the first answer.", "And here is the second answer.")
    s = Session(hs, tmp_path, companion_home, scripted_llm)
    try:
        s.say(speech("Can you hear me?"))
        wait_for(lambda: len(s.turns()) >= 1, 60, "the first turn", s.proc, s.log)
        time.sleep(1.0)
        s.ear.stop()
        reload_sink(hs, "mic", 16000)
        reload_sink(hs, "spk", 22050)
        time.sleep(2.0)
        s.ear = hs.record(tmp_path / "speaker-after.wav").wait_started()
        asked = s.say(speech("Are you still there?"))
        wait_for(lambda: len(s.turns()) >= 2, 60, "the turn after the devices came back", s.proc, s.log)
        s.her_voice_after(asked, 1.0)
        assert s.proc.poll() is None
        turns = s.turns()
    finally:
        s.close()
    assert [words(t["user_text"]) for t in turns[:2]] == [words("Can you hear me?"), words("Are you still there?")]
    assert turns[1]["reply_text"] == "And here is the second answer."


class FakeStream:
    """A PortAudio stream that delivers blocks from a thread until it is 'unplugged'."""

    opened: list = []

    def __init__(self, device, samplerate, channels, dtype, blocksize, callback, latency=None):
        import threading

        self.device, self.callback, self.blocksize, self.active = device, callback, blocksize, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        FakeStream.opened.append(self)

    def _run(self):
        import numpy as np

        class Status:
            input_overflow = False

        while not self._stop.wait(0.01):
            self.callback(np.zeros((self.blocksize, 1), np.float32), self.blocksize, None, Status())

    def start(self):
        self.active = True
        self._thread.start()

    def unplug(self):
        self._stop.set()
        self.active = False

    def abort(self):
        self._stop.set()

    def close(self):
        pass


def test_microphone_reopens_after_its_stream_dies(monkeypatch):
    from companion.audio import devices, sources
    from companion.audio.devices import Device

    class FakeSD:
        InputStream = FakeStream

        class default:
            device = (1, 1)

        @staticmethod
        def check_input_settings(**kw):
            pass

    jabra, builtin = Device(0, "Jabra", 1, 1, 16000, "ALSA"), Device(1, "Built-in", 2, 2, 16000, "ALSA")
    present = {"Jabra": True}
    monkeypatch.setattr(devices, "_sd", lambda: FakeSD)
    monkeypatch.setattr(sources, "_sd", lambda: FakeSD)
    monkeypatch.setattr(devices, "list_devices", lambda: [d for d in (jabra, builtin) if present.get(d.name, True)])
    FakeStream.opened = []
    mic = sources.MicrophoneSource(jabra, spec="jabra", retry_s=0.05).start()
    frames = iter(mic)
    next(frames)
    present["Jabra"] = False  # the headset drops out: its stream dies, the default device takes over
    FakeStream.opened[0].unplug()
    mic.drain()
    for _ in range(50):
        next(frames)
        if mic.reopened:
            break
    assert mic.reopened == 1 and mic.device.name == "Built-in"
    assert FakeStream.opened[-1].device == 1
    mic.close()
