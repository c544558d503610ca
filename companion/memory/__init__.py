"""Long-term memory: one SQLite database, rules that need no model, retrieval in a token
budget, and spoken commands. :func:`open_memory` builds what the conversation uses."""

from __future__ import annotations

from pathlib import Path

from ..ops.config import Config
from .store import DB_NAME, MemoryError, MemoryStore

__all__ = ["DB_NAME", "MemoryError", "MemoryStore", "open_memory", "uses_model"]


# What the words recall is read by the model after the user stops (~2-4 ms a token for the
# embedded 135M model on two cores): bounded so that a long memory adds ~0.2 s at most.
EMBEDDED_RECALL_TOKENS = 80


def uses_model(cfg: Config) -> bool:
    """Whether facts and summaries are also written by the LLM ('auto': a named model on a
    non-embedded endpoint is taken to be capable; the bundled 135M model never is)."""
    mode = cfg.memory.extraction
    if mode == "auto":
        return cfg.llm.base_url != "embedded" and bool(cfg.llm.model)
    return mode == "llm"


def open_memory(cfg: Config, data: Path, brain=None):
    """The conversation's memory: :class:`LongTermMemory`, or ``NoMemory`` when disabled."""
    from ..contracts import NoMemory
    from .longterm import LongTermMemory
    from .writer import LLMWriter

    if not cfg.memory.enabled:
        return NoMemory()
    store = MemoryStore(Path(data) / DB_NAME)
    writer = None
    if brain is not None and uses_model(cfg):
        writer = LLMWriter(store, brain.client, cfg.llm.model or brain.endpoint.model)
    recall = cfg.memory.recall_tokens or (EMBEDDED_RECALL_TOKENS if cfg.llm.base_url == "embedded" else 0)
    small = cfg.persona.compact == "on" or (cfg.persona.compact == "auto" and cfg.llm.base_url == "embedded")
    return LongTermMemory(store, cfg.memory, writer, recall_tokens=recall, acknowledge=small)
