"""``companion service``: the systemd user unit's text, and what install/uninstall/status run,
with ``systemctl`` absent or replaced by a stub on PATH that records its arguments."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

import pytest

from companion.ops.cli import main
from companion.ops.service import unit_path, unit_text


def _parse(text: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str
    unit.read_string(text)
    return unit


@pytest.fixture
def no_systemctl(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    """A fake systemctl: appends its arguments to calls.txt; exits with the code in rc.txt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls, rc = tmp_path / "calls.txt", tmp_path / "rc.txt"
    rc.write_text("0")
    stub = bin_dir / "systemctl"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "stub says: $@" \nexit $(/bin/cat {rc})\n')
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    calls.touch()
    return lambda: calls.read_text().splitlines(), rc


def test_unit_runs_this_installation_quietly_restarts_on_failure_and_stops_a_crash_loop():
    exe = Path(sys.executable).parent / "companion"
    unit = _parse(unit_text(exe, companion_home="/data/sam 100%"))
    service = unit["Service"]
    assert service["ExecStart"] == f"{exe} run --quiet"
    assert Path(service["ExecStart"].split()[0]).is_absolute()
    assert service["Restart"] == "on-failure" and int(service["RestartSec"]) >= 2
    assert int(unit["Unit"]["StartLimitBurst"]) <= 10 and int(unit["Unit"]["StartLimitIntervalSec"]) >= 60
    assert service["StandardError"] == "journal"
    assert "'COMPANION_HOME=/data/sam 100%%'" in unit_text(exe, companion_home="/data/sam 100%")  # quoted, % escaped
    assert unit["Install"]["WantedBy"] == "default.target"  # a user target: no graphical session needed
    assert "DISPLAY" not in unit_text(exe) and "graphical" not in unit_text(exe)
    assert "COMPANION_HOME" not in unit_text(exe)  # only when set


def test_install_without_systemctl_writes_the_unit_and_says_what_to_run(no_systemctl, companion_home, capsys):
    assert main(["service", "install"]) == 0
    out = capsys.readouterr().out
    path = unit_path()
    assert path.name == "companion.service"  # what journalctl -u companion and the README name
    assert path.parent.name == "user" and path.parent.parent.name == "systemd"
    unit = _parse(path.read_text())
    assert unit["Service"]["ExecStart"].endswith("companion run --quiet")
    assert f"\nEnvironment=COMPANION_HOME={companion_home}\n" in path.read_text()
    assert "systemctl --user daemon-reload && systemctl --user enable --now companion" in out
    assert "loginctl enable-linger" in out


def test_install_passes_the_config_file(no_systemctl, tmp_path):
    cfg = tmp_path / "my.toml"
    cfg.write_text("")
    assert main(["--config", str(cfg), "service", "install"]) == 0
    assert _parse(unit_path().read_text())["Service"]["ExecStart"].endswith(f"--config {cfg} run --quiet")


def test_install_and_uninstall_drive_systemctl_user(systemctl, capsys):
    calls, _ = systemctl
    assert main(["service", "install"]) == 0
    assert calls() == ["--user daemon-reload", "--user enable --now companion.service"]
    assert "loginctl enable-linger" in capsys.readouterr().out

    assert main(["service", "status"]) == 0
    assert calls()[-1] == "--user status --no-pager companion.service"
    assert "stub says: --user status" in capsys.readouterr().out

    assert main(["service", "uninstall"]) == 0
    assert calls()[-2:] == ["--user disable --now companion.service", "--user daemon-reload"]
    assert not unit_path().exists()


def test_failing_systemctl_is_reported(systemctl, capsys):
    calls, rc = systemctl
    rc.write_text("1")
    assert main(["service", "install"]) == 1
    assert "systemctl failed (status 1)" in capsys.readouterr().out
    assert calls() == ["--user daemon-reload"]  # stopped at the first failure
    assert main(["service", "status"]) == 3  # installed, not active


def test_status_and_uninstall_when_not_installed(no_systemctl, capsys):
    assert main(["service", "status"]) == 1
    assert "not installed" in capsys.readouterr().out
    assert main(["service", "uninstall"]) == 0
    assert "no service installed" in capsys.readouterr().out


def test_install_keeps_the_settings_given_and_an_absolute_data_directory(no_systemctl, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMPANION_HOME", "sam-data")
    assert main(["--set", "vad.end_silence_ms=800", "--input-device", "Jabra Evolve", "service", "install"]) == 0
    text = unit_path().read_text()
    assert f"\nEnvironment=COMPANION_HOME={tmp_path / 'sam-data'}\n" in text
    assert _parse(text)["Service"]["ExecStart"].endswith(
        "--set vad.end_silence_ms=800 --input-device 'Jabra Evolve' run --quiet")


def test_uninstall_removes_the_unit_even_when_systemctl_fails(systemctl, capsys):
    calls, rc = systemctl
    assert main(["service", "install"]) == 0
    rc.write_text("1")
    assert main(["service", "uninstall"]) == 1
    assert not unit_path().exists()
    out = capsys.readouterr().out
    assert "systemctl failed (status 1)" in out and f"removed {unit_path()}" in out
