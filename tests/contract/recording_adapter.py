"""Test helpers for the contract suite: load recordings, replay their responses through a
``requests`` transport adapter mounted on the client's session, and decode what the client sent."""
from __future__ import annotations

import email.parser
import email.policy
import io
import json
import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

#: ../shared beside the repository, or FATEFLOW_SHARED_DIR.
SHARED = Path(os.environ.get("FATEFLOW_SHARED_DIR") or Path(__file__).resolve().parents[2].parent / "shared")
RECORDINGS = SHARED / "fateflow-v1" / "recordings"


def recording_files() -> list[Path]:
    return sorted(p for p in RECORDINGS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def synth_archive(spec: dict[str, Any]) -> bytes:
    """An archive in the recorded format with the recorded member names (sample text as content)."""
    buf = io.BytesIO()
    if spec["format"] == "zip":
        with zipfile.ZipFile(buf, "w") as zf:
            for m in spec["members"]:
                if m["type"] == "dir":
                    zf.writestr(m["name"].rstrip("/") + "/", b"")
                else:
                    zf.writestr(m["name"], (m.get("sample") or "").encode())
    else:
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for m in spec["members"]:
                info = tarfile.TarInfo(m["name"])
                if m["type"] == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    data = (m.get("sample") or "").encode()
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def response_bytes(rec: dict[str, Any]) -> bytes:
    resp = rec["response"]
    if "archive" in resp:
        return synth_archive(resp["archive"])
    return json.dumps(resp["json"]).encode()


@dataclass
class Sent:
    request: requests.PreparedRequest
    body: bytes
    timeout: Any


@dataclass
class ReplayAdapter(BaseAdapter):
    """Captures every PreparedRequest and answers with one canned response."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # type: ignore[no-untyped-def]
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode()
        self.sent.append(Sent(request, body or b"", timeout))
        resp = requests.Response()
        resp.status_code = self.status
        resp.headers = CaseInsensitiveDict({**self.headers, "Content-Length": str(len(self.body))})
        resp.raw = io.BytesIO(self.body)
        resp.url = request.url
        resp.request = request
        resp.reason = "RECORDED"
        return resp

    def close(self) -> None:
        pass


def multipart_parts(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """Decode a multipart body: [{"name", "filename", "content_type", "value"}]."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    parts = []
    for part in msg.iter_parts():
        parts.append({
            "name": part.get_param("name", header="content-disposition"),
            "filename": part.get_filename(),
            "content_type": part.get("Content-Type") if "Content-Type" in part else None,
            "value": part.get_payload(decode=True),
        })
    return parts
