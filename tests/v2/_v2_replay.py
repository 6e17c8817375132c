"""Replaying the FATE Flow 2.2.0 recordings over loopback: the helpers the v2 tests import."""
from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client import ClientConfig, RetryPolicy

RECORDINGS = Path(__file__).parent / "recordings"


def load(name: str) -> dict[str, Any]:
    """One recording: name, method, path, query, json, form, file_field, status, headers, response."""
    return json.loads((RECORDINGS / f"{name}.json").read_text())


def tar_with(names: list[str], gz: bool) -> bytes:
    """An archive with the recorded member names (the recordings keep names, not contents)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name in names:
            data = f"content of {name}\n".encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
        """Multipart text fields, and file parts as ``{field: (filename, bytes)}``."""
        ctype = self.headers.get("Content-Type", "")
        msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + self.body)
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_param("filename", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if filename:
                files[name] = (filename, payload)
            else:
                fields[name] = payload.decode()
        return fields, files


@dataclass
class Replay:
    """Answers each request with the next queued recording (or a callable that writes the answer itself)."""

    port: int
    queue: list[Any] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def serve(self, *names_or_records: str | dict[str, Any]) -> None:
        for item in names_or_records:
            self.queue.append(load(item) if isinstance(item, str) else item)


def answer_with(handler: BaseHTTPRequestHandler, rec: dict[str, Any]) -> None:
    response = rec["response"]
    headers = dict(rec.get("headers") or {})
    if isinstance(response, dict) and set(response) == {"file"}:
        ctype = headers.get("Content-Type", "")
        payload = tar_with(response["file"]["names"], gz="gzip" in ctype)
    else:
        payload = json.dumps(response).encode()
        headers.setdefault("Content-Type", "application/json")
    handler.send_response(rec.get("status", 200))
    for k, v in headers.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def config_for(replay: Replay, **kw: Any) -> ClientConfig:
    kw.setdefault("retry", RetryPolicy(attempts=1))
    kw.setdefault("read_timeout", 10.0)
    return ClientConfig("127.0.0.1", replay.port, api_version="v2", **kw)


def assert_request_as_recorded(seen: Seen, name: str) -> None:
    """The client sent what the recorder sent to the real server (method, path, query, JSON body)."""
    rec = load(name)
    assert seen.method == rec["method"]
    assert seen.path == rec["path"]
    expected_query = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in rec["query"].items()}
    assert seen.query == expected_query
    if rec["file_field"] is None and rec["json"] is not None:
        assert seen.json == rec["json"]
