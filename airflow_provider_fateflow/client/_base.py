"""Shared plumbing of the resource groups (no I/O of its own)."""
from __future__ import annotations

import shutil
import tempfile
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_fateflow.client.calls import ApiCall, NotFoundRule
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.errors import (
    FateFlowApiError,
    FateFlowConnectionError,
    FateFlowError,
    FateFlowInputError,
    FateFlowResponseError,
)
from airflow_provider_fateflow.client.inputs import party_id_int

log = logging.getLogger("airflow_provider_fateflow.client")


class Runner(Protocol):
    config: ClientConfig

    def run(self, call: ApiCall) -> Any: ...


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without ``None`` values; ``job_id``/``model_version`` as str, ``party_id`` as int."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("job_id", "model_version"):
            value = str(value)
        elif key == "party_id":
            value = party_id_int(value, key)
        out[key] = value
    return out


def require(value: Any, name: str, operation: str) -> Any:
    """Raise FateFlowInputError when a required argument is missing or empty."""
    if value is None or value == "":
        raise FateFlowInputError(f"{name} is required", operation=operation)
    return value


def given_once(operation: str, **candidates: Any) -> Any:
    """The one argument given among ``candidates`` (the hook's name and the older SDK's name of one argument).

    :raises FateFlowInputError: none or more than one of them given.
    """
    given = {name: value for name, value in candidates.items() if value is not None}
    if len(given) != 1:
        names = " or ".join(candidates)
        raise FateFlowInputError(f"give {names} (exactly one)", operation=operation)
    return next(iter(given.values()))


def retmsg(envelope: Mapping[str, Any]) -> str:
    """Parser: the envelope's ``retmsg`` as a string."""
    return str(envelope.get("retmsg") or "")


def data_dict(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """Parser: ``data`` that must be an object (``{}`` when absent)."""
    data = envelope.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError(f"data is a {type(data).__name__}, expected an object")
    return data


def data_list(envelope: Mapping[str, Any]) -> list[Any]:
    """Parser: ``data`` that must be a list (``[]`` when absent)."""
    data = envelope.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise TypeError(f"data is a {type(data).__name__}, expected a list")
    return data


def data_and_meta(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """Parser: ``{"data": ..., "meta": ...}``."""
    return {"data": envelope.get("data"), "meta": envelope.get("meta")}


def is_ambiguous(exc: BaseException) -> bool:
    """A failure after which a create call may or may not have taken effect.

    The request left this machine and then the connection dropped, the read timed out, or the
    server (or a proxy) answered 5xx.
    """
    if isinstance(exc, FateFlowConnectionError):
        return exc.request_sent and exc.transient
    if isinstance(exc, (FateFlowApiError, FateFlowResponseError)):
        return (exc.http_status or 0) >= 500
    return False


def download_and_extract(
    group: Group, operation: str, path: str, method: str, json_body: dict[str, Any] | None,
    target: Path, fallback_name: str, fmt: str, not_found: NotFoundRule | None = None,
    max_bytes: int | None = None, *, query: str | None = None, dialect: str = "v1",
) -> Path:
    """Stream an archive next to ``target``, then extract it safely into the fresh directory ``target``.

    The archive is deleted afterwards; a non-empty existing ``target`` is refused before any request.
    ``max_bytes`` caps the unpacked size (default: the config's ``max_extract_bytes``).
    """
    from airflow_provider_fateflow.client.archive import safe_extract

    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0):
        raise FateFlowInputError(f"max_bytes must be a positive number of bytes, not {max_bytes!r}",
                                 operation=operation)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FateFlowInputError(f"output directory {str(target)!r} exists and is not empty", operation=operation)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".download-", dir=target.parent)
    try:
        downloaded = group._run(ApiCall(
            operation, path, method=method, json=json_body, query=query, idempotent=True, download_to=tmp,
            download_name=fallback_name, not_found=not_found, parse=_identity, dialect=dialect,
        ))
        safe_extract(downloaded.path, target, fmt=fmt, max_total_bytes=max_bytes or group._config.max_extract_bytes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def recover(lookup: Callable[[], Any], delays: tuple[float, ...], sleep: Callable[[float], Any]) -> tuple[Any, bool]:
    """``(found, searched)`` after a create call's answer was lost: the first thing ``lookup`` finds (tried after
    each of ``delays``), else ``None``; ``searched`` says whether the last lookup was answered (so "not found"
    is an answer)."""
    searched = False
    for delay in delays:
        if delay:
            sleep(delay)
        try:
            found = lookup()
        except FateFlowError as exc:
            log.warning("lost-answer lookup failed: %s", exc)
            searched = False
            continue
        searched = True
        if found is not None:
            return found, True
    return None, searched


def _identity(value: Any) -> Any:
    return value


class Group:
    """Base of the resource groups: holds the runner (sync transport) and the config."""

    __slots__ = ("_runner", "_config")

    def __init__(self, runner: Runner, config: ClientConfig) -> None:
        self._runner = runner
        self._config = config

    def _run(self, call: ApiCall) -> Any:
        return self._runner.run(call)

    def _role_party(self, role: str | None, party_id: int | str | None, operation: str) -> tuple[str, int]:
        role = role or self._config.initiator_role
        if party_id is None:
            party_id = self._config.initiator_party_id
        if not role or party_id is None:
            raise FateFlowInputError(
                "role and party_id are required (or set initiator_role/initiator_party_id in the connection)",
                operation=operation,
            )
        return role, party_id_int(party_id, "party_id")

    def _sleep(self, seconds: float) -> None:
        sleep = getattr(self._runner, "sleep", None)
        if sleep is None:
            import time

            sleep = time.sleep
        sleep(seconds)


__all__ = ["Group", "body", "require", "given_once", "recover", "retmsg", "data_dict", "data_list", "data_and_meta", "is_ambiguous", "download_and_extract", "FateFlowError"]
