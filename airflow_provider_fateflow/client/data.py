"""``client.data``: upload, server-side download jobs and upload history (API.md §6)."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_fateflow.client._base import Group, Runner, body, data_dict, data_list, is_ambiguous
from airflow_provider_fateflow.client.calls import ApiCall, json_query
from airflow_provider_fateflow.client.multipart import FilePart
from airflow_provider_fateflow.client.errors import FateFlowAmbiguousSubmitError, FateFlowError, FateFlowInputError
from airflow_provider_fateflow.client.inputs import load_json_arg, party_id_int, resolve_local_file
from airflow_provider_fateflow.client.board import local_board_url
from airflow_provider_fateflow.client.results import LocalJobResult, UploadResult

if TYPE_CHECKING:
    from airflow_provider_fateflow.client.config import ClientConfig
    from airflow_provider_fateflow.client.job import JobGroup

__all__ = ["DataGroup"]

log = logging.getLogger("airflow_provider_fateflow.client")


class DataGroup(Group):
    """Data operations, with the FATE Flow SDK's names and arguments.

    :param jobs: the client's job group: a lost upload answer is looked for with its ``recovery_delays``
        and paging settings (default: a job group of its own, with the class defaults).
    """

    __slots__ = ("_jobs",)

    def __init__(self, runner: Runner, config: ClientConfig, jobs: JobGroup | None = None) -> None:
        super().__init__(runner, config)
        if jobs is None:
            from airflow_provider_fateflow.client.job import JobGroup

            jobs = JobGroup(runner, config)
        self._jobs = jobs

    def upload(
        self,
        conf: Mapping[str, Any] | str | os.PathLike[str],
        *,
        drop: bool = False,
        verbose: int = 0,
        marker: str | None = None,
    ) -> UploadResult:
        """Upload a table (``POST data/upload``); the upload then runs as a local job.

        ``use_local_data: 0`` means ``file`` is a path on the FATE Flow host: the conf is the JSON
        body. Otherwise (default) the local ``file`` (relative to the CWD) is streamed as the multipart
        part ``file`` and the conf rides as JSON in the raw query string, as the SDK does.

        If the answer is lost (connection dropped after sending, read timeout, 5xx), the upload is not
        resent: recent ``local`` jobs of the party are searched for an ``upload_0`` with the same
        namespace and table name.

        :param conf: upload conf (dict or JSON file path): namespace, table_name, file, head, partition, ...
        :param drop: replace an existing table (sends ``drop: 1``; default keeps the conf's value or 0).
        :param verbose: the SDK's progress flag, sent as is (0/1).
        :param marker: accepted for symmetry with ``job.submit``; uploads are matched by table and time.
        :raises FateFlowInputError: missing namespace/table_name/file or missing local file (before sending).
        """
        conf = load_json_arg(conf, "upload conf")
        for key in ("namespace", "table_name", "file"):
            if not conf.get(key):
                raise FateFlowInputError(f"upload conf.{key}: missing", operation="data.upload")
        conf["verbose"] = int(verbose)
        conf["drop"] = 1 if drop else int(conf.get("drop") or 0)
        party = party_id_int(conf.get("party_id", 0), "upload conf.party_id")
        server_file = str(conf.get("use_local_data", 1)).strip() in ("0", "False", "false")
        parse = self._upload_parser(party)
        if server_file:
            call = ApiCall("data.upload", "data/upload", json=conf, check_data_code=True, parse=parse)
        else:
            path = resolve_local_file(conf["file"], "upload conf.file")
            conf["file"] = str(path)
            call = ApiCall(
                "data.upload", "data/upload", query=json_query(conf),
                file=FilePart("file", str(path), path.name, "application/octet-stream"),
                check_data_code=True, parse=parse,
            )
        since_ms = int(time.time() * 1000)
        try:
            return self._run(call)
        except FateFlowError as exc:
            if not is_ambiguous(exc):
                raise
            namespace, table = str(conf["namespace"]), str(conf["table_name"])
            log.warning("data.upload: answer lost (%s); looking for the upload job of %s/%s", exc, namespace, table)
            found, searched = self._find_upload(namespace, table, party, since_ms)
            if found is None:
                raise FateFlowAmbiguousSubmitError(
                    f"the upload answer was lost ({exc}) and no recent upload job of {namespace}/{table} was "
                    "found: the job may or may not exist",
                    operation="data.upload", marker=marker, cause=exc, searched=searched,
                ) from exc
            return found

    def _upload_parser(self, party: int) -> Callable[[Mapping[str, Any]], UploadResult]:
        config_board = self._config.board_url

        def parse(envelope: Mapping[str, Any]) -> UploadResult:
            data = data_dict(envelope)
            job_id = str(data.get("job_id") or envelope["jobId"])
            return UploadResult(
                job_id=job_id, namespace=data.get("namespace"), table_name=data.get("table_name"),
                board_url=local_board_url(config_board, job_id=job_id, server_url=data.get("board_url"), party_id=party),
                raw=data, party_id=party,
            )

        return parse

    def find_upload(self, namespace: str, table_name: str, *, party_id: int | str = 0,
                    since_ms: int) -> UploadResult | None:
        """The newest upload job of ``namespace``/``table_name`` by this party created after ``since_ms``.

        Uploads carry no marker, so a lost upload answer (or a retried upload task) finds its job by table and
        time: FATE keeps the target table in the upload job's conf.

        :param party_id: party of the local upload job (default 0).
        :param since_ms: ms since the epoch before the upload was sent; rows created more than 60 s
            earlier end the scan.
        :returns: the job (``recovered=True``), or None.
        """
        party = party_id_int(party_id, "party_id")
        for job in self._jobs.iter_recent(role="local", party_id=party, since_ms=since_ms):
            if job.upload_table == (str(namespace), str(table_name)):
                url = local_board_url(self._config.board_url, job_id=job.job_id, party_id=party)
                return UploadResult(job.job_id, str(namespace), str(table_name), url, job.raw, party, recovered=True)
        return None

    def _find_upload(self, namespace: str, table_name: str, party: int,
                     since_ms: int) -> tuple[UploadResult | None, bool]:
        return self._jobs._recover(lambda: self.find_upload(namespace, table_name, party_id=party, since_ms=since_ms))

    def download(self, conf: Mapping[str, Any] | str | os.PathLike[str]) -> LocalJobResult:
        """Start a server-side download job (``POST data/download``): the table is written to
        ``output_path`` **on the FATE Flow host**; nothing is streamed back. Use ``table.download`` to
        fetch a table's contents.

        :param conf: namespace, table_name, output_path (server path), optional delimiter, party_id.
        """
        conf = load_json_arg(conf, "download conf")
        for key in ("namespace", "table_name", "output_path"):
            if not conf.get(key):
                raise FateFlowInputError(f"download conf.{key}: missing", operation="data.download")
        party = party_id_int(conf.get("party_id", 0), "download conf.party_id")
        config_board = self._config.board_url

        def parse(envelope: Mapping[str, Any]) -> LocalJobResult:
            data = data_dict(envelope)
            job_id = str(data.get("job_id") or envelope["jobId"])
            return LocalJobResult.from_data(data, job_id, config_board, party)

        return self._run(ApiCall("data.download", "data/download", json=conf, check_data_code=True, parse=parse))

    def upload_history(self, limit: int = 10, job_id: str | None = None) -> list[dict[str, Any]]:
        """Successful uploads on this party, newest first (``POST data/upload/history``).

        :param limit: maximum entries (default 10).
        """
        return self._run(ApiCall(
            "data.upload_history", "data/upload/history", json=body(limit=limit, job_id=job_id),
            idempotent=True, parse=data_list,
        ))
