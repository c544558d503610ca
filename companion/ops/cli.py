"""Command line: parses arguments and calls into :mod:`companion.app`; no logic lives here.

Domain errors are turned into one-line messages and exit codes only at this edge (:func:`_explain`):
2 for configuration and arguments that cannot work, 1 for everything else a user can fix
(devices, models, files, a full disk); a reader that closes the pipe (``| head``) ends it quietly.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path

from .config import ConfigError, data_dir, load_config, parse_assignments

COMMANDS = ("run", "replay", "say", "voices", "devices", "doctor", "memory", "reminders", "calendar", "letters", "status", "service")


def _parser() -> argparse.ArgumentParser:
    # SUPPRESS: a subcommand's copy of these options must not overwrite values given before it
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--config", metavar="PATH", help="config file (default: ~/.config/companion/config.toml, else ./config.toml)")
    common.add_argument("--set", dest="assignments", action="append", metavar="SECTION.KEY=VALUE",
                        help="override one setting, e.g. --set vad.end_silence_ms=800 (repeatable)")
    common.add_argument("--input-device", help="microphone: name substring or index")
    common.add_argument("--output-device", help="speaker or headset: name substring or index")
    common.add_argument("--persona", metavar="NAME", help="persona from prompts/ (or a .md/.json path), e.g. samantha")
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on the terminal")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    p = argparse.ArgumentParser(prog="companion", parents=[common],
                                description="Samantha, a local voice-first companion. With no command: 'run'.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="talk live on the default (or chosen) audio devices")
    rp = sub.add_parser("replay", parents=[common], help="run recorded user turns through the same pipeline")
    rp.add_argument("inputs", nargs="+", metavar="IN", help="audio files, one user turn each (any rate, mono or stereo)")
    rp.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for reply WAVs and transcript.jsonl")
    sp = sub.add_parser("say", parents=[common], help="speak a sentence with the configured voice")
    sp.add_argument("text")
    sp.add_argument("--out", type=Path, metavar="FILE.wav", help="write a WAV instead of playing")
    vp = sub.add_parser("voices", parents=[common], help="list the voices (* = the one in use); write or play a sample of each")
    vp.add_argument("--sample", type=Path, metavar="DIR", help="write a sample WAV of every voice into DIR")
    vp.add_argument("--play", metavar="NAME", help="play a sample of voice NAME on the speaker")
    sub.add_parser("devices", parents=[common], help="list audio devices")
    sub.add_parser("doctor", parents=[common], help="check devices, models and the LLM endpoint")
    sub.add_parser("status", parents=[common], help="is she running, on which devices and models, the last turn's latency")
    sub.add_parser("service", parents=[common], help="run her as a systemd user service (starts at login, restarts on failure)"
                   ).add_argument("service_action", choices=("install", "uninstall", "status"), metavar="install|uninstall|status")
    mp = sub.add_parser("memory", parents=[common], help="see, search, export or erase what Samantha remembers")
    msub = mp.add_subparsers(dest="memory_action", metavar="ACTION", required=True)
    msub.add_parser("list", help="facts remembered about you").add_argument(
        "--all", action="store_true", help="include values that were replaced by newer ones")
    msub.add_parser("search", help="facts and past turns matching TEXT").add_argument("text", nargs="+", metavar="TEXT")
    msub.add_parser("forget", help="erase fact ID (see list) and every sentence that says it").add_argument("id", type=int)
    mexp = msub.add_parser("export", help="write everything to a JSON file")
    mexp.add_argument("file", type=Path, metavar="FILE.json")
    mexp.add_argument("--force", action="store_true", help="replace FILE.json if it exists")
    msub.add_parser("import", help="add a JSON export").add_argument("file", type=Path, metavar="FILE.json")
    msub.add_parser("wipe", help="erase all memory").add_argument("--yes", action="store_true", help="really do it")
    rsub = sub.add_parser("reminders", parents=[common], help="list, add or cancel reminders").add_subparsers(
        dest="reminders_action", metavar="ACTION", required=True)
    rsub.add_parser("list", help="open reminders, soonest first")
    rsub.add_parser("add", help="e.g.: add call my sister tomorrow at 6 pm").add_argument("text", nargs="+", metavar="WORDS")
    rsub.add_parser("cancel", help="cancel reminder ID (see list)").add_argument("id", type=int)
    csub = sub.add_parser("calendar", parents=[common], help="the calendar (an .ics file): list, add, export, import"
                          ).add_subparsers(dest="calendar_action", metavar="ACTION", required=True)
    csub.add_parser("list", help="coming events").add_argument("--days", type=_days, default=7, help="how far ahead (7)")
    csub.add_parser("add", help="e.g.: add lunch with Amy on Friday at 1 pm").add_argument("text", nargs="+", metavar="WORDS")
    cexp = csub.add_parser("export", help="write the calendar to FILE.ics")
    cexp.add_argument("file", type=Path, metavar="FILE.ics")
    cexp.add_argument("--force", action="store_true", help="replace FILE.ics if it exists")
    csub.add_parser("import", help="merge the events of FILE.ics in").add_argument("file", type=Path, metavar="FILE.ics")
    lsub = sub.add_parser("letters", parents=[common], help="saved letters: list, show").add_subparsers(
        dest="letters_action", metavar="ACTION", required=True)
    lsub.add_parser("list", help="saved letters and any unfinished draft")
    lsub.add_parser("show", help="print a saved letter").add_argument("name", help="file name or words from it, e.g. grandmother")
    return p


def _days(text: str) -> int:
    """``--days``: a whole number of days ahead, at least one."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"{days} days ahead shows nothing; give 1 or more")
    return days


def _setup_logging(quiet: bool, verbose: bool, keep: bool) -> None:
    from .logs import keep_words, setup_logging

    setup_logging(data_dir() / "logs", quiet, verbose)
    keep_words(keep)  # memory off: the logs do not keep what was said either


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name, default in (("config", None), ("assignments", []), ("input_device", None), ("output_device", None), ("persona", None),
                          ("quiet", False), ("verbose", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    command = args.command or "run"
    try:
        flags = parse_assignments(args.assignments)
        if args.input_device is not None:
            flags.setdefault("audio", {})["input_device"] = args.input_device
        if args.output_device is not None:
            flags.setdefault("audio", {})["output_device"] = args.output_device
        if args.persona is not None:
            flags.setdefault("persona", {})["name"] = args.persona
        cfg = load_config(args.config, flags)
    except ConfigError as exc:
        print(f"companion: configuration error: {exc}", file=sys.stderr)
        if command == "doctor":  # its report names the setting too: the other checks need a config that loads
            from .doctor import Check, report

            print(report([Check("configuration", False, str(exc))])[0])
        return 2
    os.umask(0o077)  # what she writes (transcripts, logs, letters, calendar) is the user's alone
    try:
        _setup_logging(args.quiet, args.verbose, cfg.memory.enabled)  # makes the data directory: COMPANION_HOME may be unusable
        code = _dispatch(command, args, cfg)
        sys.stdout.flush()  # a reader that went away (| head) shows here, not as a traceback at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's own flush must not fail again
        return 141  # as if killed by SIGPIPE, like other tools in a pipe
    except Exception as exc:
        explained = None if args.verbose else _explain(exc)
        if explained is None:
            raise
        message, code = explained
        print(f"companion: {message}", file=sys.stderr)
        return code


def _explain(exc: Exception) -> tuple[str, int] | None:
    """The one line and exit status for an error the user can fix; ``None`` for a bug (its
    traceback is wanted). Domain errors carry their own sentence; file system errors get one
    naming the path."""
    from ..database import explain as explain_database_error
    from ..errors import UsageError, explain_os_error

    if isinstance(exc, UsageError):
        return str(exc), 2
    if isinstance(exc, RuntimeError):  # AudioDeviceError, ModelError, MemoryError, SkillError, AlreadyRunning...
        return str(exc), 1
    if isinstance(exc, OSError):
        return explain_os_error(exc), 1
    if isinstance(exc, sqlite3.Error):  # locked by another program, disk full
        return explain_database_error(exc), 1
    return None


def _flags(args) -> list[str]:
    """The settings given on this command line, as arguments for the service to start with."""
    out = [a for assignment in args.assignments for a in ("--set", assignment)]
    for name in ("input_device", "output_device", "persona"):
        if getattr(args, name) is not None:
            out += ["--" + name.replace("_", "-"), getattr(args, name)]
    return out


def _dispatch(command: str, args, cfg) -> int:
    from ..runtime import app, replay

    if command == "run":
        return app.exit_now(app.run_live(cfg))
    if command == "replay":
        return replay.replay(cfg, args.inputs, args.out)
    if command == "say":
        return app.say(cfg, args.text, args.out)
    if command == "voices":
        from ..tts import catalog

        if args.play:
            return app.play_sample(cfg, args.play)
        if args.sample:
            for info, path in catalog.write_samples(cfg.tts, data_dir(), args.sample):
                print(f"{info.name}: {path}" if path else f"{info.name}: skipped ({info.problem})")
            return 0
        print(f"  {'voice':<12} {'engine':<7} {'lang':<6} rate   ([tts] voice = \"NAME\", or --set tts.voice=NAME)")
        for info in catalog.list_voices(data_dir()):
            print(info.line(cfg.tts.voice))
        return 0
    if command == "devices":
        from ..audio.devices import list_devices

        devices = list_devices()
        if not devices:
            print("No audio devices found. Plug in a headset (or start PulseAudio/PipeWire); "
                  "'companion replay' works without devices.")
            return 1
        for d in devices:
            kinds = ", ".join(k for k, n in (("in", d.inputs), ("out", d.outputs)) if n)
            print(f"{d.index:3d}  {d.name}  [{kinds}; {d.default_rate} Hz; {d.hostapi}]")
        return 0
    if command == "memory":
        from ..memory.manage import run_command

        return run_command(cfg, args)
    if command in ("reminders", "calendar", "letters"):
        from ..skills.commands import run_command as run_skill_command

        return run_skill_command(cfg, args)
    if command == "status":
        from ..runtime.instance import holder
        from .status import describe, describe_other, read_status

        state, held = read_status(data_dir()), holder(data_dir())
        other = describe_other(*held, data_dir()) if held and held[1] != "run" else None
        if other:  # a replay holds the data directory: the live status file knows nothing of it
            print(other)
            return 0
        print(describe(state, data_dir()))
        return 0 if state and state["running"] else 3
    if command == "service":
        from . import service

        config = str(Path(args.config).expanduser().resolve()) if args.config else None
        return {"install": lambda: service.install(config, _flags(args)), "uninstall": service.uninstall,
                "status": service.status}[args.service_action]()
    if command == "doctor":
        from .doctor import report, run_checks

        text, code = report(run_checks(cfg))
        print(text)
        return code
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
