"""Helpers of the resilience tests: connections, DAG-run inspection, a hostile HTTP server."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: Retry quickly: 0.05 s first backoff, 0.2 s at most (the defaults are 1 s and 30 s).
FAST_RETRY = {"retry_delay": 0.05, "retry_max_delay": 0.2}


def conn_json(port: int, *, login: str | None = None, password: str | None = None, **extra: Any) -> str:
    """A ``fateflow`` connection to the sandbox on ``port`` as Airflow reads it from ``AIRFLOW_CONN_<ID>``."""
    conn: dict[str, Any] = {"conn_type": "fateflow", "host": "127.0.0.1", "port": port,
                            "extra": {"initiator_role": "guest", "initiator_party_id": 9999,
                                      "board_url": "http://board:8080", **extra}}
    if login:
        conn["login"] = login
    if password:
        conn["password"] = password
    return json.dumps(conn)


def set_conn(mp: pytest.MonkeyPatch, conn_id: str, port: int, **kwargs: Any) -> None:
    mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(port, **kwargs))


def states(dr: Any) -> dict[str, str]:
    return {ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": str(ti.state)
            for ti in dr.get_task_instances()}


def task_instances(dr: Any) -> dict[str, Any]:
    return {ti.task_id: ti for ti in dr.get_task_instances()}


def xcoms(dr: Any) -> dict[tuple[str, str], Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dr.dag_id, XComModel.run_id == dr.run_id)
        return {(x.task_id, x.key): x.value for x in rows}


def rendered_fields(dr: Any) -> dict[str, Any]:
    """``{task_id: rendered template fields}`` of a run (RenderedTaskInstanceFields)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RTIF).filter(RTIF.dag_id == dr.dag_id, RTIF.run_id == dr.run_id)
        return {r.task_id: r.rendered_fields for r in rows}


# -- a server that answers anything we like -----------------------------------------------------------------

#: A reply: ``(status, headers, body)``, or a callable that writes the answer on the handler itself.
Reply = Any


class Hostile:
    """Loopback HTTP/1.1 server (a thread) answering every request with ``self.reply``; records the paths."""

    def __init__(self) -> None:
        self.reply: Reply = (200, {"Content-Type": "application/json"}, b'{"retcode": 0, "data": []}')
        self.paths: list[str] = []
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                state.paths.append(self.path.split("?", 1)[0])
                reply = state.reply
                if callable(reply):
                    reply(self)
                    return
                status, headers, body = reply
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = _answer

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def answer(self, status: int = 200, body: bytes | str | dict[str, Any] = b"", *,
               content_type: str = "application/json", **headers: str) -> None:
        """Answer every request with this status and body (a dict is sent as JSON)."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.reply = (status, {"Content-Type": content_type, **headers}, body)

    def answer_with(self, writer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.reply = writer

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
