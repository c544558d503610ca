"""Push-to-talk, for noisy places: a key or a headset button says when the user is talking.

While it is on, microphone audio reaches the endpointer only while talking is on, and the
end of talking ends the turn at once (no end-of-turn silence to wait for). A source only
reports presses and releases; :class:`TalkGate` turns them into talk edges:

- a press starts talking, and a press while talking ends it: terminals give no key-up
  events, and many Bluetooth headsets report a click as press and release together;
- a release ends talking when the key was held (longer than ``CLICK_S``): hold-to-talk.

Sources: :class:`TerminalKey` (a key on the terminal's standard input) and
:class:`InputButton` (a headset button or keyboard key through Linux input devices, with
the optional ``evdev`` package). Each runs on its own thread and stamps events with
``time.monotonic()``, the microphone's clock, so the live loop applies an edge exactly
between the frames captured before and after it.
"""

from __future__ import annotations

import collections
import glob
import logging
import os
import select
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Protocol

log = logging.getLogger(__name__)

# What a headset's button sends: AVRCP (Bluetooth) and USB HID headsets use these.
HEADSET_BUTTONS = ("KEY_PLAYPAUSE", "KEY_PLAYCD", "KEY_PAUSECD", "KEY_PLAY", "KEY_PAUSE", "KEY_MEDIA", "KEY_PHONE",
                   "KEY_PICKUP_PHONE", "KEY_HANGUP_PHONE", "KEY_VOICECOMMAND")
TERMINAL_KEYS = {"space": (b" ",), "enter": (b"\r", b"\n"), "tab": (b"\t",)}
NO_TERMINAL = ("[audio] push_to_talk = 'key' needs a terminal, and standard input is not one (as under a service): "
               "use 'button' for a headset button, or 'off'")
INPUT_GROUP_HINT = ("add yourself to the 'input' group (sudo usermod -aG input $USER), then log out and in again "
                    "(a systemd user service needs a restart of the user session too)")


class PushToTalkError(RuntimeError):
    """Push-to-talk cannot start; the message says what to do."""


@dataclass(frozen=True)
class Edge:
    talking: bool  # True: the user started talking; False: the turn is over
    t: float  # time.monotonic() of the press or release


class TalkSource(Protocol):
    """What a key or button source provides: it reports to the gate from its own thread."""

    def start(self, gate: "TalkGate") -> None:
        """Begin reporting ``gate.press(t)`` / ``gate.release(t)``; raise PushToTalkError with
        advice when it cannot work."""

    def close(self) -> None:
        """Stop, and put back what was changed (the terminal's mode)."""

    def describe(self) -> str:
        """How the user talks with it, for the log and ``companion doctor``."""


class TalkGate:
    """Presses and releases in, talk edges out (see the module's docstring).

    Sources call :meth:`press` / :meth:`release` from their threads; the live loop calls
    :meth:`take` with each frame's time and reads :attr:`talking`, which follows the edges
    taken so far."""

    CLICK_S = 0.35  # a release sooner than this after the press was a click: talking stays on

    def __init__(self, sources: tuple[TalkSource, ...] | list[TalkSource] = ()):
        self.sources = list(sources)
        self.talking = False  # as of the edges taken by the loop
        self._lock = threading.Lock()
        self._edges: collections.deque[Edge] = collections.deque()
        self._on = False  # as of the presses seen by the sources
        self._pressed_at: float | None = None  # the press that started talking, while it is down

    def press(self, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        with self._lock:
            self._on = not self._on
            self._pressed_at = t if self._on else None
            self._edges.append(Edge(self._on, t))

    def release(self, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        with self._lock:
            if self._on and self._pressed_at is not None and t - self._pressed_at >= self.CLICK_S:
                self._on = False
                self._edges.append(Edge(False, t))
            self._pressed_at = None

    def reset(self) -> None:
        """Forget presses so far (made while she was not listening yet)."""
        with self._lock:
            self._edges.clear()
            self._on, self._pressed_at, self.talking = False, None, False

    def take(self, until: float) -> list[Edge]:
        """The edges that happened by ``until`` (a frame's time), in order."""
        out = []
        with self._lock:
            while self._edges and self._edges[0].t <= until:
                out.append(self._edges.popleft())
        if out:
            self.talking = out[-1].talking
        return out

    def start(self) -> "TalkGate":
        started = []
        try:
            for source in self.sources:
                source.start(self)
                started.append(source)
        except BaseException:
            for source in started:
                source.close()
            raise
        return self

    def close(self) -> None:
        for source in self.sources:
            source.close()


@contextmanager
def push_to_talk(audio_cfg) -> Iterator[TalkGate | None]:
    """The gate for ``[audio] push_to_talk`` with its source running (None when it is off),
    closed on the way out, whatever ends the run (the terminal is restored)."""
    mode = audio_cfg.push_to_talk
    if mode == "off":
        yield None
        return
    if mode == "key":
        source = TerminalKey(audio_cfg.push_to_talk_key)
    else:
        source = InputButton(audio_cfg.push_to_talk_buttons, audio_cfg.push_to_talk_device)
    gate = TalkGate([source]).start()
    log.info("push-to-talk: %s; she hears you only while you talk with it", source.describe())
    try:
        yield gate
    finally:
        gate.close()


def check(audio_cfg) -> str:
    """For ``companion doctor``: what push-to-talk will use, or a PushToTalkError saying why
    it cannot work."""
    mode = audio_cfg.push_to_talk
    if mode == "off":
        return "off (she hears whatever the microphone hears)"
    if mode == "key":
        if not (sys.stdin is not None and sys.stdin.isatty()):
            raise PushToTalkError(NO_TERMINAL)
        return TerminalKey(audio_cfg.push_to_talk_key).describe()
    button = InputButton(audio_cfg.push_to_talk_buttons, audio_cfg.push_to_talk_device)
    button.device = find_button_device(button.codes, button.name, button.input_dir)
    try:
        return f"{button.describe()} ({button.device.path})"
    finally:
        button.device.close()


# -- a key on the terminal ------------------------------------------------------------------------
class TerminalKey:
    """A key on the terminal (standard input): press to talk, press again to send.

    The terminal is put in cbreak mode (keys arrive one by one, not echoed; Ctrl-C still
    interrupts) and restored by :meth:`close`, which the live loop's orderly shutdown calls
    on Ctrl-C and SIGTERM alike."""

    def __init__(self, key: str = "space", stdin=None):
        self.key = key
        self._bytes = None if key == "any" else TERMINAL_KEYS.get(key, (key.encode(),))
        self._stdin = stdin if stdin is not None else sys.stdin
        self._saved = None
        self._sigterm = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def describe(self) -> str:
        return f"press {'any key' if self.key == 'any' else repr(self.key)} to talk, press it again to send"

    def start(self, gate: TalkGate) -> None:
        import termios
        import tty

        try:
            self._fd = self._stdin.fileno()
        except (AttributeError, ValueError, OSError):
            self._fd = -1
        if self._fd < 0 or not os.isatty(self._fd):
            raise PushToTalkError(NO_TERMINAL)
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd, termios.TCSANOW)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            # a SIGTERM before the live loop takes it over (models loading) unwinds, so close() runs
            self._sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self._gate = gate
        self._thread = threading.Thread(target=self._run, name="push-to-talk-key", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self._fd, 64)
            except OSError as exc:
                log.warning("push-to-talk: cannot read the terminal any more (%s)", exc)
                return
            if not data:  # the terminal went away
                return
            now = time.monotonic()
            presses = 1 if self._bytes is None else sum(data.count(b) for b in self._bytes)
            for _ in range(presses):
                self._gate.press(now)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._sigterm is not None and signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
            signal.signal(signal.SIGTERM, self._sigterm)
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass
            self._saved = None


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# -- a button on a Linux input device -----------------------------------------------------------------
def _evdev():
    try:
        import evdev
    except ImportError:
        raise PushToTalkError("[audio] push_to_talk = 'button' needs the evdev package: "
                              ".venv/bin/python -m pip install evdev-binary (the 'buttons' extra of companion)") from None
    return evdev


def button_codes(names: str) -> dict[int, str]:
    """Key codes for ``[audio] push_to_talk_buttons`` ('' = the usual headset buttons)."""
    ecodes = _evdev().ecodes.ecodes
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in ecodes]
    if unknown:
        raise PushToTalkError(f"[audio] push_to_talk_buttons: {', '.join(unknown)} is not a key this system knows; "
                              "use names like KEY_PLAYPAUSE, KEY_MEDIA, KEY_PHONE or KEY_F12")
    return {ecodes[n]: n for n in (wanted or [n for n in HEADSET_BUTTONS if n in ecodes])}


def find_button_device(codes: dict[int, str], name: str = "", input_dir: str = "/dev/input"):
    """The first readable input device whose name contains ``name`` and that has one of
    ``codes``; a :class:`PushToTalkError` that says why none is usable otherwise."""
    evdev = _evdev()
    paths = sorted(glob.glob(os.path.join(input_dir, "event*")))
    if not paths:
        raise PushToTalkError(f"no input devices in {input_dir} (pair or plug in the headset; over Bluetooth its "
                              "buttons need the AVRCP input device, e.g. bluetoothd's 'input' plugin)")
    readable = [p for p in paths if os.access(p, os.R_OK)]
    if not readable:
        raise PushToTalkError(f"cannot read the input devices in {input_dir} (permission denied): "
                              f"{INPUT_GROUP_HINT}")
    seen = []
    for path in readable:
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        keys = set(device.capabilities().get(evdev.ecodes.EV_KEY, []))
        if name.lower() in device.name.lower() and keys & set(codes):
            for other in seen:
                other.close()
            return device
        seen.append(device)
    names = ", ".join(sorted({repr(d.name) for d in seen})) or "none"
    for d in seen:
        d.close()
    what = ", ".join(codes.values())
    where = f" named like {name!r}" if name else ""
    hint = f"; some devices in {input_dir} are not readable: {INPUT_GROUP_HINT}" if len(readable) < len(paths) else ""
    raise PushToTalkError(f"no input device{where} has a button among {what} (readable devices: {names}); set "
                          f"[audio] push_to_talk_device and push_to_talk_buttons (try 'evtest' to see what a press "
                          f"sends){hint}")


class InputButton:
    """A headset button (Bluetooth AVRCP or USB HID) or keyboard key, through Linux input
    devices: real press and release, so holding it talks, and a click toggles.

    A headset that goes away (Bluetooth drop) takes its input device with it: the device is
    looked for again every ``retry_s`` until it is back."""

    def __init__(self, buttons: str = "", device: str = "", input_dir: str = "/dev/input", retry_s: float = 2.0):
        self.codes = button_codes(buttons)
        self.name, self.input_dir, self.retry_s = device, input_dir, retry_s
        self.device = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def describe(self) -> str:
        return (f"hold (or click) {'/'.join(self.codes.values())} on {self.device.name!r} to talk"
                if self.device is not None else "a button")

    def start(self, gate: TalkGate) -> None:
        self._gate = gate
        self.device = find_button_device(self.codes, self.name, self.input_dir)  # fails here, with advice
        self._thread = threading.Thread(target=self._run, name="push-to-talk-button", daemon=True)
        self._thread.start()

    def handle(self, event) -> None:
        """One input event: key down presses, key up releases, auto-repeat is ignored."""
        if event.type == 1 and event.code in self.codes and event.value in (0, 1):  # EV_KEY
            (self._gate.press if event.value == 1 else self._gate.release)(time.monotonic())

    def _run(self) -> None:
        while not self._stop.is_set():
            device = self.device
            if device is None:
                try:
                    self.device = find_button_device(self.codes, self.name, self.input_dir)
                    log.warning("push-to-talk: button back on %r", self.device.name)
                except PushToTalkError:
                    self._stop.wait(self.retry_s)
                continue
            try:
                ready, _, _ = select.select([device.fd], [], [], 0.1)
                if ready:
                    for event in device.read():
                        self.handle(event)
            except BlockingIOError:
                continue
            except OSError as exc:  # ENODEV: the headset went away
                log.warning("push-to-talk: lost %r (%s); waiting for it to come back", device.name, exc)
                self._gate.release()  # a held button cannot be released any more
                try:
                    device.close()
                except OSError:
                    pass
                self.device = None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self.device is not None:
            try:
                self.device.close()
            except OSError:
                pass
