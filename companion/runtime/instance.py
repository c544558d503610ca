"""One Samantha per data directory: two processes on one microphone, one memory database and
one transcript folder would talk over each other and interleave what they store.

The guard is an ``flock`` on ``companion.lock`` in the data directory. The kernel drops the
lock when the process ends, however it ends, so a ``kill -9`` or a power cut leaves no stale
lock behind; the pid written into the file is only there to name the running process."""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_NAME = "companion.lock"


class AlreadyRunning(RuntimeError):
    """Another companion holds the data directory; the message names its pid and what to do."""

    def __init__(self, message: str, pid: str):
        super().__init__(message)
        self.pid = pid


class DataDirectoryError(RuntimeError):
    """The data directory cannot be written (disk full, permissions); says what to do."""


def _unusable(data: Path, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = ("the disk is full. Free some space there (she needs a few MB for her memory, logs and "
                  "transcripts) or set COMPANION_HOME to a folder on another disk")
    else:
        advice = "check that the folder is yours and writable (ls -ld), or set COMPANION_HOME to another folder"
    return f"cannot use the data directory {data} ({exc.strerror}): {advice}"


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return (os.read(fd, 64).decode("ascii", "replace").split() or ["unknown"])[0]


def holder(data: Path) -> tuple[int, str] | None:
    """The pid and command (``run``, ``replay``) holding ``data``, from the lock file; ``None``
    when nobody does (the file is emptied on release; a killed holder's pid is checked by the caller)."""
    try:
        pid, what = (Path(data) / LOCK_NAME).read_text(encoding="ascii").split()[:2]
        return int(pid), what
    except (OSError, ValueError):  # no file, empty, or an older one with the pid alone
        return None


@contextmanager
def single_instance(data: Path, what: str = "run") -> Iterator[Path]:
    """Hold the data directory for this process (doing ``what``), or raise :class:`AlreadyRunning`."""
    path = Path(data) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DataDirectoryError(_unusable(data, exc)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            raise AlreadyRunning(
                f"Samantha is already running on {data} (pid {pid}). Talk to that one, or stop it first "
                f"('companion service uninstall' if it runs as a service, else: kill {pid}); another data "
                "directory (COMPANION_HOME) can run beside it", pid) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        except OSError as exc:  # a full disk: the pid cannot be written, so nothing else could be either
            raise DataDirectoryError(_unusable(data, exc)) from None
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # the file stays: unlinking it would let a third process lock a new inode
    finally:
        os.close(fd)  # releases the lock
