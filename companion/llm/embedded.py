"""The default LLM: llama.cpp's OpenAI-compatible server, in-process (xllamacpp).

Bound to 127.0.0.1 on a free port and protected by a random API key, so nothing else on
the machine or the network can use it.

Its threads run at a lower priority (``NICE``) than the rest of the process. On two cores the
model would otherwise take half the CPU from Piper while it writes ahead, and the first clause's
audio, which the user is waiting for, took twice as long (239 ms against 126 ms in the same
run). The model loses nothing by it: it is far ahead of playback, and when nothing else runs it
still gets the whole CPU.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

from ..ops.config import LLMConfig, data_dir
from ..model_files import resolve_gguf

log = logging.getLogger(__name__)

NICE = 10  # added to the server threads' nice value (Linux: per thread, inherited by the threads they start)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    model: str


class EmbeddedLLM:
    """Starts the server on construction; it lives as long as this object."""

    def __init__(self, cfg: LLMConfig):
        import xllamacpp

        gguf = resolve_gguf(cfg.gguf, data_dir() / "models")
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        self.api_key = secrets.token_urlsafe(24)
        params.api_keys = [self.api_key]
        params.n_ctx = cfg.context_size
        params.n_parallel = 1
        params.cpuparams.n_threads = cfg.threads or max(1, os.cpu_count() or 1)
        params.cpuparams_batch.n_threads = params.cpuparams.n_threads
        params.n_predict = cfg.max_tokens
        params.warmup = True
        # llama-server keeps old prompts' KV state in RAM for reuse, up to 8 GiB by default: over
        # a long conversation that is steady memory growth. One conversation needs only its
        # own slot's cache (prefix reuse), so keep the extra cache small.
        params.cache_ram_mib = 128
        params.verbosity = -1
        t = time.perf_counter()
        try:
            self._server = _start_niced(lambda: xllamacpp.Server(params))
        except Exception as exc:
            raise RuntimeError(f"the embedded LLM could not start with {gguf} ({exc}); check the file or set "
                               "[llm] base_url to another endpoint") from None
        self.endpoint = Endpoint(self._server.listening_address.rstrip("/") + "/v1", self.api_key, gguf.stem)
        log.info("embedded LLM %s ready at %s in %.2fs", gguf.name, self._server.listening_address,
                 time.perf_counter() - t)
        # stopped while the interpreter is still whole, not whenever finalisation drops it
        ref = weakref.ref(self)
        self._at_exit = lambda: (ref() or _Closed).close()
        atexit.register(self._at_exit)

    def close(self) -> None:
        """Stop the server, within about a second.

        xllamacpp's Server stops its loop and then joins its HTTP threads, holding the GIL, and
        a thread still serving a request whose client keeps the connection open waits for it
        forever (its task is never run once the loop has stopped): the process hung at exit
        after a dropped reply made ahead. So every connection this process still has open to
        the server is cut first; each serving thread notices within its one-second poll."""
        server, self._server = getattr(self, "_server", None), None
        if server is None:
            return
        atexit.unregister(self._at_exit)
        t = time.perf_counter()
        try:
            from .client import abort_requests

            cut = abort_requests(self.endpoint.base_url)
        except Exception:  # late in interpreter shutdown: nothing left to cut
            cut = 0
        del server  # the destructor runs here
        log.info("embedded LLM stopped in %.2fs (%d open request(s) cut off)", time.perf_counter() - t, cut)

    def __del__(self):
        self.close()


class _Closed:
    @staticmethod
    def close():
        pass


def _start_niced(start):
    """Run ``start`` on a thread of its own at a lower priority, so every thread it starts
    (the server's HTTP and slot threads, their OpenMP workers) inherits that priority while
    the caller's own thread keeps its own."""
    box: dict = {}

    def run():
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + NICE)
        except (OSError, AttributeError):  # not Linux, or not allowed: the same priority as the rest
            log.debug("could not lower the embedded LLM's priority", exc_info=True)
        try:
            box["server"] = start()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="llm-server", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["server"]
