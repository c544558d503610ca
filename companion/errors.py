"""Errors a user can fix, and the one place their wording for a file system error lives.

They are raised where the cause is known and printed once, as one line, at the command line's
edge (:mod:`companion.ops.cli`): exit status 2 for an argument that cannot work, 1 for the rest.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class UsageError(RuntimeError):
    """An argument that cannot work (an empty sentence, a folder where a file is wanted);
    the message says what to give instead. Exit status 2, like a bad setting."""


_ADVICE = {
    errno.EISDIR: "is a folder; give a file name (for example {path}/NAME)",
    errno.ENOTDIR: "cannot be used: a part of that path is a file, not a folder; choose another place",
    errno.EACCES: "is not accessible (permission denied); choose a place you can write, or fix its permissions",
    errno.EPERM: "is not accessible (operation not permitted); choose a place you can write, or fix its permissions",
    errno.ENOSPC: "cannot be written: the disk is full; free some space and try again",
    errno.EDQUOT: "cannot be written: the disk quota is used up; free some space and try again",
    errno.EROFS: "is on a read-only file system; choose another place",
    errno.EEXIST: "already exists; choose another name",
}


def explain_os_error(exc: OSError) -> str:
    """One sentence naming the path and what to do about ``exc``."""
    path = exc.filename
    if path is None:
        return f"{exc.strerror or exc}"
    if exc.errno == errno.ENOENT:
        parent = Path(path).parent
        if not parent.exists():
            return f"{path}: the folder {parent} does not exist; create it first (mkdir -p {parent}) or choose another place"
        return f"{path} does not exist; check the name"
    advice = _ADVICE.get(exc.errno)
    return f"{path} {advice.format(path=path)}" if advice else f"{path}: {exc.strerror or exc}"


def check_new_file(path: Path, force: bool = False) -> Path:
    """``path`` if a file can be written there, else a :class:`UsageError` saying why: it is a
    folder, its folder does not exist (none is created: a typo must not make folders at the
    root), or it exists and ``force`` was not given."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name inside it")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist; create it first "
                         f"(mkdir -p {path.parent}) or choose another place")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; add --force to replace it, or choose another name")
    return path


def write_user_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a file the user named, private (0600) like everything she keeps; a
    write that fails part way (disk full) leaves no half file and names the path."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        if exc.filename is None and Path(path).is_file():  # the write, not the open: remove what was begun
            Path(path).unlink()
        raise OSError(exc.errno, exc.strerror, str(path)) from None
