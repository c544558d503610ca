"""One Samantha per data directory: two processes on one microphone, one memory database and
one transcript folder would talk over each other and interleave what they store.

The guard is an ``flock`` on ``companion.lock`` in the data directory. The kernel drops the
lock when the process ends, however it ends, so a ``kill -9`` or a power cut leaves no stale
lock behind; the pid written into the file is only there to name the running process."""

from __future__ import annotations

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


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"


@contextmanager
def single_instance(data: Path) -> Iterator[Path]:
    """Hold the data directory for this process, or raise :class:`AlreadyRunning`."""
    path = Path(data) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            raise AlreadyRunning(
                f"Samantha is already running on {data} (pid {pid}). Talk to that one, or stop it first "
                f"('companion service uninstall' if it runs as a service, else: kill {pid}); another data "
                "directory (COMPANION_HOME) can run beside it", pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # the file stays: unlinking it would let a third process lock a new inode
    finally:
        os.close(fd)  # releases the lock
