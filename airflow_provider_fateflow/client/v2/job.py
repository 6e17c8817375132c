"""``client.v2.job``: FATE Flow 2.x job operations, with the v2 SDK's names and argument order."""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client._base import is_ambiguous, recover
from airflow_provider_fateflow.client.errors import FateFlowAmbiguousSubmitError, FateFlowError
from airflow_provider_fateflow.client.board import board_url
from airflow_provider_fateflow.client.results import JobList, JobRecord, SubmitResult
from airflow_provider_fateflow.client.v2._group import V2Group, download_and_extract
from airflow_provider_fateflow.client.v2._wire import (
    FILE_NOT_FOUND,
    JOB_NOT_FOUND,
    MARKER_KEY,
    V2Call,
    body,
    data_of,
    job_list,
    job_records,
    load_dag_schema,
    params,
    require,
)

__all__ = ["JobGroupV2", "query_call", "stop_call", "marker_of"]

log = logging.getLogger("airflow_provider_fateflow.client")


def query_call(job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
               status: str | None = None) -> Any:
    """``GET job/query`` (idempotent). An unknown job (1001 "No found job") gives ``[]``, as on v1."""
    return V2Call("job.query", "job/query", method="GET",
                  query=params(job_id=job_id, role=role, party_id=party_id, status=status),
                  idempotent=True, empty_on=JOB_NOT_FOUND, parse=job_records)


def stop_call(job_id: str) -> Any:
    """``POST job/stop`` (not retried once sent): every party ends ``canceled``; again on a stopped job is 0."""
    return V2Call("job.stop", "job/stop", json=body(job_id=require(job_id, "job_id", "job.stop")),
                  not_found=JOB_NOT_FOUND, parse=_message)


def _message(envelope: Mapping[str, Any]) -> str:
    return str(envelope.get("retmsg") or "")


def marker_of(record: JobRecord) -> str | None:
    """The provider's submit marker kept in a job's ``dag.conf.extra`` (``None`` if it has none)."""
    conf = record.runtime_conf
    extra = conf.get("extra") if isinstance(conf, Mapping) else None
    value = extra.get(MARKER_KEY) if isinstance(extra, Mapping) else None
    return str(value) if value is not None else None


class JobGroupV2(V2Group):
    """Job operations of FATE Flow 2.x (``fate_client.flow_sdk`` ``Job``).

    ``recovery_delays``/``recovery_page_size`` may be set per instance.
    """

    #: Delays (s) between lookups of a job whose submit answer was lost.
    recovery_delays: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    #: Rows of ``job/list/query`` (newest first) scanned per lookup.
    recovery_page_size: int = 100

    def submit(self, dag_schema: Any, *, marker: str | None = None) -> SubmitResult:
        """Submit a job (``POST job/submit``). Never resent blindly.

        The DAG's ``conf.extra`` gets ``{"airflow_marker": <marker>}`` (a fresh uuid4 when not given); the
        2.2.0 server keeps it in the job's DAG, so when the answer is lost (connection dropped after sending,
        read timeout, 5xx) the job is found again by that marker in ``job/list/query`` instead of submitting
        twice.

        :param dag_schema: ``{"schema_version", "dag": {...}}`` as a dict, a JSON or YAML file (path or text), or
            a ``fate_client`` pipeline (or anything with ``get_dag()``/``dict()``).
        :param marker: idempotency marker stored in ``dag.conf.extra.airflow_marker``.
        :raises FateFlowInputError: not a DAG schema (before sending).
        :raises FateFlowApiError: the server refused it (e.g. 6000 ``ValidationError``).
        :raises FateFlowAmbiguousSubmitError: the answer was lost and no job carries the marker.
        """
        schema = load_dag_schema(dag_schema)
        marker = marker or uuid.uuid4().hex
        dag = schema["dag"] = dict(schema["dag"])
        conf = dict(dag.get("conf") or {})
        conf["extra"] = {**(conf.get("extra") or {}), MARKER_KEY: marker}
        dag["conf"] = conf
        config = self._config

        def parse(envelope: Mapping[str, Any]) -> SubmitResult:
            data = envelope.get("data") if isinstance(envelope.get("data"), Mapping) else {}
            job_id = str(envelope.get("job_id") or data["job_id"])
            return SubmitResult(
                job_id=job_id, model_id=data.get("model_id"),
                model_version=None if data.get("model_version") is None else str(data["model_version"]),
                board_url=self._board(job_id, dag) if config.board_url else None,
                raw={k: v for k, v in envelope.items() if k not in ("retcode", "retmsg")}, marker=marker,
            )

        since_ms = int(time.time() * 1000)
        try:
            return self._run(V2Call("job.submit", "job/submit", json={"dag_schema": schema}, parse=parse))
        except FateFlowError as exc:
            if not is_ambiguous(exc):
                raise
            log.warning("job.submit: answer lost (%s); looking for the job with marker %s", exc, marker)
            record, searched = self._recover(lambda: self.find_by_marker(marker, since_ms=since_ms))
            if record is None:
                raise FateFlowAmbiguousSubmitError(
                    f"the submit answer was lost ({exc}) and no job with marker {marker} was found: "
                    "the job may or may not exist",
                    operation="job.submit", marker=marker, cause=exc, searched=searched,
                ) from exc
            log.warning("job.submit: found job %s by its marker", record.job_id)
            conf_seen = record.runtime_conf or {}
            return SubmitResult(
                job_id=record.job_id, model_id=conf_seen.get("model_id"),
                model_version=None if conf_seen.get("model_version") is None else str(conf_seen["model_version"]),
                board_url=self._board(record.job_id, dag) if config.board_url else None,
                raw=record.raw, marker=marker, recovered=True,
            )

    def _board(self, job_id: str, dag: Mapping[str, Any]) -> str | None:
        """FATE-Board link for the first guest party of the DAG (else the first party)."""
        parties = [p for p in dag.get("parties") or [] if isinstance(p, Mapping)]
        first = next((p for p in parties if p.get("role") == "guest"), parties[0] if parties else {})
        ids = first.get("party_id") or [""]
        return board_url(self._config.board_url, job_id=job_id, role=str(first.get("role") or ""), party_id=ids[0])

    def _recover(self, lookup: Callable[[], Any]) -> tuple[Any, bool]:
        """``(found, searched)``: :func:`~airflow_provider_fateflow.client._base.recover` with this group's
        ``recovery_delays``."""
        return recover(lookup, self.recovery_delays, self._sleep)

    def find_by_marker(self, marker: str, *, since_ms: int | None = None) -> JobRecord | None:
        """The newest job whose DAG carries ``conf.extra.airflow_marker == marker`` (``job/list/query``, newest
        first, one page of ``recovery_page_size`` rows), created no earlier than 60 s before ``since_ms``."""
        floor = None if since_ms is None else since_ms - 60_000
        listing = self.query_job_list(limit=self.recovery_page_size, order_by="create_time", order="desc")
        for record in listing.jobs:
            if floor is not None and record.create_time is not None and record.create_time < floor:
                break
            if marker_of(record) == marker:
                return record
        return None

    def query(self, job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
              status: str | None = None) -> list[JobRecord]:
        """One row per (role, party) (``GET job/query``); ``[]`` for an unknown job."""
        return self._run(query_call(job_id, role, party_id, status))

    def stop(self, job_id: str) -> str:
        """Stop a job (``POST job/stop``); returns the server's message. Not retried once sent.

        :raises FateFlowNotFoundError: no such job (1001).
        """
        return self._run(stop_call(job_id))

    def rerun(self, job_id: str) -> str:
        """Run a finished job's failed or canceled tasks again (``POST job/rerun``). Not retried once sent.

        :raises FateFlowNotFoundError: no such job (1001).
        """
        return self._run(V2Call("job.rerun", "job/rerun", json=body(job_id=require(job_id, "job_id", "job.rerun")),
                                not_found=JOB_NOT_FOUND, parse=_message))

    def query_job_list(self, limit: int | None = None, page: int | None = None, job_id: str | None = None,
                       description: str | None = None, party_id: int | str | None = None,
                       role: list[str] | str | None = None, status: list[str] | str | None = None,
                       order_by: str | None = None, order: str | None = None) -> JobList:
        """A page of job rows (``GET job/list/query``) and ``count`` = all matching rows.

        :param limit: page size (server default: all).
        :param description: substring of the job's description (set by ``add_notes``).
        :param role: one role or a list; ``status`` likewise.
        :param order_by: e.g. ``"create_time"``; ``order``: ``"asc"`` or ``"desc"``.
        """
        roles = [role] if isinstance(role, str) else role
        statuses = [getattr(status, "value", status)] if isinstance(status, str) else status
        return self._run(V2Call(
            "job.query_job_list", "job/list/query", method="GET",
            query=params(limit=limit, page=page, job_id=job_id, description=description, party_id=party_id,
                         role=roles, status=statuses, order_by=order_by, order=order),
            idempotent=True, parse=job_list,
        ))

    def dag_dependency(self, job_id: str, role: str | None = None, party_id: int | str | None = None) -> dict[str, Any]:
        """``{component_list, component_module, component_stage, dependencies}`` (``GET job/dag/dependency``).

        ``role``/``party_id`` default to the connection's initiator role and party.

        :raises FateFlowNotFoundError: no such job for that party (1001).
        """
        role, party = self._role_party(role, party_id, "job.dag_dependency")
        return self._run(V2Call(
            "job.dag_dependency", "job/dag/dependency", method="GET",
            query=params(job_id=require(job_id, "job_id", "job.dag_dependency"), role=role, party_id=party),
            idempotent=True, not_found=JOB_NOT_FOUND, parse=lambda e: dict(data_of(e) or {}),
        ))

    def download_log(self, job_id: str, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Path:
        """Fetch a job's logs (``POST job/log/download``, a tar.gz) and extract them safely into
        ``<path>/job_<job_id>_log/`` (``fate_flow_schedule.log``, ``<role>/<party>/<task>/...``).

        :raises FateFlowNotFoundError: the server has no log folder for that job (8001).
        """
        require(job_id, "job_id", "job.download_log")
        stem = f"job_{job_id}_log"
        return download_and_extract(
            self, "job.download_log", "job/log/download", method="POST", json_body=body(job_id=job_id),
            target=Path(path) / stem, fallback_name=f"{stem}.tar.gz", not_found=FILE_NOT_FOUND, max_bytes=max_bytes,
        )

    def add_notes(self, job_id: str, role: str, party_id: int | str, notes: str) -> None:
        """Set a job row's description (``POST job/notes/add``); ``query_job_list(description=...)`` finds it."""
        self._run(V2Call("job.add_notes", "job/notes/add", json=body(
            job_id=require(job_id, "job_id", "job.add_notes"), role=require(role, "role", "job.add_notes"),
            party_id=require(party_id, "party_id", "job.add_notes"), notes=require(notes, "notes", "job.add_notes"),
        ), parse=data_of))

    def queue_clean(self) -> Any:
        """Cancel every waiting job (``POST job/queue/clean``)."""
        return self._run(V2Call("job.queue_clean", "job/queue/clean", parse=data_of))

    def job_clean(self, job_id: str) -> None:
        """Clean a job's runtime data (``POST job/clean``)."""
        self._run(V2Call("job.job_clean", "job/clean", json=body(job_id=require(job_id, "job_id", "job.job_clean")),
                         parse=data_of))
