"""Data operators: upload, download, table info and delete.

Uploads declare the FATE table as an Airflow Asset, so a retraining DAG can be scheduled on new data::

    schedule=[fateflow_table_asset("flow.example", 9380, "experiment", "breast_hetero_guest")]

The table's URI is ``fateflow://<host>:<port>/<namespace>/<table_name>`` (host and port of the FATE
Flow connection). Because namespace and table name are often templated and the host comes from a
connection (which must not be read while parsing DAGs), the upload declares an :class:`AssetAlias`
outlet at parse time (``fateflow-upload/<dag_id>/<task_id>``, or ``asset_alias``) and adds the concrete
table Asset to it at execute time, with ``{"count", "job_id"}`` as the event's extra. Airflow then
emits an ordinary asset event for the table: a DAG scheduled on that Asset runs. Static ``outlets``
given by the user are kept (and get the same extra when they are ``fateflow://`` tables).
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import Asset, AssetAlias

from airflow_provider_fateflow.client.errors import FateFlowError, FateFlowInputError, FateFlowNotFoundError
from airflow_provider_fateflow.client.inputs import party_id_int, resolve_local_file
from airflow_provider_fateflow.operators.base import FateFlowBaseOperator, FateFlowJobOperator, JobRef
from airflow_provider_fateflow.operators.job import writable_directory

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "UploadDataOperator",
    "DownloadDataOperator",
    "TableInfoOperator",
    "TableDeleteOperator",
    "fateflow_table_asset",
    "table_asset_uri",
]

ASSET_SCHEME = "fateflow"


def table_asset_uri(host: str, port: int | str, namespace: str, table_name: str) -> str:
    """``fateflow://<host>:<port>/<namespace>/<table_name>`` (path parts percent-encoded)."""
    return f"{ASSET_SCHEME}://{host}:{port}/{quote(str(namespace), safe='')}/{quote(str(table_name), safe='')}"


def fateflow_table_asset(host: str, port: int | str, namespace: str, table_name: str) -> Asset:
    """The Airflow Asset of a FATE table (schedule a DAG on it to run on new uploads)."""
    return Asset(uri=table_asset_uri(host, port, namespace, table_name))


def _local_party(value: Any, what: str) -> int:
    return party_id_int(0 if value in (None, "") else value, what)


class UploadDataOperator(FateFlowJobOperator):
    """Upload a table to FATE, wait for the upload job, and return ``{namespace, table_name, count, job_id}``.

    The file is on the worker and streamed to FATE Flow (default), or, with ``file_on_server=True``,
    a path on the FATE Flow host. The table is emitted as an Asset (see the module docstring).
    A retry reattaches to a running or successful upload of the same table submitted by an earlier try.

    :param file: the CSV file (templated): a worker path, or a FATE Flow host path with ``file_on_server``.
    :param namespace: the FATE table namespace (templated).
    :param table_name: the FATE table name (templated).
    :param head: the file has a header row (default True).
    :param partition: table partitions (default 4).
    :param id_delimiter: field delimiter (default ``,``).
    :param drop: replace an existing table of that name (default False: FATE refuses to overwrite).
    :param file_on_server: ``file`` is on the FATE Flow host (``use_local_data: 0``); default False.
    :param party_id: party of the local upload job (default 0).
    :param extra_conf: more upload conf fields (templated), e.g. ``storage_engine``, ``extend_sid``, ``meta``.
    :param asset_alias: name of the AssetAlias outlet (default ``fateflow-upload/<dag_id>/<task_id>``);
        ``False`` declares none.
    :param meta: FATE Flow 2.x only (required there): the table's meta, e.g. ``{"delimiter": ",",
        "label_name": "y", "match_id_name": "id"}`` (templated).
    :param extend_sid: FATE Flow 2.x only: add a sample-id column, as FATE 2's examples do (default None:
        the server's default).

    On FATE Flow 2.x (a connection with ``api_version`` ``v2``/``auto``) the upload is ``data.upload_file`` (a
    worker file) or ``data.upload`` (``file_on_server``) with ``head``, ``partition`` as ``partitions``, ``meta``
    and ``extend_sid``; ``drop`` and ``extra_conf`` are 1.x's and refused there, before anything is sent.
    """

    template_fields: Sequence[str] = ("file", "namespace", "table_name", "extra_conf", "meta", "fateflow_conn_id")
    template_fields_renderers = {"extra_conf": "json", "meta": "json"}
    job_kind = "upload job"

    def __init__(self, *, file: str, namespace: str, table_name: str, head: bool = True, partition: int = 4,
                 id_delimiter: str = ",", drop: bool = False, file_on_server: bool = False,
                 party_id: int | None = None, extra_conf: dict[str, Any] | None = None,
                 asset_alias: str | bool | None = None, meta: dict[str, Any] | None = None,
                 extend_sid: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meta = meta
        self.extend_sid = extend_sid
        self.file = file
        self.namespace = namespace
        self.table_name = table_name
        self.head = head
        self.partition = partition
        self.id_delimiter = id_delimiter
        self.drop = drop
        self.file_on_server = file_on_server
        self.party_id = party_id
        self.extra_conf = extra_conf
        self.asset_alias = asset_alias
        if asset_alias is not False:
            name = asset_alias if isinstance(asset_alias, str) else \
                f"fateflow-upload/{self.dag_id if self.has_dag() else '_'}/{self.task_id}"
            self.outlets = [*list(self.outlets or []), AssetAlias(name=name)]

    def _validate(self, context: Context) -> None:
        for name in ("file", "namespace", "table_name"):
            if not getattr(self, name):
                raise FateFlowInputError(f"{name}: missing")
        if self.extra_conf is not None and not isinstance(self.extra_conf, Mapping):
            raise FateFlowInputError(f"extra_conf must be a dict, got {type(self.extra_conf).__name__}")
        if not self.file_on_server:
            resolve_local_file(self.file, "upload file")  # before any request
        self._party_int = _local_party(self.party_id, "party_id")
        if self._v2:
            if not isinstance(self.meta, Mapping):
                raise FateFlowInputError('meta: FATE Flow 2.x needs the table\'s meta, e.g. {"delimiter": ",", '
                                         '"label_name": "y", "match_id_name": "id"}')
            if self.drop or self.extra_conf:
                raise FateFlowInputError("drop and extra_conf are FATE Flow 1.x upload options; this connection "
                                         "speaks FATE Flow 2.x (use meta, extend_sid)")
        elif self.meta is not None or self.extend_sid is not None:
            raise FateFlowInputError("meta and extend_sid are FATE Flow 2.x upload options; this connection speaks "
                                     "FATE Flow 1.x (use extra_conf)")

    @property
    def _v2(self) -> bool:
        """The connection speaks FATE Flow 2.x."""
        return self.hook.dialect == "v2"

    def _conf(self) -> dict[str, Any]:
        conf: dict[str, Any] = dict(self.extra_conf or {})
        conf.update({
            "file": str(self.file), "namespace": str(self.namespace), "table_name": str(self.table_name),
            "head": 1 if self.head else 0, "partition": int(self.partition), "id_delimiter": self.id_delimiter,
        })
        if self.party_id not in (None, ""):
            conf["party_id"] = self._party_int
        if self.file_on_server:
            conf["use_local_data"] = 0
        return conf

    def _lookup_party(self, context: Context) -> tuple[str, int] | None:
        return "local", self._party_int

    def _find_by_marker(self, context: Context, marker: str) -> JobRef | None:
        """Uploads carry no marker: find a recent upload job of the same table by this party."""
        if self._v2:  # a 2.x upload job keeps no table name the provider can look up: upload again
            return None
        try:
            found = self.hook.data.find_upload(str(self.namespace), str(self.table_name), party_id=self._party_int,
                                               since_ms=self._since_ms(context))
        except FateFlowError as err:
            if err.transient:  # could not say: do not risk a second upload
                raise
            self.log.warning("Could not look for an earlier upload job: %s", err)
            return None
        if found is None:
            return None
        return JobRef(job_id=found.job_id, role="local", party_id=found.party_id, marker=marker,
                      board_url=found.board_url)

    def _submit(self, context: Context, marker: str) -> JobRef:
        if self._v2:
            send = self.hook.data.upload if self.file_on_server else self.hook.data.upload_file
            result = send(str(self.file), bool(self.head), int(self.partition), dict(self.meta),
                          namespace=str(self.namespace), name=str(self.table_name), extend_sid=self.extend_sid)
        else:
            result = self.hook.data.upload(self._conf(), drop=bool(self.drop), marker=marker)
        self.log.info("Upload job %s started for table %s/%s.", result.job_id, self.namespace, self.table_name)
        return JobRef(job_id=result.job_id, role="local", party_id=result.party_id, created=time.time(),
                      board_url=result.board_url)

    def _result(self, context: Context, ref: JobRef, waited: bool) -> dict[str, Any]:
        namespace, table = str(self.namespace), str(self.table_name)
        out: dict[str, Any] = {"namespace": namespace, "table_name": table, "count": None, "job_id": ref.job_id}
        if not waited:
            return out
        info = (self.hook.table.query if self._v2 else self.hook.table.info)(namespace, table)
        out["count"] = info.count
        self.log.info("Table %s/%s holds %s rows.", namespace, table, info.count)
        self._emit_asset(context, out)
        return out

    def _emit_asset(self, context: Context, out: dict[str, Any]) -> None:
        config = self.hook.config
        uri = table_asset_uri(config.host, config.port, out["namespace"], out["table_name"])
        extra = {"count": out["count"], "job_id": out["job_id"]}
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets or []:
            try:
                if isinstance(outlet, AssetAlias):
                    events[outlet].add(Asset(uri=uri), extra=extra)
                elif isinstance(outlet, Asset) and str(outlet.uri).startswith(f"{ASSET_SCHEME}://"):
                    events[outlet].extra.update(extra)
            except Exception as err:  # an asset event must not fail a finished upload
                self.log.warning("Could not record the asset event of %s: %s", uri, err)
        self.log.info("Asset %s updated.", uri)


class DownloadDataOperator(FateFlowJobOperator):
    """Download a FATE table: to a file **on the FATE Flow host** (a download job, waited for), or its
    rows **to a local directory** on the worker (``local_dir``; FATE Flow 1.8+).

    Returns the server ``output_path`` (server mode) or the local directory holding ``table.csv`` and
    ``table.meta`` (local mode).

    :param namespace: table namespace (templated).
    :param table_name: table name (templated).
    :param output_path: server mode: the file path on the FATE Flow host (templated).
    :param local_dir: local mode: a directory on the worker, created if missing, checked writable
        before any request (templated); the table lands in ``<local_dir>/table_<namespace>_<table_name>/``.
        Give exactly one of ``output_path`` and ``local_dir``.
    :param delimiter: server mode: field delimiter (default ``,``).
    :param party_id: server mode: party of the local download job (default 0).
    """

    template_fields: Sequence[str] = ("namespace", "table_name", "output_path", "local_dir", "fateflow_conn_id")
    job_kind = "download job"
    marker_lookup = False

    def __init__(self, *, namespace: str, table_name: str, output_path: str | None = None,
                 local_dir: str | None = None, delimiter: str = ",", party_id: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.table_name = table_name
        self.output_path = output_path
        self.local_dir = local_dir
        self.delimiter = delimiter
        self.party_id = party_id

    def _validate(self, context: Context) -> None:
        if not self.namespace or not self.table_name:
            raise FateFlowInputError("namespace and table_name are required")
        if bool(self.output_path) == bool(self.local_dir):
            raise FateFlowInputError("give exactly one of output_path (on the FATE Flow host) or local_dir (worker)")
        self._party_int = _local_party(self.party_id, "party_id")

    def execute(self, context: Context) -> Any:
        self._validate(context)
        if self.local_dir:
            directory = writable_directory(self.local_dir, "local_dir")
            # the client writes into <directory>/table_<namespace>_<table_name>/
            path = self.hook.table.download(str(self.namespace), str(self.table_name), directory)
            self.log.info("Table %s/%s downloaded to %s", self.namespace, self.table_name, path)
            return str(path)
        return super().execute(context)

    def _lookup_party(self, context: Context) -> tuple[str, int] | None:
        return "local", self._party_int

    def _submit(self, context: Context, marker: str) -> JobRef:
        conf: dict[str, Any] = {"namespace": str(self.namespace), "table_name": str(self.table_name),
                                "output_path": str(self.output_path), "delimiter": self.delimiter}
        if self.party_id not in (None, ""):
            conf["party_id"] = self._party_int
        result = self.hook.data.download(conf)
        return JobRef(job_id=result.job_id, role="local", party_id=result.party_id, created=time.time(),
                      board_url=result.board_url)

    def _result(self, context: Context, ref: JobRef, waited: bool) -> str:
        return str(self.output_path)


class TableInfoOperator(FateFlowBaseOperator):
    """Return a FATE table's info: ``{namespace, table_name, exists, count, partition, schema}``.

    :param namespace: table namespace (templated).
    :param table_name: table name (templated).
    :param fail_if_missing: raise :class:`FateFlowNotFoundError` when the table does not exist (default False).
    """

    template_fields: Sequence[str] = ("namespace", "table_name", "fateflow_conn_id")

    def __init__(self, *, namespace: str, table_name: str, fail_if_missing: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.table_name = table_name
        self.fail_if_missing = fail_if_missing

    def execute(self, context: Context) -> dict[str, Any]:
        if not self.namespace or not self.table_name:
            raise FateFlowInputError("namespace and table_name are required")
        info = self.hook.table.info(str(self.namespace), str(self.table_name))
        if not info.exists and self.fail_if_missing:
            raise FateFlowNotFoundError(f"table {self.namespace}/{self.table_name} does not exist",
                                        operation="table.info")
        self.log.info("Table %s/%s: exists=%s, count=%s", self.namespace, self.table_name, info.exists, info.count)
        return {"namespace": info.namespace, "table_name": info.table_name, "exists": info.exists,
                "count": info.count, "partition": info.partition, "schema": info.schema}


class TableDeleteOperator(FateFlowBaseOperator):
    """Delete a FATE table; returns ``{namespace, table_name}`` (None when missing and ``missing_ok``).

    :param namespace: table namespace (templated).
    :param table_name: table name (templated).
    :param missing_ok: do not fail when the table does not exist (default True).
    """

    template_fields: Sequence[str] = ("namespace", "table_name", "fateflow_conn_id")

    def __init__(self, *, namespace: str, table_name: str, missing_ok: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.table_name = table_name
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> dict[str, Any] | None:
        if not self.namespace or not self.table_name:
            raise FateFlowInputError("namespace and table_name are required")
        try:
            result = self.hook.table.delete(str(self.namespace), str(self.table_name))
        except FateFlowNotFoundError:
            if not self.missing_ok:
                raise
            self.log.info("Table %s/%s does not exist; nothing to delete.", self.namespace, self.table_name)
            return None
        self.log.info("Deleted table %s/%s.", self.namespace, self.table_name)
        return dict(result or {"namespace": self.namespace, "table_name": self.table_name})
