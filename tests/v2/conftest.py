"""Replay of exchanges recorded from a real FATE Flow 2.2.0 (tests/v2/recordings/*.json, written by
scripts/fate2/record.py) over loopback HTTP, so the v2 client's requests and parsers are checked against
what the real server sent and accepted."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _v2_replay import Replay, Seen, answer_with, config_for

from airflow_provider_fateflow.client.v2 import FateFlowV2Client


@pytest.fixture
def replay() -> Iterator[Replay]:
    state = Replay(0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            state.seen.append(Seen(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                   dict(self.headers), body))
            if not state.queue:
                self.send_error(500, "nothing queued")
                return
            item = state.queue.pop(0)
            if callable(item):
                item(self)
            else:
                answer_with(self, item)

        do_GET = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(replay: Replay) -> Iterator[FateFlowV2Client]:
    with FateFlowV2Client(config_for(replay)) as c:
        yield c
