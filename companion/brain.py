"""Thinking: stream a reply from any OpenAI-compatible endpoint.

The openai client's defaults (two retries, ten-minute timeout) mean long silences for a
person waiting, so connect/read timeouts and retries come from config, and the stream is
closed on cancel so the server stops generating.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Iterator

from .config import LLMConfig
from .embedded_llm import Endpoint

log = logging.getLogger(__name__)


class BrainError(RuntimeError):
    """The endpoint could not give a reply (down, slow, refused); says which and why."""


def resolve_endpoint(cfg: LLMConfig) -> tuple[Endpoint, object | None]:
    """The endpoint to talk to, starting the embedded server when ``base_url = 'embedded'``.
    Returns the endpoint and the object that keeps the embedded server alive (or ``None``)."""
    if cfg.base_url == "embedded":
        from .embedded_llm import EmbeddedLLM

        llm = EmbeddedLLM(cfg)
        return llm.endpoint, llm
    key = os.environ.get(cfg.api_key_env, "") if cfg.api_key_env else ""
    return Endpoint(cfg.base_url.rstrip("/"), key or "not-needed", cfg.model or "default"), None


class Brain:
    def __init__(self, cfg: LLMConfig, endpoint: Endpoint):
        import openai

        self.cfg = cfg
        self.endpoint = endpoint
        self._openai = openai
        self.client = openai.OpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=cfg.max_retries,
            timeout=openai.Timeout(cfg.read_timeout_s, connect=cfg.connect_timeout_s))

    def warm_up(self, messages: list[dict]) -> None:
        """A one-token request, so the first real turn finds the model loaded and the
        persona's prompt cached. Failures are only logged: the turn itself will report them."""
        try:
            self.client.chat.completions.create(model=self.cfg.model or self.endpoint.model, messages=messages,
                                                max_tokens=1, temperature=0.0)
        except self._openai.OpenAIError as exc:
            log.warning("LLM warm-up failed: %s", exc)

    def stream(self, messages: list[dict], cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield text deltas. Raises :class:`BrainError` on any endpoint failure; stops quietly
        (closing the HTTP stream) once ``cancel`` is set."""
        o = self._openai
        try:
            stream = self.client.chat.completions.create(
                model=self.cfg.model or self.endpoint.model, messages=messages, stream=True,
                max_tokens=self.cfg.max_tokens, temperature=self.cfg.temperature)
        except o.APITimeoutError:
            raise BrainError(f"{self.endpoint.base_url} did not answer within {self.cfg.read_timeout_s:g}s") from None
        except o.APIConnectionError as exc:
            raise BrainError(f"cannot reach {self.endpoint.base_url} ({exc.__cause__ or exc})") from None
        except o.APIStatusError as exc:
            raise BrainError(f"{self.endpoint.base_url} refused the request ({exc.message})") from None
        except o.OpenAIError as exc:
            raise BrainError(f"{self.endpoint.base_url}: {exc}") from None
        finished = False
        try:
            for event in stream:
                if cancel is not None and cancel.is_set():
                    return
                if not event.choices:
                    continue
                choice = event.choices[0]
                if choice.delta is not None and choice.delta.content:
                    yield choice.delta.content
                finished = finished or choice.finish_reason is not None
        except o.APITimeoutError:
            raise BrainError(f"{self.endpoint.base_url} stopped sending for {self.cfg.read_timeout_s:g}s") from None
        except (o.OpenAIError, ValueError) as exc:
            raise BrainError(f"the reply stream from {self.endpoint.base_url} broke off ({exc})") from None
        except Exception as exc:  # transport errors surface as raw httpx/h11 exceptions mid-stream
            raise BrainError(f"the reply stream from {self.endpoint.base_url} broke off ({exc.__class__.__name__})") from None
        finally:
            stream.close()
        if not finished:
            raise BrainError(f"the reply stream from {self.endpoint.base_url} ended without finishing")
