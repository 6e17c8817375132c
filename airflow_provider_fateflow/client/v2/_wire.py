"""FATE Flow 2.x wire details: request builders' helpers and the parsers from v2 rows to the typed records.

Nothing here does I/O. Every v2 call is an :class:`~airflow_provider_fateflow.client.calls.ApiCall` with
``dialect="v2"``: the shared classifier then reads ``code``/``message`` (errors are HTTP 200 with a non-zero
``code``) and the shared transports send it, with the v2 signature when the config has an app id and token.
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_fateflow.client._base import data_list
from airflow_provider_fateflow.client.calls import ApiCall, nf
from airflow_provider_fateflow.client.errors import FateFlowInputError
from airflow_provider_fateflow.client.results import JobList, JobRecord, TableInfo, TaskList, TaskRecord, _int
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus

__all__ = [
    "V2Call", "params", "require", "job_record", "task_record", "table_info", "job_records", "task_records",
    "job_list", "task_list", "data_of", "load_dag_schema", "MARKER_KEY", "JOB_NOT_FOUND", "TASK_NOT_FOUND",
    "TABLE_NOT_FOUND", "FILE_NOT_FOUND",
]

#: ``dag.conf.extra`` key holding the provider's submit marker (kept by the server, returned by job queries).
MARKER_KEY = "airflow_marker"

#: ``fate_flow.entity.code.ReturnCode`` values that mean "does not exist".
JOB_NOT_FOUND = nf(1001)
TASK_NOT_FOUND = nf(2000)
TABLE_NOT_FOUND = nf(7001)
FILE_NOT_FOUND = nf(8001, 5007)


def V2Call(operation: str, path: str, **kwargs: Any) -> ApiCall:  # noqa: N802 - reads like the dataclass
    """An :class:`ApiCall` in the v2 dialect (``path`` below ``/v2/``)."""
    return ApiCall(operation, path, dialect="v2", **kwargs)


def _wire_value(value: Any) -> Any:
    value = getattr(value, "value", value)  # enums (JobStatus, ...)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def params(**fields: Any) -> str | None:
    """A query string from the non-``None`` fields (bools as ``true``/``false``, lists repeated, dicts as JSON)."""
    pairs: list[tuple[str, Any]] = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(_wire_value(v))) for v in value)
        elif isinstance(value, Mapping):
            pairs.append((key, json.dumps(dict(value))))
        else:
            pairs.append((key, str(_wire_value(value))))
    return urlencode(pairs, quote_via=quote) or None


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without ``None`` values; ids and party ids as strings (the 2.x server's field types)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("job_id", "party_id", "model_id", "model_version"):
            value = str(value)
        out[key] = getattr(value, "value", value)
    return out


def require(value: Any, name: str, operation: str) -> Any:
    """Raise FateFlowInputError (before anything is sent) when a required argument is missing or empty."""
    if value is None or value == "":
        raise FateFlowInputError(f"{name} is required", operation=operation)
    return value


def data_of(envelope: Mapping[str, Any]) -> Any:
    """Parser: the answer's ``data``."""
    return envelope.get("data")




def job_record(row: Mapping[str, Any]) -> JobRecord:
    """A v2 ``job/query`` (or ``job/list/query``) row as the same :class:`JobRecord` v1 rows give.

    ``runtime_conf`` is the DAG's ``conf`` (with the server's defaults) and ``dsl`` the whole DAG schema the
    server kept; ``initiator_role`` and ``is_initiator`` do not exist on 2.x and are ``None``.
    """
    dag = row.get("dag") if isinstance(row.get("dag"), Mapping) else None
    spec = dag.get("dag") if dag is not None and isinstance(dag.get("dag"), Mapping) else None
    status_raw = row.get("status")
    return JobRecord(
        job_id=str(row["job_id"]),
        role=row.get("role"),
        party_id=_int(row.get("party_id")),
        status=JobStatus.parse(status_raw),
        status_raw=status_raw,
        is_initiator=None,
        initiator_role=None,
        initiator_party_id=_int(row.get("initiator_party_id")),
        description=row.get("description"),
        tag=row.get("tag"),
        progress=_int(row.get("progress")),
        create_time=_int(row.get("create_time")),
        start_time=_int(row.get("start_time")),
        end_time=_int(row.get("end_time")),
        elapsed=_int(row.get("elapsed")),
        runtime_conf=spec.get("conf") if spec is not None else None,
        dsl=dict(dag) if dag is not None else None,
        raw=dict(row),
    )


def task_record(row: Mapping[str, Any]) -> TaskRecord:
    """A v2 ``job/task/query`` row as a :class:`TaskRecord` (``component_name`` = the task name,
    ``component_module`` = the component, ``error_report`` = FATE's error of a failed task)."""
    status_raw = row.get("status")
    return TaskRecord(
        job_id=str(row["job_id"]),
        component_name=row.get("task_name"),
        component_module=row.get("component"),
        task_id=row.get("task_id"),
        task_version=_int(row.get("task_version")),
        role=row.get("role"),
        party_id=_int(row.get("party_id")),
        status=TaskStatus.parse(status_raw),
        status_raw=status_raw,
        party_status=TaskStatus.parse(row.get("party_status")),
        error_report=row.get("error_report") or None,
        start_time=_int(row.get("start_time")),
        end_time=_int(row.get("end_time")),
        elapsed=_int(row.get("elapsed")),
        raw=dict(row),
    )


_rows = data_list  # the answer's rows: ``data`` that must be a list


def job_records(envelope: Mapping[str, Any]) -> list[JobRecord]:
    return [job_record(r) for r in _rows(envelope)]


def task_records(envelope: Mapping[str, Any]) -> list[TaskRecord]:
    return [task_record(r) for r in _rows(envelope)]


def _page(envelope: Mapping[str, Any]) -> tuple[list[Any], int, dict[str, Any]]:
    data = envelope.get("data") or {}
    if not isinstance(data, Mapping):
        raise TypeError(f"data is a {type(data).__name__}, expected an object")
    return list(data.get("data") or []), int(data.get("count") or 0), dict(data)


def job_list(envelope: Mapping[str, Any]) -> JobList:
    rows, count, raw = _page(envelope)
    return JobList([job_record(r) for r in rows], count, raw)


def task_list(envelope: Mapping[str, Any]) -> TaskList:
    rows, count, raw = _page(envelope)
    return TaskList([task_record(r) for r in rows], count, raw)


def table_info(namespace: str, name: str) -> Any:
    """Parser of ``table/query``: :class:`TableInfo`; a missing table (7001) gives ``exists=False``."""

    def parse(envelope: Mapping[str, Any]) -> TableInfo:
        data = envelope.get("data")
        if data is None:
            return TableInfo(namespace=namespace, table_name=name, exists=False, count=None, partition=None,
                             schema=None, raw={})
        if not isinstance(data, Mapping):
            raise TypeError(f"data is a {type(data).__name__}, expected an object")
        meta = data.get("meta") if isinstance(data.get("meta"), Mapping) else {}
        partitions = meta.get("partition_order_mappings")
        return TableInfo(
            namespace=str(data.get("namespace", namespace)), table_name=str(data.get("name", name)), exists=True,
            count=_int(data.get("count")),
            partition=len(partitions) if isinstance(partitions, Mapping) else _int(data.get("partitions")),
            schema=meta.get("schema_meta") if isinstance(meta.get("schema_meta"), Mapping) else None,
            raw=dict(data),
        )

    return parse


def load_dag_schema(dag_schema: Any, operation: str = "job.submit") -> dict[str, Any]:
    """A DAG schema as a fresh dict: a mapping, a JSON or YAML file path, a JSON/YAML string, or an object
    with ``.dict()`` / ``.model_dump()`` (what ``fate_client``'s pipeline builds: ``pipeline.get_dag()``
    returns a dict, ``pipeline._dag.dag_spec`` a pydantic model).

    :raises FateFlowInputError: not a DAG schema (no ``dag`` or ``schema_version``), unreadable file.
    """
    value: Any = dag_schema
    if hasattr(value, "get_dag") and callable(value.get_dag):
        value = value.get_dag()
    for method in ("model_dump", "dict"):
        if not isinstance(value, Mapping) and callable(getattr(value, method, None)):
            value = getattr(value, method)(exclude_none=True)
            break
    if isinstance(value, (str, os.PathLike)):
        text = str(value)
        path = Path(text)
        looks_like_path = isinstance(value, os.PathLike) or (len(text) < 4096 and "\n" not in text
                                                             and not text.lstrip().startswith("{"))
        if looks_like_path:
            if not path.is_file():
                raise FateFlowInputError(f"dag_schema file {text!r} does not exist", operation=operation)
            text = path.read_text(encoding="utf-8")
        value = _decode_text(text, operation)
    if not isinstance(value, Mapping):
        raise FateFlowInputError(
            f"dag_schema must be a mapping, a JSON/YAML file or a pipeline, not {type(dag_schema).__name__}",
            operation=operation,
        )
    value = copy.deepcopy(dict(value))
    if "dag_schema" in value and "dag" not in value:  # a whole submit body
        value = dict(value["dag_schema"])
    missing = [k for k in ("dag", "schema_version") if k not in value]
    if missing:
        raise FateFlowInputError(f"dag_schema has no {' and no '.join(missing)}", operation=operation)
    if not isinstance(value["dag"], Mapping) or not isinstance(value["dag"].get("tasks"), Mapping):
        raise FateFlowInputError("dag_schema.dag.tasks must be a mapping of task names", operation=operation)
    return value


def _decode_text(text: str, operation: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML comes with Airflow
        raise FateFlowInputError("dag_schema is not JSON (and PyYAML is not installed)", operation=operation) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FateFlowInputError(f"dag_schema is neither JSON nor YAML: {exc}", operation=operation) from None
