"""Fewer glibc malloc arenas for the long-running live loop.

glibc gives threads their own 64 MB heaps ("arenas", up to eight per core). Replies, Whisper,
Piper and the embedded llama.cpp all allocate buffers of a different size per sentence on
different threads, and each arena keeps its freed pages: a day of conversation looked like a
leak (the soak grew by hundreds of MB; five arenas full in ``/proc/PID/smaps``). Two arenas
hold the same work with far less left behind. ``MALLOC_ARENA_MAX`` set by the user wins;
elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(most: int = 2) -> None:
    """Call before the first threads start (arenas are made lazily, on contention)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if libc.mallopt(M_ARENA_MAX, most) != 1:
            log.debug("mallopt(M_ARENA_MAX) refused")
    except (OSError, AttributeError):  # not glibc
        pass
