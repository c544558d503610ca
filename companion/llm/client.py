"""Thinking: stream a reply from any OpenAI-compatible endpoint.

The openai client's defaults (two retries, ten-minute timeout) mean long silences for a
person waiting, so connect/read timeouts and retries come from config, and the stream is
closed on cancel so the server stops generating.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import weakref
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

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
_current = threading.local()  # the _Call an llm-stream thread is making (each makes one)
_sockets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # this process's connections to local
# LLM endpoints, each with the _Call it carries (None: a warm-up)


def _on_request(request) -> None:
    """httpx request hook: the request's connection reports its socket, to the registry that
    :func:`abort_requests` empties and to the request's :class:`_Call`."""
    call = getattr(_current, "call", None)

    def trace(event: str, info: dict) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            sock = info["return_value"].get_extra_info("socket")
            _sockets[sock] = call
            if call is not None:
                call.connected(sock)

    request.extensions["trace"] = trace


def abort_requests(base_url: str) -> int:
    """Cut off every request this process still has open to ``base_url`` (at any point: sent,
    queued, streaming); returns how many. The embedded server calls it before it stops,
    because it waits for every connection it still serves."""
    url = urlsplit(base_url)
    cut = 0
    for sock, call in list(_sockets.items()):
        try:
            if sock.fileno() == -1 or sock.getpeername()[:2] != (url.hostname, url.port):
                continue
        except OSError:  # closed meanwhile
            continue
        cut += 1
        if call is not None:
            call.close()  # shuts the socket down, and no retry
            continue
        try:  # a warm-up's
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # (a second shutdown, once the server has closed its end, fails)
            pass
    return cut


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
        """On this machine every request gets a connection of its own (no keep-alive; a connect
        to 127.0.0.1 costs well under a millisecond), so a dropped request can be cut off at
        any point, even while it waits in the server's queue for its response headers: see
        :class:`_Call`. A remote endpoint keeps pooled connections (a TLS handshake per request
        would cost the user); there a request is cut off once its response has begun."""
        try:
            import httpx2 as httpx  # what this openai build uses
        except ImportError:
            import httpx
        local = urlsplit(self.endpoint.base_url).hostname in ("127.0.0.1", "localhost", "::1")
        if local:  # (a pooled socket must not be tied to the request that opened it)
            http = self._openai.DefaultHttpxClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
                                                   event_hooks={"request": [_on_request]})
        else:
            http = self._openai.DefaultHttpxClient()
        # retries are ours (see _create), so a cancel is never followed by a retry's back-off sleep
        return self._openai.OpenAI(
            base_url=self.endpoint.base_url, api_key=self.endpoint.api_key, max_retries=0, http_client=http,
            timeout=self._openai.Timeout(self.cfg.read_timeout_s, connect=self.cfg.connect_timeout_s))

    def _create(self, messages: list[dict], cancel: Cancel, tools: list[dict] | None = None, call=None):
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
            if cancel.wait(0.2 * (attempt + 1)) or (call is not None and call.closed):
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
        _current.call = call
        try:
            if call.closed:  # dropped before it was sent
                raise o.APIConnectionError(message="cancelled", request=None)
            stream = self._create(messages, cancel, tools, call)
        except Exception as exc:
            deltas.put(_DONE if cancel.cancelled or call.closed else self._explain(exc, bool(tools)))
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
    """One request. Cancelling closes that connection (the server stops generating) and
    nothing else: the client is shared, and a reply made ahead can be dropped while the
    confirmed turn's request is on its way (closing the client then broke that request).

    The connection is shut down at the socket, so it is cut off at any point: also before the
    response headers came, while the request waits in the server's queue behind another reply
    (the embedded server has one slot). Closing only the response object could not reach that
    point, and such a request kept a server thread waiting on it, so the server's shutdown
    (which waits for its HTTP threads) never ended and the process never exited."""

    def __init__(self):
        self.stream = None
        self.socket = None
        self.closed = False

    def connected(self, sock) -> None:
        self.socket = sock
        if self.closed:  # cancelled while connecting
            self._shut()

    def _shut(self) -> None:
        sock = self.socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread reading it; the server sees the close
            except OSError:
                pass

    def open(self, stream) -> None:
        self.stream = stream
        if self.closed:  # cancelled while the request was being sent
            self.close()

    def close(self) -> None:
        self.closed = True
        self._shut()
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
