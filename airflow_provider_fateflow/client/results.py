"""Typed results: frozen dataclasses, each keeping the server's dict in ``raw``."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client.board import board_role_party, board_url, local_board_url
from airflow_provider_fateflow.client.errors import FateFlowApiError
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus

__all__ = [
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

def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _prefix(d: Mapping[str, Any], key: str) -> str:
    return "f_" if ("f_" + key) in d else ""


def _model_of(conf_on_party: Any, conf: Any) -> tuple[str | None, str | None]:
    """``(model_id, model_version)`` of a job: its on-party conf keeps ``job_parameters`` flat, the
    submitted conf under ``job_parameters.common``. (Decoded JSON is made of dicts: plain ``dict`` checks keep
    this cheap, since every row of every poll goes through it.)"""
    for source in (conf_on_party, conf):
        params = source.get("job_parameters") if type(source) is dict else None
        if type(params) is not dict:
            continue
        common = params.get("common")
        if type(common) is dict:
            params = common
        model_id, version = params.get("model_id"), params.get("model_version")
        if model_id or version is not None:
            return (None if model_id is None else str(model_id)), (None if version is None else str(version))
    return None, None


def _upload_table(conf: Any) -> tuple[str, str] | None:
    """The table an upload job writes: FATE keeps it under ``component_parameters.role.local.0.upload_0``
    (the table name as ``name``)."""
    params: Any = conf
    for key in ("component_parameters", "role", "local", "0", "upload_0"):  # no exceptions: this runs per row
        if type(params) is not dict:
            return None
        params = params.get(key)
    if type(params) is not dict:
        return None
    table, namespace = params.get("name", params.get("table_name")), params.get("namespace")
    return (str(namespace), str(table)) if table is not None and namespace is not None else None


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
    #: The job's model (training and predict jobs): from its runtime conf.
    model_id: str | None = None
    model_version: str | None = None
    #: ``(namespace, table_name)`` an upload job writes (None for other jobs).
    upload_table: tuple[str, str] | None = None
    update_time: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobRecord:
        """From an ``f_``-prefixed record (``job/query``) or an un-prefixed one (``job/list/job``)."""
        p = _prefix(d, "job_id")
        g = d.get
        status_raw = g(p + "status")
        model_id, model_version = _model_of(g(p + "runtime_conf_on_party"), g(p + "runtime_conf"))
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
            model_id=model_id,
            model_version=model_version,
            upload_table=_upload_table(g(p + "runtime_conf")),
            update_time=_int(g(p + "update_time")),
        )

    def board_url(self, base: str | None) -> str | None:
        """FATE-Board link for this row's role and party (None without a base URL)."""
        return board_url(base, job_id=self.job_id, role=self.role or "",
                         party_id=self.party_id if self.party_id is not None else "") if base else None

    def summary(self) -> dict[str, Any]:
        """The row in plain names, without conf and DSL: what trigger events and XComs carry."""
        return {
            "job_id": self.job_id, "role": self.role, "party_id": self.party_id, "status": self.status.value,
            "status_raw": self.status_raw, "progress": self.progress, "is_initiator": self.is_initiator,
            "initiator_role": self.initiator_role, "initiator_party_id": self.initiator_party_id,
            "description": self.description, "tag": self.tag, "create_time": self.create_time,
            "start_time": self.start_time, "end_time": self.end_time, "elapsed": self.elapsed,
            "model_id": self.model_id, "model_version": self.model_version,
        }


@dataclass(frozen=True, slots=True)
class JobList:
    """``job/list/job``: a page of rows and ``count`` = all matching (job, role, party) rows."""

    jobs: list[JobRecord]
    count: int
    raw: dict[str, Any] = field(repr=False)

    def distinct_jobs(self) -> list[JobRecord]:
        """One row per job (FATE lists one per role and party): the initiator's where this page has it,
        in the order the jobs first appear. ``count`` still counts rows."""
        chosen: dict[str, JobRecord] = {}
        for job in self.jobs:
            kept = chosen.get(job.job_id)
            if kept is None or (job.is_initiator and not kept.is_initiator):
                chosen[job.job_id] = job
        return list(chosen.values())


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

    def summary(self, max_report: int = 4000) -> dict[str, Any]:
        """The row in plain names (the error report cut at ``max_report`` characters)."""
        report = self.error_report
        if report and len(report) > max_report:
            report = report[:max_report] + "..."
        return {
            "job_id": self.job_id, "component_name": self.component_name,
            "component_module": self.component_module, "task_id": self.task_id,
            "task_version": self.task_version, "role": self.role, "party_id": self.party_id,
            "status": self.status.value, "party_status": self.party_status.value, "error_report": report,
            "start_time": self.start_time, "end_time": self.end_time, "elapsed": self.elapsed,
        }


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
    """A local job submitted by ``data.download``, ``model.store`` or ``model.restore``.

    Query it with ``job.query(job_id, role, party_id)``: FATE runs these jobs as role ``local``, party 0 (the
    party in FATE Flow's own link).
    """

    job_id: str
    board_url: str | None
    raw: dict[str, Any] = field(repr=False)
    party_id: int = 0
    role: str = "local"

    @classmethod
    def from_data(cls, data: Mapping[str, Any], job_id: str, config_board: str | None,
                  party_id: int = 0) -> LocalJobResult:
        """From the answer's ``data``: the party is the one in FATE Flow's link, else ``party_id``."""
        server = data.get("board_url")
        _, server_party = board_role_party(server)
        party = _int(server_party)
        party = party_id if party is None else party
        return cls(job_id, local_board_url(config_board, job_id=job_id, server_url=server, party_id=party),
                   dict(data), party)


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
        """Every party succeeded."""
        return self.retcode == 0 and all(c == 0 for p in self.parties.values() for c in p.values())

    @property
    def message(self) -> str | None:
        """FATE's message for the whole operation."""
        return self.retmsg

    def party_message(self, role: str, party_id: int | str) -> str | None:
        """FATE's message for one party (``detail``), if it sent one."""
        parties = self.detail.get(role) or {}
        detail = parties.get(str(party_id), parties.get(party_id)) if isinstance(parties, Mapping) else None
        return detail.get("retmsg") if isinstance(detail, Mapping) else None

    def failed_parties(self) -> list[str]:
        """``role party_id: message`` of every party that did not succeed."""
        return [f"{role} {party}: {self.party_message(role, party) or f'code {code}'}"
                for role, parties in self.parties.items() for party, code in parties.items() if code != 0]

    def raise_for_failure(self, operation: str) -> PartyResults:
        """Raise :class:`FateFlowApiError` naming the failed parties unless every party succeeded.

        :param operation: e.g. ``"model.load"``, for the message.
        :returns: self, when every party succeeded.
        """
        if self.ok:
            return self
        failed = "; ".join(self.failed_parties()) or self.retmsg or "no detail"
        raise FateFlowApiError(f"failed on some parties ({failed})", operation=operation, retcode=self.retcode,
                               retmsg=self.retmsg, data=self.detail)

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
    #: True for a training (parent) version, which FATE never loads or binds; False for a deployed one.
    parent: bool | None = None
    #: ms since the epoch.
    create_time: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelInfo:
        p = _prefix(d, "model_id")
        g = d.get
        parent = g(p + "parent")
        return cls(
            model_id=g(p + "model_id"), model_version=None if g(p + "model_version") is None else str(g(p + "model_version")),
            role=g(p + "role"), party_id=_int(g(p + "party_id")), job_id=g(p + "job_id"), raw=d,  # type: ignore[arg-type]
            parent=None if parent is None else bool(parent), create_time=_int(g(p + "create_time")),
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
