"""Speech servers on another machine: what an address means, the one error every remote engine
raises, and the small pieces the Wyoming and OpenAI engines share (addresses, timeouts, keys).

An address is ``''`` (the model on this machine), ``tcp://HOST:PORT`` (a Wyoming server) or
``http(s)://HOST:PORT/v1`` (the OpenAI audio API); ``ops.config`` has already checked it.
Keys are read from the environment variable the config names, never from the config itself.
"""

from __future__ import annotations

import os
import socket
import time

RETRIES = 1  # a refused or reset connection is tried once more; a timeout is not (it already cost seconds)


class RemoteError(RuntimeError):
    """The speech server is down, slow, or answered something we cannot use; says which."""


def kind_of(url: str) -> str:
    """``'local'``, ``'wyoming'`` or ``'openai'`` for an ``[stt]``/``[tts] base_url``."""
    if not url:
        return "local"
    return "wyoming" if url.startswith("tcp://") else "openai"


def host_port(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("tcp://").rpartition(":")
    return host.strip("[]"), int(port)


def api_key(env_name: str) -> str:
    """The key from the named environment variable; servers that need none get a placeholder
    (the openai client insists on one)."""
    return (os.environ.get(env_name, "") if env_name else "") or "not-needed"


def connect(url: str, connect_timeout: float, read_timeout: float) -> socket.socket:
    """A TCP connection to a Wyoming server, retried once if refused or reset."""
    host, port = host_port(url)
    for attempt in range(RETRIES + 1):
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
            sock.settimeout(read_timeout)
            return sock
        except socket.timeout:
            raise RemoteError(f"{url} did not accept a connection within {connect_timeout:g}s") from None
        except OSError as exc:
            if attempt == RETRIES:
                raise RemoteError(f"cannot reach {url} ({exc.strerror or exc})") from None
            time.sleep(0.1)
    raise AssertionError("unreachable")


class WyomingSession:
    """One exchange with a Wyoming server over one TCP connection: events out, events in.
    Every failure (refused, slow, closed early, an Error event, bytes that are not events)
    becomes a :class:`RemoteError`; closing the connection is how a caller stops the server."""

    def __init__(self, url: str, connect_timeout: float, read_timeout: float):
        self.url, self.read_timeout = url, read_timeout
        self._sock = connect(url, connect_timeout, read_timeout)
        self._in = self._sock.makefile("rb")
        self._out = self._sock.makefile("wb")

    def send(self, *events) -> None:
        from wyoming.event import write_event

        try:
            for e in events:
                write_event(e.event(), self._out)
        except OSError as exc:
            raise RemoteError(f"{self.url} dropped the connection while we were sending ({exc})") from None

    def receive(self):
        """The next event; a server's Error event is raised as :class:`RemoteError`."""
        from wyoming.error import Error
        from wyoming.event import read_event

        try:
            event = read_event(self._in)
        except socket.timeout:
            raise RemoteError(f"{self.url} did not answer within {self.read_timeout:g}s") from None
        except (OSError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise RemoteError(f"{self.url} sent something that is not a Wyoming event ({exc})") from None
        if event is None:
            raise RemoteError(f"{self.url} closed the connection before answering (or sent malformed data)")
        if Error.is_type(event.type):
            raise RemoteError(f"{self.url} reported an error: {Error.from_event(event).text}")
        return event

    def close(self) -> None:
        for part in (self._in, self._out, self._sock):
            try:
                part.close()
            except OSError:
                pass

    def __enter__(self) -> "WyomingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def openai_client(url: str, key_env: str, connect_timeout: float, read_timeout: float):
    """An openai client for a speech server: our timeouts, and no retries of its own (its
    back-off after a timeout is more silence; :func:`openai_call` retries what is worth it)."""
    import openai

    return openai.OpenAI(base_url=url.rstrip("/"), api_key=api_key(key_env), max_retries=0,
                         timeout=openai.Timeout(read_timeout, connect=connect_timeout))


def openai_call(url: str, request):
    """``request()`` with one retry on a refused or dropped connection or a 5xx answer, every
    failure as a :class:`RemoteError` that says what happened."""
    import openai

    for attempt in range(RETRIES + 1):
        try:
            return request()
        except openai.APITimeoutError:
            raise RemoteError(f"{url} did not answer in time") from None
        except openai.APIConnectionError as exc:
            if attempt == RETRIES:
                raise RemoteError(f"cannot reach {url} ({exc.__cause__ or exc})") from None
        except openai.APIStatusError as exc:
            if exc.status_code < 500 or attempt == RETRIES:
                raise RemoteError(f"{url} refused the request ({exc.status_code}: {exc.message})") from None
        except openai.OpenAIError as exc:
            raise RemoteError(f"{url} answered something we cannot use ({exc})") from None
        time.sleep(0.1)
    raise AssertionError("unreachable")


def offered(url: str, key_env: str, connect_timeout: float, read_timeout: float) -> dict[str, list[str]] | None:
    """What a server says it offers, for ``companion doctor``: a Wyoming server's ``{"asr":
    models, "tts": voices}`` (Describe / Info), an OpenAI server's ``{"models": ids}``; ``None``
    when an OpenAI-style server keeps no list (``/models`` not found)."""
    if kind_of(url) == "wyoming":
        from wyoming.info import Describe, Info

        with WyomingSession(url, connect_timeout, read_timeout) as link:
            link.send(Describe())
            while True:
                event = link.receive()
                if Info.is_type(event.type):
                    info = Info.from_event(event)
                    return {"asr": [m.name for p in info.asr for m in p.models],
                            "tts": [v.name for p in info.tts for v in p.voices]}
    client = openai_client(url, key_env, connect_timeout, read_timeout)
    try:
        return {"models": [m.id for m in openai_call(url, lambda: list(client.models.list()))]}
    except RemoteError as exc:
        if "(404" in str(exc):
            return None
        raise
