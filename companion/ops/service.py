"""``companion service install|uninstall|status``: run Samantha as a systemd *user* service, so
she starts at login (or at boot, with lingering) with no terminal and no display.

The unit runs this installation's own ``companion`` script (its absolute path, so the right
virtualenv is used), restarts her when she fails, and stops retrying after a few quick
failures, so a broken config or a missing model does not become a crash loop; her log goes to
the journal (``journalctl --user -u companion``). Where ``systemctl`` is missing (no systemd,
a container), the unit is still written and the commands to run are printed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

UNIT_NAME = "companion.service"  # journalctl -u companion, systemctl --user restart companion


def unit_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user" / UNIT_NAME


def companion_executable() -> Path:
    """The ``companion`` console script of the running installation (beside its Python)."""
    script = Path(sys.executable).parent / "companion"
    if script.is_file():
        return script
    found = shutil.which("companion")
    if found:
        return Path(found).resolve()
    raise RuntimeError(f"cannot find this installation's 'companion' script next to {sys.executable}; "
                       "reinstall the package (pip install -e .) in the virtualenv you run her from")


def _quote(value: str) -> str:
    """systemd splits ExecStart like a shell and expands % specifiers; keep paths literal."""
    return shlex.quote(value).replace("%", "%%")


def unit_text(executable: Path, companion_home: str | None = None, config: str | None = None,
              flags: list[str] = ()) -> str:
    """``flags``: the command line's settings (``--set``, devices, persona), kept as given."""
    command = [str(executable)] + (["--config", config] if config else []) + list(flags) + ["run", "--quiet"]
    env = f"Environment={_quote('COMPANION_HOME=' + companion_home)}\n" if companion_home else ""
    return f"""[Unit]
Description=Samantha, a local voice-first companion
Documentation=file://{Path(__file__).resolve().parents[2] / "README.md"}
After=sound.target pipewire.service pulseaudio.service
# No more than 5 starts in 5 minutes: a broken config or a missing model stops here instead
# of looping; 'companion doctor' says what to fix, then 'systemctl --user restart companion'.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=simple
ExecStart={" ".join(_quote(c) for c in command)}
{env}Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
# Status lines go to the journal (journalctl --user -u companion); the JSON log stays in the
# data directory's logs/.
StandardOutput=journal
StandardError=journal
SyslogIdentifier=companion
# SIGTERM is her orderly stop (turns saved, memory committed).
KillSignal=SIGTERM
TimeoutStopSec=15
UMask=0077

[Install]
WantedBy=default.target
"""


def _systemctl(*args: str) -> subprocess.CompletedProcess | None:
    """Run ``systemctl --user ARGS`` if systemd is here; ``None`` if it is not."""
    exe = shutil.which("systemctl")
    if exe is None:
        return None
    return subprocess.run([exe, "--user", *args], capture_output=True, text=True)


NO_SYSTEMCTL = ("systemctl was not found (no systemd here). Where systemd runs, start her with:\n"
                "  systemctl --user daemon-reload && systemctl --user enable --now companion\n")
LINGER = ("To keep her running without a login session (lid closed, after a reboot), run once:\n"
          "  loginctl enable-linger $USER\n")


def _run_steps(steps: list[tuple[str, ...]]) -> int:
    for step in steps:
        result = _systemctl(*step)
        print(f"$ systemctl --user {' '.join(step)}")
        if result.returncode != 0:
            print((result.stderr or result.stdout).strip())
            print(f"systemctl failed (status {result.returncode}). If there is no user session bus "
                  "(e.g. over ssh as another user), log in as this user and run the command above.")
            return 1
    return 0


def install(config: str | None = None, flags: list[str] = ()) -> int:
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    home = os.environ.get("COMPANION_HOME")  # absolute: the service does not start in this folder
    home = str(Path(home).expanduser().resolve()) if home else None
    path.write_text(unit_text(companion_executable(), home, config, flags))
    print(f"wrote {path}")
    if shutil.which("systemctl") is None:
        print(NO_SYSTEMCTL + LINGER, end="")
        return 0
    code = _run_steps([("daemon-reload",), ("enable", "--now", UNIT_NAME)])
    if code == 0:
        print("Samantha is running as a service; 'companion status' shows how she is, "
              "'journalctl --user -u companion -f' her log.\n" + LINGER, end="")
    return code


def uninstall() -> int:
    path = unit_path()
    have_systemctl = shutil.which("systemctl") is not None
    failed = bool(have_systemctl and path.exists() and _run_steps([("disable", "--now", UNIT_NAME)]))
    if path.exists():  # removed even when systemctl failed: otherwise she would start again at the next login
        path.unlink()
        print(f"removed {path}")
    else:
        print(f"no service installed ({path} does not exist)")
    if have_systemctl:
        return _run_steps([("daemon-reload",)]) or int(failed)
    print("systemctl was not found; if a service was running elsewhere, stop it with:\n"
          "  systemctl --user disable --now companion")
    return 0


def status() -> int:
    """0 when the service is active, 3 when installed but not running, 1 when not installed."""
    path = unit_path()
    if not path.exists():
        print(f"not installed ({path} does not exist); install it with 'companion service install'")
        return 1
    print(f"installed: {path}")
    result = _systemctl("status", "--no-pager", UNIT_NAME)
    if result is None:
        print(NO_SYSTEMCTL, end="")
        return 3
    print(result.stdout.rstrip())
    return 0 if result.returncode == 0 else 3
