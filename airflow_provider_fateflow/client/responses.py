"""Answers: a status, headers and body turned into the typed result or a typed error (no I/O).

Never decides on the HTTP status alone: the JSON envelope must have ``retcode == 0`` (and ``data.code == 0``
where the call says so); HTTP 210 and every non-2xx status are errors (API.md §1).
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from airflow_provider_fateflow.client.calls import ApiCall
from airflow_provider_fateflow.client.errors import (
    FateFlowApiError,
    FateFlowAuthError,
    FateFlowError,
    FateFlowNotFoundError,
    FateFlowResponseError,
    summarize_retmsg,
)

__all__ = [
    "MAX_JSON_BYTES",
    "parse_response",
    "is_file_response",
    "decode_json",
    "auth_reason",
    "api_error",
    "excerpt",
    "retry_after_seconds",
    "v2_envelope",
    "V2_AUTH_CODES",
]

#: Largest JSON answer accepted, in bytes (16 MiB); bigger answers raise FateFlowResponseError.
MAX_JSON_BYTES = 16 * 1024 * 1024
_EXCERPT = 200


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
        raise FateFlowResponseError("empty answer where a JSON envelope was expected", operation=op,
                                    http_status=status, retry_after=retry_after)
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
        raise FateFlowResponseError(f"the server sent {what}", operation=op, http_status=status,
                                    excerpt=excerpt(body), retry_after=retry_after) from None
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
