"""Loopback HTTP responder for hostile-response tests (127.0.0.1, port 0, a thread)."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_fateflow.client import ClientConfig, FateFlowClient, RetryPolicy

# A reply: (status, headers, body bytes) or a callable(handler) that writes the answer itself.
Reply = Any


@dataclass
class Responder:
    port: int
    replies: list[Reply] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    connections: set[Any] = field(default_factory=set)

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.queue((status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()))


def make_handler(state: Responder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.connections.add(self.client_address)
            state.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
            reply = state.replies.pop(0) if state.replies else (200, {"Content-Type": "application/json"},
                                                                 b'{"retcode": 0, "retmsg": "success", "data": []}')
            if callable(reply):
                reply(self)
                return
            status, headers, payload = reply
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

    return Handler


@pytest.fixture
def responder() -> Iterator[Responder]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Responder(0)))
    state = Responder(server.server_address[1])
    server.RequestHandlerClass = make_handler(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def make_client(responder: Responder) -> Iterator[Callable[..., FateFlowClient]]:
    clients: list[FateFlowClient] = []
    sleeps: list[float] = []

    def factory(**kw: Any) -> FateFlowClient:
        kw.setdefault("retry", RetryPolicy(attempts=3, min_delay=0, max_delay=0, jitter=False))
        kw.setdefault("read_timeout", 2.0)
        config = ClientConfig("127.0.0.1", responder.port, **kw)
        client = FateFlowClient(config)
        client.transport.sleep = sleeps.append
        client.sleeps = sleeps  # type: ignore[attr-defined]
        client.job.recovery_delays = (0.0, 0.0)
        clients.append(client)
        return client

    yield factory
    for c in clients:
        c.close()
