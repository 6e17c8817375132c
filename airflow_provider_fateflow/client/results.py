"""Typed results: frozen dataclasses, each keeping the server's dict in ``raw``."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client.status import JobStatus, TaskStatus

__all__ = [
    "board_url",
    "JobRecord",
    "JobList",
    "TaskRecord",
    "TaskList",
    "SubmitResult",
    "UploadResult",
    "LocalJobResult",
    "DownloadResult",
    "TableInfo",
    "DeployResult",
    "PartyResults",
    "ModelInfo",
    "ModelImportResult",
    "JobConfigFiles",
]

_BOARD_PATH = "/index.html#/dashboard?job_id={job_id}&role={role}&party_id={party_id}"


def board_url(base: str, job_id: str, role: str, party_id: int | str) -> str:
    """FATE-Board dashboard link (API.md §12), e.g. ``http://board:8080/index.html#/dashboard?...``.

    :param base: FATE-Board base URL (``http://host:port``; a trailing ``/`` is ignored).
    """
    return base.rstrip("/") + _BOARD_PATH.format(job_id=job_id, role=role, party_id=party_id)


def local_job_board_url(config_board: str | None, data: Mapping[str, Any], job_id: str,
                        party_id: int | str = 0) -> str | None:
    """Board link of a local job (upload, server download, model store/restore).

    The connection's ``board_url`` wins over the server's own; the role is ``local`` and the party the one
    in the server's link (FATE runs these jobs as party 0, as recorded), else ``party_id``.
    """
    server = data.get("board_url")
    if not config_board:
        return server
    found = re.search(r"[?&]party_id=([^&#]+)", server) if isinstance(server, str) else None
    return board_url(config_board, job_id, "local", found.group(1) if found else party_id)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _prefix(d: Mapping[str, Any], key: str) -> str:
    return "f_" if ("f_" + key) in d else ""


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One (job, role, party) row. Times are ms since the epoch, ``elapsed`` in ms; ``None`` if unset.

    ``status`` is ``JobStatus.UNKNOWN`` for words this client does not know; ``status_raw`` keeps it.
    """

    job_id: str
    role: str | None
    party_id: int | None
    status: JobStatus
    status_raw: str | None
    is_initiator: bool | None
    initiator_role: str | None
    initiator_party_id: int | None
    description: str | None
    tag: str | None
    progress: int | None
    create_time: int | None
    start_time: int | None
    end_time: int | None
    elapsed: int | None
    runtime_conf: dict[str, Any] | None
    dsl: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobRecord:
        """From an ``f_``-prefixed record (``job/query``) or an un-prefixed one (``job/list/job``)."""
        p = _prefix(d, "job_id")
        g = d.get
        status_raw = g(p + "status")
        return cls(
            job_id=str(d[p + "job_id"]),
            role=g(p + "role"),
            party_id=_int(g(p + "party_id")),
            status=JobStatus.parse(status_raw),
            status_raw=status_raw,
            is_initiator=g(p + "is_initiator"),
            initiator_role=g(p + "initiator_role"),
            initiator_party_id=_int(g(p + "initiator_party_id")),
            description=g(p + "description"),
            tag=g(p + "tag"),
            progress=_int(g(p + "progress")),
            create_time=_int(g(p + "create_time")),
            start_time=_int(g(p + "start_time")),
            end_time=_int(g(p + "end_time")),
            elapsed=_int(g(p + "elapsed")),
            runtime_conf=g(p + "runtime_conf"),
            dsl=g(p + "dsl"),
            raw=d,  # type: ignore[arg-type]
        )

    def board_url(self, base: str) -> str:
        """FATE-Board link for this row's role and party."""
        return board_url(base, self.job_id, self.role or "", self.party_id if self.party_id is not None else "")


@dataclass(frozen=True, slots=True)
class JobList:
    """``job/list/job``: a page of rows and ``count`` = all matching (job, role, party) rows."""

    jobs: list[JobRecord]
    count: int
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task row (latest task version per task, role and party)."""

    job_id: str
    component_name: str | None
    component_module: str | None
    task_id: str | None
    task_version: int | None
    role: str | None
    party_id: int | None
    status: TaskStatus
    status_raw: str | None
    party_status: TaskStatus
    error_report: str | None
    start_time: int | None
    end_time: int | None
    elapsed: int | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskRecord:
        """From an ``f_``-prefixed record (``job/task/query``) or an un-prefixed one (``job/list/task``)."""
        p = _prefix(d, "job_id")
        g = d.get
        status_raw = g(p + "status")
        return cls(
            job_id=str(d[p + "job_id"]),
            component_name=g(p + "component_name"),
            component_module=g(p + "component_module"),
            task_id=g(p + "task_id"),
            task_version=_int(g(p + "task_version")),
            role=g(p + "role"),
            party_id=_int(g(p + "party_id")),
            status=TaskStatus.parse(status_raw),
            status_raw=status_raw,
            party_status=TaskStatus.parse(g(p + "party_status")),
            error_report=g(p + "error_report") or None,
            start_time=_int(g(p + "start_time")),
            end_time=_int(g(p + "end_time")),
            elapsed=_int(g(p + "elapsed")),
            raw=d,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class TaskList:
    """``job/list/task``: a page of tasks and the total ``count``."""

    tasks: list[TaskRecord]
    count: int
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A submitted job.

    :param board_url: rebuilt from ``ClientConfig.board_url`` when set, else the server's link.
    :param recovered: True when the answer was lost and the job was found again by its marker.
    """

    job_id: str
    model_id: str | None
    model_version: str | None
    board_url: str | None
    raw: dict[str, Any] = field(repr=False)
    marker: str | None = None
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class UploadResult:
    """An accepted upload job (``role=local``); poll it with ``job.query(job_id, "local", party_id)``."""

    job_id: str
    namespace: str | None
    table_name: str | None
    board_url: str | None
    raw: dict[str, Any] = field(repr=False)
    party_id: int = 0
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class LocalJobResult:
    """A local job submitted by ``data.download``, ``model.store`` or ``model.restore``."""

    job_id: str
    board_url: str | None
    raw: dict[str, Any] = field(repr=False)


DownloadResult = LocalJobResult


@dataclass(frozen=True, slots=True)
class TableInfo:
    """``table/table_info``. ``exists`` is False for a missing table (the server still says retcode 0)."""

    namespace: str
    table_name: str
    exists: bool
    count: int | None
    partition: int | None
    schema: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)


def _party_map(data: Mapping[str, Any]) -> dict[str, dict[int, int]]:
    parties: dict[str, dict[int, int]] = {}
    for role, value in data.items():
        if role in ("detail", "model_id", "model_version") or not isinstance(value, Mapping):
            continue
        parties[role] = {int(p): c for p, c in value.items() if str(p).lstrip("-").isdigit()}
    return parties


@dataclass(frozen=True, slots=True)
class DeployResult:
    """``model/deploy``. ``model_version`` is the NEW (child) version for predict, load and bind."""

    model_id: str
    model_version: str
    parties: dict[str, dict[int, int]]
    detail: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DeployResult:
        return cls(
            model_id=str(data["model_id"]),
            model_version=str(data["model_version"]),
            parties=_party_map(data),
            detail=dict(data.get("detail") or {}),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class PartyResults:
    """Per-role, per-party outcome of ``model/load`` or ``model/bind``.

    :param parties: ``{role: {party_id: retcode}}``.
    :param detail: ``{role: {party_id: {"retcode", "retmsg"}}}`` as sent.
    """

    retcode: int
    retmsg: str | None
    parties: dict[str, dict[int, int]]
    detail: dict[str, Any]
    job_id: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.retcode == 0 and all(c == 0 for p in self.parties.values() for c in p.values())

    @classmethod
    def from_envelope(cls, env: Mapping[str, Any]) -> PartyResults:
        data = env.get("data")
        data = data if isinstance(data, Mapping) else {}
        return cls(
            retcode=int(env.get("retcode") or 0),
            retmsg=env.get("retmsg"),
            parties=_party_map(data),
            detail=dict(data.get("detail") or {}),
            job_id=env.get("jobId"),
            raw=dict(env),
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model record from ``model/query``."""

    model_id: str | None
    model_version: str | None
    role: str | None
    party_id: int | None
    job_id: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelInfo:
        p = _prefix(d, "model_id")
        g = d.get
        return cls(
            model_id=g(p + "model_id"), model_version=None if g(p + "model_version") is None else str(g(p + "model_version")),
            role=g(p + "role"), party_id=_int(g(p + "party_id")), job_id=g(p + "job_id"), raw=d,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class ModelImportResult:
    """``model/import``: the import job and the model it registered."""

    job_id: str | None
    model_id: str | None
    model_version: str | None
    role: str | None
    party_id: int | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class JobConfigFiles:
    """Files written by ``job.config``: ``<output_path>/job_<job_id>_config/<key>.json``."""

    directory: Path
    files: dict[str, Path]
    model_info: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)
