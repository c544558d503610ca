"""The default LLM: llama.cpp's OpenAI-compatible server, in-process (xllamacpp).

Bound to 127.0.0.1 on a free port and protected by a random API key, so nothing else on
the machine or the network can use it.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass

from .config import LLMConfig
from .models import resolve_gguf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    model: str


class EmbeddedLLM:
    """Starts the server on construction; it lives as long as this object."""

    def __init__(self, cfg: LLMConfig):
        import xllamacpp

        gguf = resolve_gguf(cfg.gguf)
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
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise RuntimeError(f"the embedded LLM could not start with {gguf} ({exc}); check the file or set "
                               "[llm] base_url to another endpoint") from None
        self.endpoint = Endpoint(self._server.listening_address.rstrip("/") + "/v1", self.api_key, gguf.stem)
        log.info("embedded LLM %s ready at %s in %.2fs", gguf.name, self._server.listening_address,
                 time.perf_counter() - t)

    def close(self) -> None:
        self._server = None
