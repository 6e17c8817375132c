"""Requests: the I/O-free description of one FATE Flow call, shared by the sync and async transports.

An :class:`ApiCall` describes one request (operation name, method, path below ``/v1/``, body, retry
safety, whether a file answer is expected, how to parse the envelope). :func:`prepare` turns it into
the exact bytes and headers to send (signed when the config has keys). The answer side is
:mod:`~airflow_provider_fateflow.client.responses`, multipart bodies :mod:`~airflow_provider_fateflow.client.multipart`,
the retry rules :mod:`~airflow_provider_fateflow.client.retry`; sockets live in the transports.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_fateflow.client.auth import sign, sign_v2
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.multipart import FilePart, MultipartStream

__all__ = [
    "ApiCall",
    "NotFoundRule",
    "nf",
    "WireRequest",
    "DownloadedFile",
    "prepare",
    "envelope_data",
    "json_query",
]

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
