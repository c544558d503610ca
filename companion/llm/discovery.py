"""``[llm] base_url = "auto"``: find an OpenAI-compatible server already running on this
machine (Ollama, LM Studio, llama.cpp's server, vLLM, on their usual ports), once at start-up.

Each port is asked ``GET /v1/models`` at the same time, with a short timeout, so a port that
nobody listens on costs a refused connection (well under a millisecond) and one that accepts
but never answers costs :data:`PROBE_TIMEOUT_S`. The first server in :data:`KNOWN` order that
lists a model wins; none means the embedded model, as with ``base_url = "embedded"``. Only
127.0.0.1 is asked: "auto" never sends anything to another machine.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..ops.config import Config, LLMConfig

log = logging.getLogger(__name__)

KNOWN = (("Ollama", 11434), ("LM Studio", 1234), ("llama.cpp", 8080), ("vLLM", 8000))
PROBE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Found:
    name: str  # what usually listens on that port
    base_url: str
    models: tuple[str, ...]


def probe(name: str, base_url: str, timeout: float = PROBE_TIMEOUT_S) -> Found | None:
    """The models an OpenAI-compatible server at ``base_url`` lists, or ``None`` when nothing
    answers there as such a server would (refused, slow, not JSON, no models)."""
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=timeout) as answer:
            listing = json.loads(answer.read(1 << 20))
        models = tuple(str(m["id"]) for m in listing["data"])
    except Exception:  # anything but a model listing means "not one of ours"
        return None
    return Found(name, base_url, models) if models else None


def discover(ports=KNOWN, timeout: float = PROBE_TIMEOUT_S) -> list[Found]:
    """Every known server that answers on 127.0.0.1, in :data:`KNOWN` order."""
    with ThreadPoolExecutor(len(ports)) as pool:
        found = pool.map(lambda np: probe(np[0], f"http://127.0.0.1:{np[1]}/v1", timeout), ports)
        return [f for f in found if f is not None]


def resolved(cfg: LLMConfig, ports=KNOWN) -> LLMConfig:
    """``cfg`` with ``base_url = "auto"`` replaced by what was found (and its model, unless
    ``[llm] model`` names one), or by ``"embedded"``; any other setting is returned as it is."""
    if cfg.base_url != "auto":
        return cfg
    found = discover(ports)
    if not found:
        log.info("[llm] base_url = auto: no LLM server answered on 127.0.0.1 (%s); using the embedded model",
                 ", ".join(f"{n} {p}" for n, p in ports))
        return dataclasses.replace(cfg, base_url="embedded")
    first = found[0]
    model = cfg.model or first.models[0]
    if cfg.model and cfg.model not in first.models:
        log.warning("[llm] model %r is not among the models %s at %s serves (%s); asking for it anyway",
                    cfg.model, first.name, first.base_url, ", ".join(first.models))
    log.info("[llm] base_url = auto: found %s at %s, using model %s", first.name, first.base_url, model)
    return dataclasses.replace(cfg, base_url=first.base_url, model=model, api_key_env="")


def with_llm_found(cfg: Config) -> Config:
    """The whole configuration with the LLM endpoint settled, so every part that asks "is it
    the embedded model?" (tools, memory extraction, letters) gets the same answer."""
    return dataclasses.replace(cfg, llm=resolved(cfg.llm))
