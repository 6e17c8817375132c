"""Base of the v2 resource groups: the shared runner, and a download helper in the v2 dialect."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client._base import Group
from airflow_provider_fateflow.client._base import download_and_extract as _download_and_extract
from airflow_provider_fateflow.client.calls import NotFoundRule

__all__ = ["V2Group", "download_and_extract"]


class V2Group(Group):
    """A v2 resource group: holds the runner (sync transport) and the config."""

    __slots__ = ()


def download_and_extract(
    group: Group, operation: str, path: str, *, method: str = "GET", query: str | None = None,
    json_body: dict[str, Any] | None = None, target: Path, fallback_name: str, fmt: str = "tar.gz",
    not_found: NotFoundRule | None = None, max_bytes: int | None = None,
) -> Path:
    """:func:`~airflow_provider_fateflow.client._base.download_and_extract` in the v2 dialect (a GET with a
    query string by default): streamed next to ``target``, extracted safely into the fresh directory."""
    return _download_and_extract(group, operation, path, method, json_body, target, fallback_name, fmt, not_found,
                                 max_bytes, query=query, dialect="v2")
