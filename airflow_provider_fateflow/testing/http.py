"""Request context, replies and werkzeug-style HTTP errors shared by the ASGI app and the route handlers."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class ArgumentError(Exception):
    """``@validate_request`` failure: retcode 101 ``required argument are missing: a,b; ``."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("required argument are missing: {}; ".format(",".join(missing)))


class HTTPException(Exception):
    """A werkzeug HTTP exception; FATE Flow's ``errorhandler(Exception)`` answers ``repr(exc)`` with retcode 100."""

    def __init__(self, name: str, code: int, text: str) -> None:
        super().__init__(text)
        self.name, self.code, self.text = name, code, text

    def __repr__(self) -> str:
        return f"<{self.name} '{self.code}: {self.text}'>"


def not_found() -> HTTPException:
    """werkzeug ``NotFound``."""
    return HTTPException("NotFound", 404, "Not Found")


def method_not_allowed() -> HTTPException:
    """werkzeug ``MethodNotAllowed``."""
    return HTTPException("MethodNotAllowed", 405, "Method Not Allowed")


def bad_request_key_error() -> HTTPException:
    """werkzeug ``BadRequestKeyError`` (a missing form or file field)."""
    return HTTPException("BadRequestKeyError", 400, "Bad Request")


def too_large() -> HTTPException:
    """werkzeug ``RequestEntityTooLarge``."""
    return HTTPException("RequestEntityTooLarge", 413, "Request Entity Too Large")


@dataclass
class Reply:
    """What a handler answers: a JSON body or a file, with HTTP status and extra headers."""

    status: int = 200
    body: dict[str, Any] | None = None
    file: str | None = None
    filename: str | None = None
    content_type: str = "application/json"
    delete_file: bool = True

    @property
    def retcode(self) -> Any:
        """The envelope's retcode, for logging ("-" for files)."""
        return self.body.get("retcode", "-") if self.body is not None else "-"

    def encode(self) -> bytes:
        """The JSON body as bytes (Flask ``jsonify`` style, ASCII-escaped)."""
        return json.dumps(self.body, separators=(", ", ": ")).encode()


def result(retcode: int = 0, retmsg: str = "success", data: Any = None, job_id: str | None = None,
           meta: Any = None) -> Reply:
    """``get_json_result``: HTTP 200 envelope; keys whose value is None are left out."""
    body = {"retcode": retcode, "retmsg": retmsg, "data": data, "jobId": job_id, "meta": meta}
    return Reply(200, {k: v for k, v in body.items() if v is not None})


def error_response(code: int, retmsg: str) -> Reply:
    """``error_response``: HTTP status equals the retcode."""
    return Reply(code, {"retmsg": retmsg, "retcode": code})


def server_error(exc: BaseException) -> Reply:
    """``server_error_response``: HTTP 200, retcode 100, ``repr(exc)`` (plus data = args[1])."""
    body: dict[str, Any] = {"retcode": 100, "retmsg": repr(exc)}
    if len(exc.args) > 1 and exc.args[1] is not None:
        body["data"] = exc.args[1]
    return Reply(200, body)


@dataclass
class Ctx:
    """One request as the handlers see it (the Flask ``request`` of FATE Flow)."""

    method: str
    path: str
    route: str
    query: str
    headers: dict[str, str]
    raw: bytes = b""
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    request: Any = None

    @property
    def args(self) -> dict[str, Any]:
        """``request.json or request.form.to_dict()`` as ``validate_request`` reads it."""
        return self.json if isinstance(self.json, dict) and self.json else dict(self.form)

    def require(self, *keys: str) -> dict[str, Any]:
        """``@validate_request(*keys)``; returns the arguments."""
        args = self.args
        missing = [k for k in keys if k not in args]
        if missing:
            raise ArgumentError(missing)
        return args
