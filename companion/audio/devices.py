"""Finding audio devices by name substring or index, with messages that say what to do."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


class AudioDeviceError(RuntimeError):
    """No usable device; the message says how to pick one (or to use ``replay``)."""


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: int
    hostapi: str


def _sd():
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        raise AudioDeviceError(
            f"PortAudio is not installed ({exc}). Install it (Debian/Ubuntu: sudo apt-get install libportaudio2; "
            "macOS: brew install portaudio), or use 'companion replay' to work from recorded files.") from None
    return sd


def list_devices() -> list[Device]:
    sd = _sd()
    apis = sd.query_hostapis()
    return [Device(i, d["name"], d["max_input_channels"], d["max_output_channels"], int(d["default_samplerate"]),
                   apis[d["hostapi"]]["name"]) for i, d in enumerate(sd.query_devices())]


def find_device(spec: str, kind: str) -> Device:
    """Resolve ``spec`` (index, name substring, or '' for the default) to a device with
    ``kind`` ('input' or 'output') channels."""
    sd = _sd()
    devices = list_devices()
    channels = (lambda d: d.inputs) if kind == "input" else (lambda d: d.outputs)
    usable = [d for d in devices if channels(d) > 0]
    hint = ("Run 'companion devices' to see them and set [audio] "
            f"{kind}_device (or --{kind}-device) to a name or index"
            + (", or use 'companion replay IN.wav --out DIR' to talk from recorded files." if kind == "input" else "."))
    if not usable:
        raise AudioDeviceError(f"No audio {kind} device found. Plug in a headset; {hint}")
    spec = (spec or "").strip()
    if not spec:
        try:
            default_index = sd.default.device[0 if kind == "input" else 1]
        except Exception:
            default_index = -1
        if default_index is None or default_index < 0:
            try:
                default_index = sd.query_devices(kind=kind)["index"]
            except Exception:
                default_index = -1
        for d in usable:
            if d.index == default_index:
                return d
        raise AudioDeviceError(f"There is no default audio {kind} device. {hint}")
    if spec.lstrip("-").isdigit():
        idx = int(spec)
        for d in usable:
            if d.index == idx:
                return d
        raise AudioDeviceError(f"Audio {kind} device #{idx} does not exist or has no {kind} channels. {hint}")
    matches = [d for d in usable if spec.lower() in d.name.lower()]
    if not matches:
        names = ", ".join(repr(d.name) for d in usable)
        raise AudioDeviceError(f"No audio {kind} device matches {spec!r} (available: {names}). {hint}")
    return matches[0]


def open_named_else_default(spec: str, kind: str, open_on) -> bool | None:
    """Open the device ``spec`` names with ``open_on(device)``, else the default one. Returns
    whether it is the default standing in for the named one, or None when neither opened."""
    for candidate in dict.fromkeys((spec, "")):
        try:
            open_on(find_device(candidate, kind))
            return candidate != spec
        except Exception as exc:
            log.debug("could not open the %s device %r: %s", kind, candidate or "default", exc)
    return None


def close_quietly(stream) -> None:
    """Abort and close a stream whose device may already be gone."""
    if stream is not None:
        try:
            stream.abort()
            stream.close()
        except Exception:
            pass


def pick_rate(device: Device, kind: str, preferred: tuple[int, ...]) -> int:
    """The first of ``preferred`` rates (then the device's own) that the device accepts for
    mono float32 ``kind`` ('input' or 'output'); resampling covers the rest."""
    sd = _sd()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    for rate in (*preferred, device.default_rate):
        try:
            check(device=device.index, samplerate=rate, channels=1, dtype="float32")
            return int(rate)
        except Exception:
            continue
    return int(device.default_rate)


def portaudio_latency(ms: int) -> str | float:
    """``[audio] *_latency_ms`` as sounddevice takes it: 0 is PortAudio's own 'high' setting."""
    return "high" if ms <= 0 else ms / 1000
