"""``client.v2.data``: FATE Flow 2.x uploads, downloads and transforms, with the v2 SDK's names and order."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client.multipart import FilePart
from airflow_provider_fateflow.client.errors import FateFlowInputError
from airflow_provider_fateflow.client.inputs import resolve_local_file
from airflow_provider_fateflow.client.results import LocalJobResult, UploadResult
from airflow_provider_fateflow.client.v2._group import V2Group, download_and_extract
from airflow_provider_fateflow.client.v2._wire import TABLE_NOT_FOUND, V2Call, body, params, require

__all__ = ["DataGroupV2"]


def _check_upload(head: Any, partitions: Any, meta: Any, operation: str) -> None:
    if not isinstance(head, bool):
        raise FateFlowInputError(f"head must be True or False, not {head!r}", operation=operation)
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions <= 0:
        raise FateFlowInputError(f"partitions must be a positive integer, not {partitions!r}", operation=operation)
    if not isinstance(meta, Mapping):
        raise FateFlowInputError(
            f"meta must be a mapping such as {{'delimiter': ',', 'match_id_name': 'id'}}, not {type(meta).__name__}",
            operation=operation,
        )


def _upload_result(envelope: Mapping[str, Any]) -> UploadResult:
    data = envelope.get("data") if isinstance(envelope.get("data"), Mapping) else {}
    return UploadResult(job_id=str(envelope["job_id"]), namespace=data.get("namespace"), table_name=data.get("name"),
                        board_url=None, raw={k: v for k, v in envelope.items() if k not in ("retcode", "retmsg")},
                        party_id=0)


class DataGroupV2(V2Group):
    """Data operations of FATE Flow 2.x (``fate_client.flow_sdk`` ``Data``).

    An upload, a server-side download and a transform each run as a job of role ``local``, party ``0``: wait
    for it with ``job.query(job_id)``. A server file that does not exist is accepted (code 0) and the job fails.
    """

    __slots__ = ()

    def upload(self, file: str, head: bool, partitions: int, meta: Mapping[str, Any], namespace: str | None = None,
               name: str | None = None, extend_sid: bool | None = None) -> UploadResult:
        """Upload a file that lies **on the FATE Flow host** (``POST data/component/upload``). Not retried.

        :param file: absolute path on the server (a relative one is read below the server's upload home).
        :param head: the first line is the header.
        :param partitions: number of partitions of the table.
        :param meta: e.g. ``{"delimiter": ",", "label_name": "y", "match_id_name": "id"}``.
        :param extend_sid: add a sample-id column (``extend_sid``), as FATE 2's examples do.
        """
        _check_upload(head, partitions, meta, "data.upload")
        return self._run(V2Call("data.upload", "data/component/upload", json=body(
            file=str(require(file, "file", "data.upload")), head=head, partitions=partitions, meta=dict(meta),
            namespace=namespace, name=name, extend_sid=extend_sid,
        ), parse=_upload_result))

    def upload_file(self, file: str | os.PathLike[str], head: bool, partitions: int, meta: Mapping[str, Any],
                    namespace: str | None = None, name: str | None = None,
                    extend_sid: bool | None = None) -> UploadResult:
        """Upload a local file, streamed from disk as multipart (``POST data/component/upload/file``). Not retried.

        Arguments as :meth:`upload`; ``file`` is a path on this machine (relative to the CWD).
        """
        _check_upload(head, partitions, meta, "data.upload_file")
        path = resolve_local_file(require(file, "file", "data.upload_file"), "file")
        form = {"head": "true" if head else "false", "partitions": str(partitions), "meta": json.dumps(dict(meta))}
        if extend_sid is not None:
            form["extend_sid"] = "true" if extend_sid else "false"
        if namespace is not None:
            form["namespace"] = str(namespace)
        if name is not None:
            form["name"] = str(name)
        return self._run(V2Call("data.upload_file", "data/component/upload/file", form=form,
                                file=FilePart("file", str(path), path.name), parse=_upload_result))

    def download(self, namespace: str, name: str, path: str | os.PathLike[str], *,
                 max_bytes: int | None = None) -> Path:
        """Fetch a table's contents (``GET data/download``, a tar.gz) and extract them safely into
        ``<path>/download_data_<namespace>_<name>/``.

        :raises FateFlowNotFoundError: no such table (7001).
        """
        require(namespace, "namespace", "data.download")
        require(name, "name", "data.download")
        stem = f"download_data_{namespace}_{name}"
        return download_and_extract(
            self, "data.download", "data/download", query=params(namespace=namespace, name=name),
            target=Path(path) / stem, fallback_name=f"{stem}.tar.gz", not_found=TABLE_NOT_FOUND, max_bytes=max_bytes,
        )

    def download_component(self, namespace: str, name: str, path: str | None = None) -> LocalJobResult:
        """Start a job that writes the table to ``path`` **on the FATE Flow host**
        (``POST data/component/download``)."""
        return self._run(V2Call("data.download_component", "data/component/download", json=body(
            namespace=require(namespace, "namespace", "data.download_component"),
            name=require(name, "name", "data.download_component"), path=path,
        ), parse=lambda e: LocalJobResult(job_id=str(e["job_id"]), board_url=None,
                                          raw={k: v for k, v in e.items() if k not in ("retcode", "retmsg")})))

    def dataframe_transformer(self, namespace: str, name: str, data_warehouse: Mapping[str, Any],
                              drop: bool | None = None, site_name: str | None = None) -> UploadResult:
        """Turn a stored table into a FATE 2 dataframe table ``namespace``/``name`` (a local job).

        :param data_warehouse: the source, e.g. ``{"namespace": ..., "name": ...}``.
        :param drop: replace an existing ``namespace``/``name`` (the server's default is True).
        """
        if not isinstance(data_warehouse, Mapping):
            raise FateFlowInputError("data_warehouse must be a mapping", operation="data.dataframe_transformer")
        return self._run(V2Call("data.dataframe_transformer", "data/component/dataframe/transformer", json=body(
            namespace=require(namespace, "namespace", "data.dataframe_transformer"),
            name=require(name, "name", "data.dataframe_transformer"), data_warehouse=dict(data_warehouse),
            drop=drop, site_name=site_name,
        ), parse=_upload_result))
