"""Base of the v2 resource groups: the shared runner, and a download helper in the v2 dialect."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client._base import Group
from airflow_provider_fateflow.client.calls import NotFoundRule
from airflow_provider_fateflow.client.errors import FateFlowInputError
from airflow_provider_fateflow.client.v2._wire import V2Call

__all__ = ["V2Group", "download_and_extract"]


class V2Group(Group):
    """A v2 resource group: holds the runner (sync transport) and the config."""

    __slots__ = ()


def download_and_extract(
    group: Group, operation: str, path: str, *, method: str = "GET", query: str | None = None,
    json_body: dict[str, Any] | None = None, target: Path, fallback_name: str, fmt: str = "tar.gz",
    not_found: NotFoundRule | None = None, max_bytes: int | None = None,
) -> Path:
    """Stream an archive answer next to ``target``, then extract it safely into the fresh directory ``target``.

    Refuses a non-empty existing ``target`` before any request; deletes the archive afterwards; ``max_bytes``
    caps the unpacked size (default: the config's ``max_extract_bytes``). The wait for the first byte is
    bounded by the config's ``download_timeout``.
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
        downloaded = group._run(V2Call(
            operation, path, method=method, query=query, json=json_body, idempotent=True, download_to=tmp,
            download_name=fallback_name, not_found=not_found, parse=lambda f: f,
        ))
        safe_extract(downloaded.path, target, fmt=fmt, max_total_bytes=max_bytes or group._config.max_extract_bytes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
