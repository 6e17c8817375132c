"""The I/O-free core shared by the sync and async transports.

An :class:`ApiCall` describes one request (operation name, method, path below ``/v1/``, body, retry
safety, whether a file answer is expected, how to parse the envelope). :func:`prepare` turns it into
the exact bytes and headers to send (signed when the config has keys), and :func:`parse_response`
turns a status, headers and body into the typed result or a typed error. Sockets live elsewhere.
"""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_fateflow.client.auth import sign, sign_v2
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.errors import (
    FateFlowApiError,
    FateFlowAuthError,
    FateFlowError,
    FateFlowNotFoundError,
    FateFlowResponseError,
    summarize_retmsg,
)

__all__ = [
    "ApiCall",
    "FilePart",
    "NotFoundRule",
    "WireRequest",
    "DownloadedFile",
    "MultipartStream",
    "MAX_JSON_BYTES",
    "prepare",
    "parse_response",
    "is_file_response",
    "envelope_data",
    "json_query",
    "auth_reason",
    "v2_envelope",
    "V2_AUTH_CODES",
]

log = logging.getLogger("airflow_provider_fateflow.client")

#: Largest JSON answer accepted, in bytes (16 MiB); bigger answers raise FateFlowResponseError.
MAX_JSON_BYTES = 16 * 1024 * 1024
_EXCERPT = 200
_JSON_HEADERS = {"Content-Type": "application/json"}


def envelope_data(envelope: Mapping[str, Any]) -> Any:
    """Default parser: the envelope's ``data`` (``None`` when absent)."""
    return envelope.get("data")


@dataclass(frozen=True, slots=True)
class NotFoundRule:
    """Which error answers of one operation mean "does not exist".

    :param retcodes: matching ``retcode`` values (HTTP 210/404 answers carry retcode = status).
    :param fragments: lower-case substrings of ``retmsg``; empty means any message.
    """

    retcodes: frozenset[int]
    fragments: tuple[str, ...] = ()

    def matches(self, retcode: Any, retmsg: Any) -> bool:
        if retcode not in self.retcodes:
            return False
        if not self.fragments:
            return True
        text = str(retmsg or "").lower()
        return any(f in text for f in self.fragments)


def nf(*retcodes: int, fragments: tuple[str, ...] | str = ()) -> NotFoundRule:
    """Shorthand for :class:`NotFoundRule`."""
    if isinstance(fragments, str):
        fragments = (fragments,)
    return NotFoundRule(frozenset(retcodes), tuple(f.lower() for f in fragments))


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file part of a multipart body, streamed from disk.

    :param field: form field name (``"file"`` for FATE).
    :param path: local path of the file.
    :param filename: file name announced to the server (default: basename of ``path``).
    :param content_type: part Content-Type; ``None`` sends none (as the SDK does for model import).
    """

    field: str
    path: str
    filename: str | None = None
    content_type: str | None = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class ApiCall:
    """Description of one FATE Flow request; see the module docstring.

    :param operation: SDK-style name, e.g. ``"job.query"`` (used in errors and logs).
    :param path: path below the API root, e.g. ``"job/query"``.
    :param method: HTTP method (default ``"POST"``; a few download routes use ``"GET"`` with a body).
    :param json: JSON body (serialised once, signed and sent as those exact bytes); ``None`` = no body.
    :param query: raw, already percent-encoded query string (without ``?``).
    :param form: text form fields (multipart when ``file`` is set, else urlencoded).
    :param file: the file part of a multipart body.
    :param idempotent: safe to send again (queries, lists, info, downloads); only those are retried
        after the request may have reached the server.
    :param download_to: directory for a file answer; a call with it expects an attachment.
    :param download_name: fallback file name when the answer has no usable Content-Disposition.
    :param check_data_code: also require ``data.code == 0`` (upload, download, model store/restore).
    :param not_found: error answers that mean "does not exist" -> FateFlowNotFoundError.
    :param empty_on: error answers that mean "nothing matched" -> ``parse`` gets ``data = None``.
    :param parse: turns the envelope (or a DownloadedFile) into the typed result.
    :param dialect: the wire generation: ``"v1"`` (default; ``retcode``/``retmsg``, HMAC-SHA1 signature),
        ``"v2"`` (FATE Flow 2.x: ``code``/``message``, some answers unwrapped, MD5 signature; see
        :func:`v2_envelope`), or ``"raw"`` (any 2xx JSON object goes to ``parse`` unchecked: dialect detection).
    """

    operation: str
    path: str
    method: str = "POST"
    json: Any = None
    query: str | None = None
    form: Mapping[str, str] | None = None
    file: FilePart | None = None
    idempotent: bool = False
    download_to: str | None = None
    download_name: str | None = None
    check_data_code: bool = False
    not_found: NotFoundRule | None = None
    empty_on: NotFoundRule | None = None
    parse: Callable[[Any], Any] = envelope_data
    dialect: str = "v1"


@dataclass(frozen=True, slots=True)
class DownloadedFile:
    """A file answer written to disk.

    :param path: where it was written.
    :param filename: the (sanitised) name announced by the server.
    :param size: bytes written.
    :param content_type: the answer's Content-Type.
    """

    path: str
    filename: str
    size: int
    content_type: str | None


@dataclass(slots=True)
class WireRequest:
    """Exactly what goes on the wire (built by :func:`prepare`)."""

    method: str
    url: str
    path_url: str
    headers: dict[str, str]
    body: bytes | MultipartStream | None


def json_query(conf: Mapping[str, Any]) -> str:
    """The SDK's JSON-in-query string for ``data/upload`` (API.md §6.1).

    ``json.dumps`` with the SDK's separators, then percent-encoded like ``requests`` does, except
    that ``& = + # ? %`` are always encoded, so values containing them survive the query parser.
    """
    return quote(json.dumps(conf), safe=":/,")


class MultipartStream:
    """A ``multipart/form-data`` body read lazily: text fields, then the file streamed from disk.

    ``len()`` gives the exact size (so a Content-Length is sent, no chunked encoding); ``read(n)``
    serves at most ``n`` bytes and logs progress every ``progress_interval`` seconds.

    :param fields: text fields (name, value).
    :param file: the file part.
    :param operation: for progress log lines.
    :param boundary: multipart boundary (default: random).
    :param progress_interval: seconds between progress log lines (default 5.0).
    """

    chunk_size = 1024 * 1024

    def __init__(
        self,
        fields: Mapping[str, str] | None,
        file: FilePart,
        *,
        operation: str = "",
        boundary: str | None = None,
        progress_interval: float = 5.0,
    ) -> None:
        self.boundary = boundary or uuid.uuid4().hex
        self.operation = operation
        self._file = file
        self._progress_interval = progress_interval
        b = self.boundary.encode()
        head = bytearray()
        for name, value in (fields or {}).items():
            head += b"--" + b + b"\r\n"
            head += f'Content-Disposition: form-data; name="{_quote_param(name)}"\r\n\r\n'.encode()
            head += str(value).encode() + b"\r\n"
        filename = file.filename or os.path.basename(file.path)
        head += b"--" + b + b"\r\n"
        head += (
            f'Content-Disposition: form-data; name="{_quote_param(file.field)}"; '
            f'filename="{_quote_param(filename)}"\r\n'
        ).encode()
        if file.content_type:
            head += f"Content-Type: {file.content_type}\r\n".encode()
        head += b"\r\n"
        self._head = bytes(head)
        self._tail = b"\r\n--" + b + b"--\r\n"
        self.file_size = os.path.getsize(file.path)
        self._len = len(self._head) + self.file_size + len(self._tail)
        self._segments: list[Any] = [self._head, None, self._tail]  # None = the file
        self._fh: Any = None
        self._sent = 0
        self._last_log = time.monotonic()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._len

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes (all remaining if negative); ``b""`` at the end."""
        if size is None or size < 0:
            size = self._len
        out = bytearray()
        while len(out) < size and self._segments:
            seg = self._segments[0]
            if seg is None:
                if self._fh is None:
                    self._fh = open(self._file.path, "rb")  # noqa: SIM115 - closed at EOF/close()
                data = self._fh.read(min(size - len(out), self.chunk_size))
                if not data:
                    self._fh.close()
                    self._segments.pop(0)
                    continue
                out += data
            else:
                take = seg[: size - len(out)]
                out += take
                rest = seg[len(take):]
                if rest:
                    self._segments[0] = rest
                else:
                    self._segments.pop(0)
        self._sent += len(out)
        self._maybe_log()
        return bytes(out)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(self.chunk_size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log >= self._progress_interval and self._len:
            self._last_log = now
            log.info(
                "%s: sent %s of %s bytes (%.0f%%)",
                self.operation, self._sent, self._len, 100.0 * self._sent / self._len,
            )


def _quote_param(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


def prepare(call: ApiCall, config: ClientConfig) -> WireRequest:
    """Serialise ``call`` once and sign exactly the bytes that will be sent.

    :param call: the request description.
    :param config: base URL and keys.
    """
    path_url = config.api_path + call.path
    if call.query:
        path_url = f"{path_url}?{call.query}"
    url = f"{config.scheme}://{_netloc(config)}{path_url}"
    body: bytes | MultipartStream | None = None
    signed_body: bytes | None = None
    signed_form: Mapping[str, str] | None = None
    if call.file is not None:
        body = MultipartStream(call.form, call.file, operation=call.operation)
        headers = {"Content-Type": body.content_type}
        signed_form = call.form
    elif call.form is not None:
        body = urlencode(sorted(call.form.items())).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        signed_form = call.form
    elif call.json is not None:
        body = json.dumps(call.json, separators=(",", ":")).encode()
        headers = _JSON_HEADERS
        signed_body = body
    else:
        headers = {}
    if config.app_key and config.secret_key:
        if call.dialect == "v2":
            headers = {**headers, **sign_v2(config.app_key, config.secret_key)}
        else:
            headers = {**headers, **sign(config.app_key, config.secret_key, path_url, signed_body, signed_form)}
    return WireRequest(call.method, url, path_url, headers, body)


def _netloc(config: ClientConfig) -> str:
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{host}:{config.port}"


# --------------------------------------------------------------------------------------------------
# response classification


def is_file_response(status: int, headers: Mapping[str, str]) -> bool:
    """A file answer: status 200, ``Content-Disposition: attachment``, and not JSON."""
    if status != 200:
        return False
    disposition = headers.get("Content-Disposition") or headers.get("content-disposition") or ""
    if "attachment" not in disposition.lower():
        return False
    ctype = (headers.get("Content-Type") or headers.get("content-type") or "").lower()
    return "json" not in ctype


def excerpt(body: bytes | str | None, limit: int = _EXCERPT) -> str:
    """A short printable excerpt of a body (whitespace collapsed)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body)
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def decode_json(body: bytes) -> Any:
    """A JSON answer as Python objects.

    msgspec's decoder (installed with Airflow 3) is about twice as fast as ``json.loads`` on FATE's answers
    (104 vs 197 us for a 36 KB ``job/list/job`` page, 10 vs 25 us for a ``job/query`` row); what it refuses
    and Python's ``json`` accepts (``NaN``/``Infinity``, which FATE's ``json.dumps`` writes for NaN metrics,
    lone surrogates, ``1e400``) is decoded by ``json.loads``, so the result never depends on the decoder.

    :raises ValueError: not JSON.
    """
    import msgspec

    try:
        return msgspec.json.decode(body)
    except msgspec.MsgspecError:
        return json.loads(body)


def parse_response(call: ApiCall, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """Classify a (non-file) answer: the parsed result, or raise a typed error.

    Never decides on the HTTP status alone: the JSON envelope must have ``retcode == 0`` (and
    ``data.code == 0`` when ``call.check_data_code``); HTTP 210 and every non-2xx status are errors.
    """
    op = call.operation
    retry_after = retry_after_seconds(headers.get("Retry-After") or headers.get("retry-after"))
    if not body or not body.strip():
        err = FateFlowResponseError("empty answer where a JSON envelope was expected", operation=op, http_status=status)
        err.retry_after = retry_after  # type: ignore[attr-defined]
        raise err
    try:
        envelope = decode_json(body)
    except (ValueError, UnicodeDecodeError):
        stripped = body.lstrip()[:15].lower()
        if stripped.startswith((b"<!doctype", b"<html", b"<head", b"<body")) or stripped.startswith(b"<"):
            what = "an HTML page instead of a JSON envelope (wrong URL, proxy or login page?)"
        elif body.lstrip()[:1] in (b"{", b"["):
            what = "truncated or invalid JSON"
        else:
            what = "an answer that is not JSON"
        err = FateFlowResponseError(f"the server sent {what}", operation=op, http_status=status, excerpt=excerpt(body))
        err.retry_after = retry_after  # type: ignore[attr-defined]
        raise err from None
    if not isinstance(envelope, dict):
        raise FateFlowResponseError(
            f"expected a JSON object envelope, got {type(envelope).__name__}",
            operation=op, http_status=status, excerpt=excerpt(body),
        )
    if call.dialect == "raw" and 200 <= status < 300 and status != 210:
        return _run_parser(call, envelope, status, body)
    if call.dialect == "v2":
        envelope = v2_envelope(envelope)
    retcode = envelope.get("retcode")
    if status == 210 or not 200 <= status < 300 or retcode != 0:
        if retcode is None and 200 <= status < 300:
            what = "JSON envelope without retcode"
            if "code" in envelope and "message" in envelope:
                what += " (the server answered like FATE Flow 2.x: set the connection's api_version to v2 or auto)"
            raise FateFlowResponseError(what, operation=op, http_status=status, excerpt=excerpt(body))
        if call.empty_on is not None and call.empty_on.matches(retcode, envelope.get("retmsg")):
            return _run_parser(call, {"retcode": 0, "retmsg": envelope.get("retmsg"), "data": None}, status, body)
        raise api_error(call, status, envelope, body, retry_after)
    if call.download_to is not None:
        raise FateFlowResponseError(
            "expected a file attachment, got a JSON success envelope", operation=op, http_status=status,
            excerpt=excerpt(body),
        )
    if call.check_data_code:
        data = envelope.get("data")
        if not isinstance(data, dict) or "code" not in data:
            raise FateFlowResponseError(
                "success envelope without data.code", operation=op, http_status=status, excerpt=excerpt(body)
            )
        if data.get("code") != 0:
            raise FateFlowApiError(
                operation=op, retcode=data.get("code"), retmsg=data.get("message"), http_status=status,
                data=data, body_excerpt=excerpt(body), hint="the server accepted the request but its job submit failed",
            )
    return _run_parser(call, envelope, status, body)


#: v2 ``code`` values that mean the request was not authenticated (fate_flow/entity/code: ReturnCode.API).
V2_AUTH_CODES = {5000: "expired", 5002: "unknown_app_id", 5003: "bad_signature", 5004: "bad_signature",
                 5005: "no_permission"}


#: A 5001 "Invalid parameter" naming one of these is an unsigned request to a server with client auth on.
_V2_AUTH_HEADERS = ("appId", "Timestamp", "Nonce", "Signature")


def v2_envelope(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A FATE Flow 2.x answer in the shape the classifier reads (``retcode``, ``retmsg``, ``data``, the rest).

    2.x wraps most answers as ``{"code", "message", "data", ...}`` (HTTP 200 for errors too). A few routes
    (``output/data/table``, ``output/data/display``) send their object without the wrapper: that is data.
    An answer with ``retcode`` and no ``code`` came from a 1.x server: it stays an error (``v1_server``).
    """
    if "code" in answer:
        out = {k: v for k, v in answer.items() if k not in ("code", "message")}
        out["retcode"], out["retmsg"] = answer.get("code"), answer.get("message")
        return out
    if "retcode" in answer:
        return {"retcode": answer.get("retcode") if answer.get("retcode") != 0 else 100,
                "retmsg": answer.get("retmsg"), "data": answer.get("data"), "v1_server": True}
    return {"retcode": 0, "retmsg": None, "data": dict(answer)}


def _run_parser(call: ApiCall, envelope: Any, status: int, body: bytes | None) -> Any:
    try:
        return call.parse(envelope)
    except FateFlowError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise FateFlowResponseError(
            f"unexpected answer shape ({type(exc).__name__}: {exc})",
            operation=call.operation, http_status=status, excerpt=excerpt(body),
        ) from None


_AUTH_REASONS = (
    ("requirement headers", "missing_headers", "the server requires signed requests: set app_key and secret_key"),
    ("more than 60 seconds", "clock_skew", "clock skew: this machine's clock and the server's differ by more than 60 s"),
    ("invalid timestamp", "invalid_timestamp", "the TIMESTAMP header was not accepted"),
    ("invalid nonce", "invalid_nonce", "the NONCE header was not accepted"),
    ("unknown app_key", "unknown_app_key", "unknown app key: check app_key"),
    ("signature authentication failed", "bad_signature", "wrong signature: check secret_key (and that no proxy rewrites the request)"),
    ("http_app_key and http_secret_key is none", "server_not_configured", "the server has authentication on but no keys configured"),
)


def auth_reason(retmsg: Any) -> tuple[str, str]:
    """``(reason, explanation)`` for an authentication failure message."""
    text = str(retmsg or "").lower()
    for fragment, reason, explanation in _AUTH_REASONS:
        if fragment in text:
            return reason, explanation
    return "unknown", "authentication failed"


def _party_failures(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("detail"), dict):
        return None
    failures = []
    for role, parties in data["detail"].items():
        if not isinstance(parties, dict):
            continue
        for party, result in parties.items():
            if isinstance(result, dict) and result.get("retcode") not in (0, None):
                failures.append(f"{role} {party}: {summarize_retmsg(result.get('retmsg'), 160)}")
    return "; ".join(failures[:4]) or None


def api_error(
    call: ApiCall, status: int, envelope: Mapping[str, Any], body: bytes | None, retry_after: float | None = None
) -> FateFlowApiError:
    """Build the typed error for an error envelope."""
    retcode = envelope.get("retcode")
    retmsg = envelope.get("retmsg")
    kwargs: dict[str, Any] = dict(
        operation=call.operation, retcode=retcode, retmsg=None if retmsg is None else str(retmsg),
        http_status=status, data=envelope.get("data"), body_excerpt=excerpt(body), retry_after=retry_after,
    )
    if call.dialect == "v2" and retcode == 5001 and any(f"[{h}]" in str(retmsg or "") for h in _V2_AUTH_HEADERS):
        return FateFlowAuthError(
            f"the server requires signed requests (server said: {summarize_retmsg(retmsg, 200)}); set the "
            "connection's login (app id) and password (app token)", reason="missing_headers", **kwargs,
        )
    if call.dialect == "v2" and retcode in V2_AUTH_CODES:
        return FateFlowAuthError(
            f"authentication failed (server said: {summarize_retmsg(retmsg, 200)}); check the connection's login "
            "(app id) and password (app token), and this machine's clock",
            reason=V2_AUTH_CODES[retcode], **kwargs,
        )
    if retcode == 109 or (status in (401, 403, 425) and retcode == status):
        reason, explanation = auth_reason(retmsg)
        return FateFlowAuthError(
            f"{explanation} (server said: {summarize_retmsg(retmsg, 200)})", reason=reason, **kwargs
        )
    if status == 404 or (call.not_found is not None and call.not_found.matches(retcode, retmsg)):
        return FateFlowNotFoundError(**kwargs)
    text = str(retmsg or "")
    hint = None
    if envelope.get("v1_server"):
        hint = "the server answered like FATE Flow 1.x: set the connection's api_version to v1 (or auto)"
    elif text.startswith("<NotFound '404") and call.dialect == "v2":
        hint = "the server has no such /v2 route: is it a FATE Flow 2.x server?"
    elif text.startswith("<NotFound '404"):
        hint = "the server has no such route: is it a FATE Flow 1.x server with the v1 API?"
    elif text.startswith("<MethodNotAllowed"):
        hint = "wrong HTTP method for this route"
    else:
        hint = _party_failures(kwargs["data"])
    return FateFlowApiError(hint=hint, **kwargs)
