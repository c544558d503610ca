"""A scripted OpenAI-compatible chat server on 127.0.0.1, for deterministic replies.

It fakes the network at the HTTP layer (the real ``openai`` client talks to it), records
every request, and can misbehave on purpose: delay the first token, answer with an HTTP
error, or cut the stream short. A reply may also call tools, streamed in OpenAI's wire
format (the call's id and name first, then its arguments in fragments), and the server can
refuse every request that offers tools, as endpoints without tool support do.

    with ScriptedLLM() as llm:
        llm.enqueue("Hello there.", Reply("slow one", first_token_delay=3),
                    Reply("Let me see. ", tool_calls=[("add_reminder", {"task": "call Amy", "when": "at 5 pm"})]))
        ... point [llm] base_url at llm.base_url ...
        llm.requests[0]["messages"]
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200  # non-200: answer with this HTTP error instead
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    truncate_after: int | None = None  # drop the connection after this many chunks
    tool_calls: tuple = ()  # (name, arguments as a dict or raw JSON text) pairs, streamed after the text


class ScriptedLLM:
    def __init__(self, default: str = "I'm here.", reject_tools: bool = False, answer=None):
        self.default = default
        self.reject_tools = reject_tools  # answer HTTP 400 to any request that offers tools
        self.answer = answer  # answer(request body) -> str | Reply, when nothing is enqueued: replies that depend on what was asked
        self.requests: list[dict] = []
        self._script: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # shutdown() waits for the next poll: the default 0.5 s cost every test using it that long
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def enqueue(self, *replies: str | Reply) -> None:
        with self._lock:
            self._script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def _next(self, body: dict) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        reply = self.answer(body) if self.answer is not None else self.default
        return reply if isinstance(reply, Reply) else Reply(reply)

    def __enter__(self) -> "ScriptedLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                if outer.reject_tools and body.get("tools"):
                    return self._json(400, {"error": {"message": "this model does not support tools",
                                                      "type": "invalid_request_error"}})
                reply = outer._next(body)
                time.sleep(reply.first_token_delay)
                if reply.status != 200:
                    return self._json(reply.status, {"error": {"message": f"scripted failure {reply.status}",
                                                               "type": "server_error"}})
                if not body.get("stream"):
                    return self._json(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                                            "choices": [{"index": 0, "finish_reason": "stop",
                                                         "message": {"role": "assistant", "content": reply.text}}]})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = reply.text.split(" ")
                pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
                try:
                    for i, piece in enumerate(pieces):
                        if reply.truncate_after is not None and i >= reply.truncate_after:
                            self.wfile.write(b'data: {"id": "x", "choi')
                            self.wfile.flush()
                            self.close_connection = True
                            return
                        if i:
                            time.sleep(reply.token_delay)
                        if piece:
                            self._event({"index": 0, "delta": {"content": piece}, "finish_reason": None})
                    for n, (name, arguments) in enumerate(reply.tool_calls):
                        self._tool_call(n, name, arguments if isinstance(arguments, str) else json.dumps(arguments))
                    self._event({"index": 0, "delta": {}, "finish_reason": "tool_calls" if reply.tool_calls else "stop"})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled: that is the point of closing the stream
                self.close_connection = True

            def _tool_call(self, n, name, arguments):
                """OpenAI's streamed form: id, type and name first, then the arguments in fragments."""
                head = {"index": n, "id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": ""}}
                self._event({"index": 0, "delta": {"role": "assistant", "tool_calls": [head]}, "finish_reason": None})
                for i in range(0, len(arguments), 7):
                    part = {"index": n, "function": {"arguments": arguments[i:i + 7]}}
                    self._event({"index": 0, "delta": {"tool_calls": [part]}, "finish_reason": None})

            def _event(self, choice):
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                         "choices": [choice]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            def _json(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
