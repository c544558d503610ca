"""A virtual headset: a private PulseAudio daemon with a null-sink microphone and speaker.

Lets a test (or a benchmark) run the real ``companion`` process against real PortAudio
devices on a machine with no sound card, speak into its microphone and listen to its
speaker::

    with VirtualHeadset() as hs:
        proc = subprocess.Popen(["companion", "run", "--input-device", "pulse",
                                 "--output-device", "pulse"], env=hs.environ())
        with hs.record("reply.wav") as ear:      # the user's ear: spk.monitor
            hs.play("user_turn.wav")              # the user's mouth: into sink "mic"
            ...
        audio = ear.audio()

The daemon is private: its own runtime directory, socket, cookie and state in a temp
dir, started with ``-n`` (no default.pa, so no real hardware modules) and never
daemonised, so it is our child process and is killed on exit. Clients get
``PULSE_SERVER`` pointing at its socket and a client.conf with ``autospawn = no``, so
nothing ever touches (or starts) the user's own PulseAudio.

Sinks: ``mic`` (16 kHz mono; the companion records from ``mic.monitor``) and ``spk``
(22,050 Hz mono; the companion plays into it, we record ``spk.monitor``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

MIC_RATE = 16_000
SPK_RATE = 22_050
_TOOLS = ("pulseaudio", "pactl", "paplay", "parecord")


class HeadsetError(RuntimeError):
    """The private PulseAudio daemon could not be started or used."""


def missing_tools() -> list[str]:
    """The PulseAudio programs this harness needs that are not on PATH (empty: usable)."""
    return [t for t in _TOOLS if shutil.which(t) is None]


def available() -> bool:
    return not missing_tools()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """Linux: SIGTERM this process when its parent dies, so a crashed (SIGKILLed) test run
    leaves no daemon behind (``--exit-idle-time=-1`` would keep it forever)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    except ProcessLookupError:
        pass


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 in [-1, 1] and the rate of a 16-bit PCM WAV (channels averaged)."""
    with wave.open(str(path), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    audio = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    return audio, rate


def write_wav(path: str | Path, audio: np.ndarray, rate: int) -> Path:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return Path(path)


class Recorder:
    """Continuous recording of one PulseAudio source (raw s16le mono through ``parecord --raw``).

    The raw file grows while recording, so :meth:`audio` can be read at any time (e.g. to
    wait until a reply has finished).

    Clock: a new PulseAudio stream can take up to a second to deliver its first sample, so
    the launch time says little. Every :meth:`observe` (called by :meth:`seconds`,
    :meth:`audio`, :meth:`wait_started`) compares ``time.monotonic()`` with the samples
    received so far; data only ever arrives late, so the smallest ``now - received/rate``
    seen is the best estimate of when sample 0 was captured (:attr:`t0`, accurate to about
    the stream latency, 20 ms). Sample ``i`` was captured at :meth:`time_of` ``(i)``.
    """

    def __init__(self, headset: "VirtualHeadset", source: str, rate: int, path: str | Path | None = None):
        self.source, self.rate = source, rate
        self.path = Path(path) if path is not None else None
        self.raw_path = headset.dir / f"rec-{source}-{time.monotonic_ns()}.raw"
        self._fh = open(self.raw_path, "wb")
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(
            ["parecord", "--raw", f"--device={source}", "--format=s16le", f"--rate={rate}", "--channels=1",
             "--latency-msec=20"],
            stdout=self._fh, stderr=subprocess.DEVNULL, env=headset.environ(), start_new_session=True,
            preexec_fn=_die_with_parent)
        headset._children.append(self._proc)
        headset._recorders.append(self)
        self.stopped = False
        self.t0: float | None = None

    def observe(self) -> float:
        """Seconds received so far; refines :attr:`t0`."""
        now = time.monotonic()
        try:
            received = self.raw_path.stat().st_size / 2 / self.rate
        except FileNotFoundError:
            return 0.0
        if received > 0:
            t0 = now - received
            if self.t0 is None or t0 < self.t0:
                self.t0 = t0
        return received

    def wait_started(self, timeout: float = 10.0) -> "Recorder":
        """Block until samples flow, then keep observing briefly to settle :attr:`t0`."""
        deadline = time.monotonic() + timeout
        while self.observe() == 0:
            if self._proc.poll() is not None:
                raise HeadsetError(f"parecord for {self.source} exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                raise HeadsetError(f"no audio from {self.source} within {timeout}s")
            time.sleep(0.005)
        settle = time.monotonic() + 0.3
        while time.monotonic() < settle:
            self.observe()
            time.sleep(0.002)
        return self

    def time_of(self, index: float) -> float:
        """``time.monotonic()`` at which sample ``index`` was captured (needs :meth:`wait_started`)."""
        if self.t0 is None:
            raise HeadsetError("recording has not started; call wait_started() first")
        return self.t0 + index / self.rate

    @property
    def pid(self) -> int:
        return self._proc.pid

    def audio(self) -> np.ndarray:
        """Everything recorded so far, mono float32."""
        self.observe()
        data = self.raw_path.read_bytes()
        data = data[: len(data) // 2 * 2]
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0

    def seconds(self) -> float:
        return self.observe()

    def stop(self) -> np.ndarray:
        """Stop recording; write the WAV at ``path`` (if given) and return the audio."""
        if not self.stopped:
            _stop_process(self._proc, signal.SIGINT)
            self._fh.close()
            self.stopped = True
        audio = self.audio()
        if self.path is not None:
            write_wav(self.path, audio, self.rate)
        return audio

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class VirtualHeadset:
    """Context manager owning a private PulseAudio daemon with sinks ``mic`` and ``spk``."""

    def __init__(self, mic_rate: int = MIC_RATE, spk_rate: int = SPK_RATE, start_timeout: float = 10.0):
        self.mic_rate, self.spk_rate = mic_rate, spk_rate
        self.start_timeout = start_timeout
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.dir: Path = Path()
        self.daemon: subprocess.Popen | None = None
        self._children: list[subprocess.Popen] = []
        self._recorders: list[Recorder] = []
        self._env: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> "VirtualHeadset":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "VirtualHeadset":
        missing = missing_tools()
        if missing:
            raise HeadsetError(f"PulseAudio tools not installed: {', '.join(missing)} "
                               "(Debian/Ubuntu: apt-get install pulseaudio pulseaudio-utils)")
        self._tmp = tempfile.TemporaryDirectory(prefix="virtual-headset-")
        self.dir = Path(self._tmp.name)
        runtime, home, state = self.dir / "run", self.dir / "home", self.dir / "state"
        for d in (runtime, home, state):
            d.mkdir(mode=0o700)
        socket = runtime / "native"
        cookie = self.dir / "cookie"
        client_conf = self.dir / "client.conf"
        client_conf.write_text(f"autospawn = no\ndefault-server = unix:{socket}\n")
        self._env = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_RUNTIME_PATH": str(runtime),
            "PULSE_STATE_PATH": str(state),
            "PULSE_SERVER": f"unix:{socket}",
            "PULSE_CLIENTCONFIG": str(client_conf),
            "PULSE_COOKIE": str(cookie),
            "PULSE_SOURCE": "mic.monitor",  # what the companion records from
            "PULSE_SINK": "spk",  # what the companion plays to
        }
        daemon_env = {**os.environ, **self._env, "HOME": str(home)}
        daemon_env.pop("PULSE_SERVER", None)  # the daemon must not try to reach another server
        daemon_env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.log_path = self.dir / "pulseaudio.log"
        with open(self.log_path, "wb") as log:
            self.daemon = subprocess.Popen(
                ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--use-pid-file=no",
                 "--system=no", "--realtime=no", "--high-priority=no", "--log-target=stderr",
                 f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
                 f"--load=module-null-sink sink_name=mic rate={self.mic_rate} channels=1",
                 f"--load=module-null-sink sink_name=spk rate={self.spk_rate} channels=1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=daemon_env,
                cwd=self.dir, start_new_session=True, preexec_fn=_die_with_parent)
        try:
            self._wait_ready(socket)
            # clients without PULSE_SINK/PULSE_SOURCE (e.g. ALSA "default") still land right
            self.pactl("set-default-sink", "spk")
            self.pactl("set-default-source", "mic.monitor")
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self, socket: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise HeadsetError(f"pulseaudio exited with {self.daemon.returncode}: {self._log_tail()}")
            if socket.exists():
                r = subprocess.run(["pactl", "list", "short", "sinks"], env=self.environ(),
                                   capture_output=True, text=True, timeout=5)
                if r.returncode == 0 and "spk" in r.stdout and "mic" in r.stdout:
                    return
            time.sleep(0.05)
        raise HeadsetError(f"pulseaudio did not become ready in {self.start_timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        for rec in self._recorders:  # still recording: stop, write its WAV, close its file
            try:
                rec.stop()
            except OSError:
                pass
        self._recorders.clear()
        for proc in reversed(self._children):
            _stop_process(proc, signal.SIGINT if proc.args and proc.args[0] == "parecord" else signal.SIGTERM)
        self._children.clear()
        if self.daemon is not None:
            _stop_process(self.daemon, signal.SIGTERM, timeout=5)
            self.daemon = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def pids(self) -> list[int]:
        """Process ids of everything this headset started that may still be running."""
        procs = ([self.daemon] if self.daemon else []) + self._children
        return [p.pid for p in procs if p.poll() is None]

    # -- environment ---------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """The variables that point a PulseAudio/PortAudio client at this headset."""
        return dict(self._env)

    def environ(self, base: dict[str, str] | None = None, voice: str | None = "joe", **extra: str) -> dict[str, str]:
        """A full environment for a subprocess (``base`` defaults to ``os.environ``). The process
        speaks with ``voice`` (``None``: the configured one) unless ``base`` or ``extra`` say
        otherwise. Piper's ``joe`` by default: the tests are about turn taking, barge-in and
        devices, and on two shared cores the default Kokoro voice's first clause can take seconds
        while a test suite runs beside it (the voice has tests of its own; the benchmarks pass
        ``voice=None`` and measure the default voice)."""
        env = dict(os.environ if base is None else base)
        env.update(self._env)
        if voice:
            env.setdefault("COMPANION_TTS_VOICE", voice)
        env.update(extra)
        return env

    def pactl(self, *args: str) -> str:
        r = subprocess.run(["pactl", *args], env=self.environ(), capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise HeadsetError(f"pactl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    # -- mouth and ear -------------------------------------------------------------------
    def play(self, wav: str | Path, wait: bool = True, timeout: float | None = 120, sink: str = "mic") -> subprocess.Popen:
        """Play ``wav`` into the virtual microphone (``paplay --device=mic``; another null sink
        with ``sink``). With ``wait``, return once it has played; else return the running process."""
        proc = subprocess.Popen(["paplay", f"--device={sink}", "--latency-msec=20", str(wav)], env=self.environ(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=_die_with_parent)
        self._children.append(proc)
        if wait:
            _, err = proc.communicate(timeout=timeout)
            self._children.remove(proc)
            if proc.returncode != 0:
                raise HeadsetError(f"paplay {wav} failed ({proc.returncode}): {err.decode(errors='replace')}")
        return proc

    def record(self, path: str | Path | None = None, source: str = "spk.monitor",
               rate: int | None = None) -> Recorder:
        """Start recording ``source`` (default: the virtual speaker). Use as a context manager
        or call ``.stop()``; the WAV is written to ``path`` on stop."""
        if rate is None:
            rate = self.mic_rate if source.startswith("mic") else self.spk_rate
        return Recorder(self, source, rate, path)
