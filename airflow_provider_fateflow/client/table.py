"""``client.table``: table info, delete, list and download (API.md §9, §6.2)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client._base import Group, body, data_dict, download_and_extract, require
from airflow_provider_fateflow.client.calls import ApiCall, nf
from airflow_provider_fateflow.client.results import TableInfo

__all__ = ["TableGroup", "table_info_call"]


def _table_info(envelope: Mapping[str, Any]) -> TableInfo:
    data = data_dict(envelope)
    exists = data.get("exist", data.get("exists"))
    return TableInfo(
        namespace=str(data.get("namespace")), table_name=str(data.get("table_name")),
        exists=bool(int(exists or 0)), count=data.get("count"), partition=data.get("partition"),
        schema=data.get("schema"), raw=data,
    )


def table_info_call(namespace: str, table_name: str) -> ApiCall:
    """``POST table/table_info`` (idempotent); ``exists`` False for a missing table."""
    return ApiCall(
        "table.info", "table/table_info",
        json={"namespace": require(namespace, "namespace", "table.info"),
              "table_name": require(table_name, "table_name", "table.info")},
        idempotent=True, parse=_table_info,
    )


class TableGroup(Group):
    """Table operations, with the FATE Flow SDK's names and arguments."""

    __slots__ = ()

    def info(self, namespace: str, table_name: str) -> TableInfo:
        """Table metadata (``POST table/table_info``); ``exists`` False for a missing table."""
        return self._run(table_info_call(namespace, table_name))

    def delete(self, namespace: str, table_name: str) -> dict[str, Any]:
        """Destroy a table (``POST table/delete``). Not retried.

        :raises FateFlowNotFoundError: no such table (101 "no find table").
        """
        return self._run(ApiCall(
            "table.delete", "table/delete",
            json={"namespace": require(namespace, "namespace", "table.delete"),
                  "table_name": require(table_name, "table_name", "table.delete")},
            not_found=nf(101, fragments="no find table"), parse=data_dict,
        ))

    def list(self, job_id: str, role: str | None = None, party_id: int | str | None = None) -> dict[str, Any]:
        """Per-component input and output tables of a job (``POST table/list``)."""
        role, party = self._role_party(role, party_id, "table.list")
        return self._run(ApiCall(
            "table.list", "table/list", json=body(job_id=require(job_id, "job_id", "table.list"), role=role, party_id=party),
            idempotent=True, parse=data_dict,
        ))

    def download(self, namespace: str, table_name: str, output_path: str | os.PathLike[str],
                 *, max_bytes: int | None = None) -> Path:
        """Fetch a table's contents (``GET table/download``, FATE Flow 1.8+) and extract them safely
        into ``<output_path>/table_<namespace>_<table_name>/`` (``table.csv``, ``table.meta``).

        The server builds the whole archive before it answers: the wait for the first byte is bounded by
        the config's ``download_timeout`` (default 600 s), not ``read_timeout``.

        :param max_bytes: refuse an archive that unpacks to more than this many bytes (default: the config's
            ``max_extract_bytes``, 2 GiB).

        :raises FateFlowNotFoundError: no such table (HTTP 210).
        """
        require(namespace, "namespace", "table.download")
        require(table_name, "table_name", "table.download")
        stem = f"table_{namespace}_{table_name}"
        return download_and_extract(
            self, "table.download", "table/download", "GET",
            {"name": table_name, "namespace": namespace, "head": True},
            Path(output_path) / stem, f"{stem}.tar.gz", "tar.gz", not_found=nf(210), max_bytes=max_bytes,
        )
