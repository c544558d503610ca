"""Thinking: stream a reply from any OpenAI-compatible endpoint.

The openai client's defaults (two retries, ten-minute timeout) mean long silences for a
person waiting, so connect/read timeouts and retries come from config, and the stream is
closed on cancel so the server stops generating.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from typing import Iterator

from ..cancel import Cancel, until_cancelled
from ..ops.config import LLMConfig
from .embedded import Endpoint

log = logging.getLogger(__name__)


class BrainError(RuntimeError):
    """The endpoint could not give a reply (down, slow, refused); says which and why."""


class ToolsRejected(BrainError):
    """The endpoint refused a request because it carried ``tools`` (it cannot call tools)."""


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for, its arguments as the JSON text it wrote."""

    id: str
    name: str
    arguments: str


_DONE = object()  # closes the delta queue


def resolve_endpoint(cfg: LLMConfig) -> tuple[Endpoint, object | None]:
    """The endpoint to talk to, starting the embedded server when ``base_url = 'embedded'``
    (or ``'auto'`` found no server on this machine, see ``discovery.py``). Returns the
    endpoint and the object that keeps the embedded server alive (or ``None``)."""
    from .discovery import resolved

    cfg = resolved(cfg)
    if cfg.base_url == "embedded":
        from .embedded import EmbeddedLLM

        llm = EmbeddedLLM(cfg)
        return llm.endpoint, llm
    key = os.environ.get(cfg.api_key_env, "") if cfg.api_key_env else ""
    return Endpoint(cfg.base_url.rstrip("/"), key or "not-needed", cfg.model or "default"), None


class Brain:
    def __init__(self, cfg: LLMConfig, endpoint: Endpoint, stop: list[str] | None = None):
        """``stop``: where every streamed reply ends (``dialogue.shaping.stop_sequences``)."""
        import openai

        self.cfg = cfg
        self.endpoint = endpoint
        self.stop = list(stop or [])
        self._openai = openai
        self.client = self._new_client()

    def _new_client(self):
        # retries are ours (see _create), so a cancel is never followed by a retry's back-off sleep
        return self._openai.OpenAI(
            base_url=self.endpoint.base_url, api_key=self.endpoint.api_key, max_retries=0,
            timeout=self._openai.Timeout(self.cfg.read_timeout_s, connect=self.cfg.connect_timeout_s))

    def _create(self, messages: list[dict], cancel: Cancel, tools: list[dict] | None = None):
        """Open the stream, retrying ``max_retries`` times on connection trouble and server
        errors (not on timeouts: each of those already cost the user seconds of silence)."""
        o = self._openai
        extra = {"tools": tools} if tools else {}
        if self.stop:
            extra["stop"] = self.stop
        if self.cfg.base_url == "embedded":  # llama.cpp's own sampler setting; the OpenAI API has none
            extra["extra_body"] = {"repeat_penalty": self.cfg.repeat_penalty}
        for attempt in range(self.cfg.max_retries + 1):
            try:
                return self.client.chat.completions.create(
                    model=self.cfg.model or self.endpoint.model, messages=messages, stream=True,
                    max_tokens=self.cfg.max_tokens, temperature=self.cfg.temperature, top_p=self.cfg.top_p,
                    frequency_penalty=self.cfg.frequency_penalty, **extra)
            except (o.APITimeoutError, o.APIStatusError) as exc:
                retryable = isinstance(exc, o.APIStatusError) and (exc.status_code >= 500 or exc.status_code == 429)
                retryable = retryable and not (tools and _refuses_tools(exc))  # asking again changes nothing
                if not retryable or attempt == self.cfg.max_retries:
                    raise
            except o.APIConnectionError:
                if attempt == self.cfg.max_retries:
                    raise
            if cancel.wait(0.2 * (attempt + 1)):
                raise o.APIConnectionError(message="cancelled", request=None)
            log.info("retrying %s (attempt %d)", self.endpoint.base_url, attempt + 2)

    def warm_up(self, messages: list[dict]) -> None:
        """A one-token request, so the first real turn finds the model loaded and the
        persona's prompt cached. Failures are only logged: the turn itself will report them."""
        try:  # background work: it may take longer than a reply is allowed to wait
            self.client.with_options(timeout=60.0).chat.completions.create(
                model=self.cfg.model or self.endpoint.model, messages=messages, max_tokens=1, temperature=0.0)
        except Exception as exc:  # best effort: the next real request reports real trouble
            log.warning("LLM warm-up failed: %s", exc)

    def _explain(self, exc: Exception, tools_sent: bool = False) -> BrainError:
        """One sentence a person can act on, for a request that failed before streaming."""
        o, url = self._openai, self.endpoint.base_url
        if tools_sent and isinstance(exc, o.APIStatusError) and _refuses_tools(exc):
            return ToolsRejected(f"{url} does not accept tools ({exc.message})")
        if isinstance(exc, o.APITimeoutError):
            return BrainError(f"{url} did not answer within {self.cfg.read_timeout_s:g}s")
        if isinstance(exc, o.APIConnectionError):
            return BrainError(f"cannot reach {url} ({exc.__cause__ or exc})")
        if isinstance(exc, o.APIStatusError):
            return BrainError(f"{url} refused the request ({exc.message})")
        return BrainError(f"{url}: {exc.__class__.__name__}: {exc}")

    def stream(self, messages: list[dict], cancel: Cancel | None = None,
               tools: list[dict] | None = None) -> Iterator[str | list[ToolCall]]:
        """Yield text deltas. Raises :class:`BrainError` on any endpoint failure. With ``tools``
        the last item may be the list of :class:`ToolCall` the model made (its fragments are
        gathered here; text before them is yielded as it comes, to be spoken).

        The HTTP exchange runs on its own thread and this generator waits on a queue, so a
        cancel (barge-in, Ctrl-C) returns at once even while the endpoint is silent; the
        connection is then closed, which tells the server to stop generating. So it is when
        the caller stops reading."""
        cancel = cancel or Cancel()
        deltas: queue.Queue = queue.Queue()
        call = _Call()
        cancel.on_cancel(call.close)  # this request only: a reply made ahead may be dropped beside the real one
        threading.Thread(target=self._produce, args=(messages, cancel, deltas, tools, call),
                         name="llm-stream", daemon=True).start()
        try:
            yield from until_cancelled(deltas, cancel, _DONE)
        finally:
            call.close()

    def _produce(self, messages, cancel: Cancel, deltas: queue.Queue, tools, call: _Call) -> None:
        o = self._openai
        try:
            stream = self._create(messages, cancel, tools)
        except Exception as exc:
            deltas.put(_DONE if cancel.cancelled else self._explain(exc, bool(tools)))
            return
        call.open(stream)
        finished = started = False
        calls: dict[int, dict] = {}  # tool calls by index, their argument fragments joined
        try:
            for event in stream:
                if call.closed:  # cancelled, or the caller stopped reading
                    return
                if not event.choices:
                    continue
                choice = event.choices[0]
                if choice.delta is not None and choice.delta.content:
                    started = True
                    deltas.put(choice.delta.content)
                for part in (choice.delta.tool_calls or []) if choice.delta is not None else []:
                    started = True
                    _gather(calls, part)
                finished = finished or choice.finish_reason is not None
            if finished and calls:
                deltas.put([ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"] or "{}")
                            for i, c in sorted(calls.items())])
            if not finished:
                deltas.put(BrainError(f"the reply stream from {self.endpoint.base_url} ended without finishing"))
        except Exception as exc:
            if isinstance(exc, o.APITimeoutError):
                what = "stopped sending" if started else "did not start answering"
                deltas.put(BrainError(f"{self.endpoint.base_url} {what} for {self.cfg.read_timeout_s:g}s"))
            else:
                deltas.put(BrainError(f"the reply stream from {self.endpoint.base_url} broke off "
                                      f"({exc.__class__.__name__}: {exc})"))
        finally:
            try:
                stream.close()
            except Exception:
                pass
            deltas.put(_DONE)


class _Call:
    """One request's stream. Cancelling closes that connection (the server stops generating)
    and nothing else: the client is shared, and a reply made ahead can be dropped while the
    confirmed turn's request is on its way (closing the client then broke that request)."""

    def __init__(self):
        self.stream = None
        self.closed = False

    def open(self, stream) -> None:
        self.stream = stream
        if self.closed:  # cancelled while the request was being sent
            self.close()

    def close(self) -> None:
        self.closed = True
        stream = self.stream
        if stream is not None:
            try:
                stream.response.close()
            except Exception:
                pass


def _gather(calls: dict[int, dict], part) -> None:
    """Add one streamed tool-call fragment: the first names the call, the rest extend its arguments."""
    call = calls.setdefault(part.index or 0, {"id": "", "name": "", "arguments": ""})
    call["id"] = part.id or call["id"]
    if part.function is not None:
        call["name"] = call["name"] or part.function.name or ""
        call["arguments"] += part.function.arguments or ""


def _refuses_tools(exc) -> bool:
    """A bad-request answer, or any error that names tools: servers say "does not support
    tools", "tool choice requires --enable-auto-tool-choice", and so on."""
    return exc.status_code in (400, 422) or "tool" in str(exc.message).lower()
