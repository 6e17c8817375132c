"""Sensors: a job reaches a status, a component reaches a status, a table exists.

All three work in ``poke``, ``reschedule`` and deferrable mode (``deferrable=True`` pokes once, then
waits in the triggerer until ``timeout``). Nothing is kept on the worker between pokes: in reschedule
mode the not-found grace period is measured from the first reschedule date Airflow keeps. FATE Flow
being unreachable or busy (a transient error) counts as "not yet", so a FATE Flow restart does not fail a
sensor; its ``timeout`` bounds the wait.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_fateflow.client.errors import (
    FateFlowError,
    FateFlowInputError,
    FateFlowNotFoundError,
    summarize_retmsg,
)
from airflow_provider_fateflow.client.inputs import party_id_int
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus
from airflow_provider_fateflow.hooks.fateflow import DEFAULT_CONN_ID, FateFlowHook
from airflow_provider_fateflow.links.fateboard import (
    BOARD_URL_XCOM_KEY,
    FateBoardLink,
    build_board_url,
)
from airflow_provider_fateflow.operators.base import (
    HOOK_PARAM_NAMES,
    JobRef,
    default_deferrable,
    failure_report,
    job_error,
)
from airflow_provider_fateflow.triggers.records import compact_record, evaluate_tasks

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowSensorTimeout
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowSensorTimeout  # type: ignore[no-redef]

__all__ = ["JobStatusSensor", "TaskStatusSensor", "TableExistsSensor"]


def _normalize(values: Iterable[Any] | str | None, enum: Any, default: Sequence[str], what: str) -> list[str]:
    if values is None:
        return list(default)
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        parsed = enum.parse(value)
        if parsed is enum.UNKNOWN:
            raise FateFlowInputError(
                f"{what}: unknown status {value!r}; use {sorted(m.value for m in enum if m is not enum.UNKNOWN)}"
            )
        out.append(parsed.value)
    if not out:
        raise FateFlowInputError(f"{what}: give at least one status")
    return sorted(set(out))


class _FateFlowSensor(BaseSensorOperator):
    """Connection, hook parameters, deferral and the not-found grace shared by the sensors.

    :param fateflow_conn_id: the Airflow connection (default ``fateflow_default``).
    :param hook_params: hook parameters (timeouts in seconds, retries).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param not_found_timeout: seconds the job (or component) may be unknown to FATE Flow before the
        sensor fails (default 120; None waits until ``timeout``).
    """

    ui_color = "#e8f4fd"

    def __init__(self, *, fateflow_conn_id: str = DEFAULT_CONN_ID, hook_params: dict[str, Any] | None = None,
                 deferrable: bool = default_deferrable(), not_found_timeout: float | None = 120.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fateflow_conn_id = fateflow_conn_id
        self.hook_params = hook_params
        self.deferrable = deferrable
        self.not_found_timeout = not_found_timeout
        self._first_poke: float | None = None

    @cached_property
    def hook(self) -> FateFlowHook:
        params = dict(self.hook_params or {})
        unknown = sorted(set(params) - HOOK_PARAM_NAMES)
        if unknown:
            raise FateFlowInputError(f"hook_params: unknown key(s) {unknown}; allowed: {sorted(HOOK_PARAM_NAMES)}")
        return FateFlowHook(self.fateflow_conn_id, **params)

    def _started(self, context: Context) -> float:
        """Epoch seconds of the first poke (the first reschedule date in reschedule mode)."""
        if self.reschedule:
            try:
                first = context["ti"].get_first_reschedule_date(context)
            except Exception:
                first = None
            if isinstance(first, datetime):
                return first.timestamp()
        if self._first_poke is None:
            self._first_poke = time.time()
        return self._first_poke

    def _missing(self, context: Context, what: str) -> bool:
        """Log and return False while within the grace period; raise after it."""
        waited = time.time() - self._started(context)
        if self.not_found_timeout is not None and waited >= self.not_found_timeout:
            raise FateFlowNotFoundError(
                f"{what} not found: FATE Flow has not known it for {waited:.0f} s "
                f"(not_found_timeout={self.not_found_timeout:.0f} s). Check the id, role and party.",
            )
        self.log.warning("%s not found (yet); waiting up to %s s.", what,
                         "∞" if self.not_found_timeout is None else f"{self.not_found_timeout:.0f}")
        return False

    def _check_party(self, job_id: str, role: str | None, party_id: int | None) -> None:
        """A clear error when the job exists but not on that role/party."""
        if role is None and party_id is None:
            return
        rows = self.hook.job.query(job_id=job_id)
        if rows:
            parties = ", ".join(sorted({f"{r.role}/{r.party_id}" for r in rows}))
            raise FateFlowInputError(f"job {job_id} has no party {role}/{party_id}; it runs on {parties}")

    def _grace_left(self, context: Context) -> float | None:
        if self.not_found_timeout is None:
            return None
        return max(0.0, self.not_found_timeout - (time.time() - self._started(context)))

    def _deadline(self, context: Context) -> float:
        return self._started(context) + float(self.timeout)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One check (:meth:`_poke`). FATE Flow being unreachable or busy (a transient error, after the
        client's own retries) is logged and counts as "not yet": the sensor's ``timeout`` bounds the wait,
        as in the trigger, so a FATE Flow restart does not fail the sensor."""
        try:
            return self._poke(context)
        except FateFlowError as err:
            if not err.transient:
                raise
            self.log.warning("FATE Flow is unreachable or busy (%s); checking again in %s s.", err,
                             self.poke_interval)
            return False

    def _poke(self, context: Context) -> bool | PokeReturnValue:
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first:
            return first.xcom_value if isinstance(first, PokeReturnValue) else None
        self.defer(trigger=self._trigger(context), method_name="execute_complete")

    def _trigger(self, context: Context) -> BaseTrigger:
        """The trigger to wait in (deferrable mode, after a first poke that was not enough)."""
        raise NotImplementedError

    def _raise_event(self, event: dict[str, Any]) -> None:
        """Raise for a non-success trigger event."""
        reason = event.get("reason")
        message = event.get("message") or repr(event)
        if event.get("status") == "timeout" and reason in ("sensor_timeout", "deadline"):
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        if reason == "not_found":
            raise FateFlowNotFoundError(message)
        if reason == "bad_party":
            raise FateFlowInputError(message)
        raise FateFlowError(message)


class JobStatusSensor(_FateFlowSensor):
    """Wait until a FATE job reaches one of ``target_statuses`` (default ``success``).

    A job that ends failed, canceled or timed out fails the sensor with FATE's reason (the failed
    components and their error reports are logged), unless that status is a target. An unknown job
    fails after ``not_found_timeout``; a role/party the job does not have fails at once. Returns
    ``{"job_id", "status", "record"}``; pushes ``board_url`` for the FATE Board link.

    :param job_id: the FATE job id (templated).
    :param role: role to query with (default: the job's initiator row, the authoritative status).
    :param party_id: party to query with.
    :param target_statuses: statuses that satisfy the sensor: ``success`` (default), ``running``,
        ``waiting``, ``failed``, ``canceled``, ``timeout``...
    """

    template_fields: Sequence[str] = ("job_id", "role", "party_id", "fateflow_conn_id")
    operator_extra_links = (FateBoardLink(),)

    def __init__(self, *, job_id: str, role: str | None = None, party_id: int | str | None = None,
                 target_statuses: Sequence[str] | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.role = role
        self.party_id = party_id
        self.target_statuses = target_statuses

    def _args(self) -> tuple[str, str | None, int | None, list[str]]:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        party = None if self.party_id in (None, "") else party_id_int(self.party_id, "party_id")
        targets = _normalize(self.target_statuses, JobStatus, [JobStatus.SUCCESS.value], "target_statuses")
        return str(self.job_id), self.role or None, party, targets

    def _push_board_url(self, context: Context, job_id: str, role: str | None, party_id: Any) -> None:
        try:
            url = build_board_url(self.hook.config.board_url, job_id=job_id, role=role, party_id=party_id)
            if url:
                context["ti"].xcom_push(key=BOARD_URL_XCOM_KEY, value=url)
        except Exception as err:  # the link is a nicety
            self.log.debug("no board link: %s", err)

    def _poke(self, context: Context) -> bool | PokeReturnValue:
        job_id, role, party_id, targets = self._args()
        rows = self.hook.job.query(job_id=job_id, role=role, party_id=party_id)
        if not rows:
            self._check_party(job_id, role, party_id)
            return self._missing(context, f"FATE job {job_id}")
        record = next((r for r in rows if r.is_initiator), rows[0]) if role is None else rows[0]
        if not self._first_poke_done(context):
            self._push_board_url(context, job_id, record.role, record.party_id)
        status = record.status
        self.log.info("FATE job %s is %s (progress %s%%); waiting for %s.", job_id, record.status_raw,
                      record.progress if record.progress is not None else "?", "/".join(targets))
        if status.value in targets:
            return PokeReturnValue(True, {"job_id": job_id, "status": status.value,
                                          "record": compact_record(record.raw)})
        if status.is_terminal:
            ref = JobRef(job_id=job_id, role=record.role, party_id=record.party_id,
                         board_url=build_board_url(self.hook.config.board_url, job_id=job_id, role=record.role,
                                                   party_id=record.party_id))
            reason = failure_report(self.hook, ref, status.value, self.log)
            raise job_error(job_id, status, reason)
        return False

    def _first_poke_done(self, context: Context) -> bool:
        done = getattr(self, "_board_pushed", False)
        self._board_pushed = True
        return done

    def _trigger(self, context: Context) -> BaseTrigger:
        job_id, role, party_id, targets = self._args()
        from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger

        return JobStatusTrigger(
            job_id=job_id, role=role, party_id=party_id, fateflow_conn_id=self.fateflow_conn_id,
            poll_interval=float(self.poke_interval), deadline=self._deadline(context),
            deadline_reason="sensor_timeout", stop_on_timeout=False, target_statuses=targets,
            not_found_timeout=self._grace_left(context), cancel_on_kill=False,
            hook_params=self.hook_params or None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        event = event or {}
        if event.get("status") == "success":
            self.log.info("%s", event.get("message"))
            return {"job_id": event.get("job_id"), "status": event.get("job_status"), "record": event.get("record")}
        if event.get("reason") == "job":
            ref = JobRef(job_id=str(event.get("job_id")), role=event.get("role"), party_id=event.get("party_id"),
                         board_url=None)
            reason = failure_report(self.hook, ref, event.get("job_status") or event["status"], self.log,
                                    event.get("tasks")) or event.get("message")
            raise job_error(ref.job_id, event.get("job_status") or event["status"], reason)
        self._raise_event(event)


class TaskStatusSensor(_FateFlowSensor):
    """Wait until one component of a FATE job reaches one of ``target_statuses`` (default success/pass).

    Without ``role``/``party_id`` every party's task of the component must get there. A task that ends
    in another terminal status fails the sensor with FATE's error report. Returns
    ``{"job_id", "component_name", "status", "record"}``.

    :param job_id: the FATE job id (templated).
    :param component_name: the component, e.g. ``hetero_lr_0`` (templated).
    :param role: only this role's task (optional).
    :param party_id: only this party's task (optional).
    :param target_statuses: task statuses that satisfy the sensor (default ``success`` and ``pass``).
    """

    template_fields: Sequence[str] = ("job_id", "component_name", "role", "party_id", "fateflow_conn_id")

    def __init__(self, *, job_id: str, component_name: str, role: str | None = None,
                 party_id: int | str | None = None, target_statuses: Sequence[str] | str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.component_name = component_name
        self.role = role
        self.party_id = party_id
        self.target_statuses = target_statuses

    def _args(self) -> tuple[str, str, str | None, int | None, list[str]]:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        if not self.component_name:
            raise FateFlowInputError("component_name: missing")
        party = None if self.party_id in (None, "") else party_id_int(self.party_id, "party_id")
        targets = _normalize(self.target_statuses, TaskStatus,
                             [TaskStatus.SUCCESS.value, TaskStatus.PASS.value], "target_statuses")
        return str(self.job_id), str(self.component_name), self.role or None, party, targets

    def _poke(self, context: Context) -> bool | PokeReturnValue:
        job_id, component, role, party_id, targets = self._args()
        rows = self.hook.task.query(job_id=job_id, component_name=component, role=role, party_id=party_id)
        if not rows:
            self._check_party(job_id, role, party_id)
            return self._missing(context, f"component {component} of FATE job {job_id}")
        verdict, task = evaluate_tasks(rows, targets)
        self.log.info("Component %s of FATE job %s: %s; waiting for %s.", component, job_id,
                      ", ".join(f"{r.role}/{r.party_id}={r.status.value}" for r in rows), "/".join(targets))
        if verdict == "success":
            return PokeReturnValue(True, {"job_id": job_id, "component_name": component,
                                          "status": task.status.value, "record": compact_record(task.raw, True)})
        if verdict == "failed":
            if task.error_report:
                self.log.error("FATE error report of %s on %s/%s:\n%s", component, task.role, task.party_id,
                               task.error_report)
            report = f": {summarize_retmsg(task.error_report, 300)}" if task.error_report else ""
            raise job_error(job_id, task.status.value,
                            f"component {component} ended {task.status.value} on {task.role}/{task.party_id}{report}")
        return False

    def _trigger(self, context: Context) -> BaseTrigger:
        job_id, component, role, party_id, targets = self._args()
        from airflow_provider_fateflow.triggers.fateflow import TaskStatusTrigger

        return TaskStatusTrigger(
            job_id=job_id, component_name=component, role=role, party_id=party_id, target_statuses=targets,
            fateflow_conn_id=self.fateflow_conn_id, poll_interval=float(self.poke_interval),
            deadline=self._deadline(context), deadline_reason="sensor_timeout",
            not_found_timeout=self._grace_left(context), hook_params=self.hook_params or None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        event = event or {}
        if event.get("status") == "success":
            return {"job_id": event.get("job_id"), "component_name": event.get("component_name"),
                    "status": event.get("task_status"), "record": event.get("record")}
        if event.get("reason") == "task":
            report = (event.get("record") or {}).get("f_error_report")
            if report:
                self.log.error("FATE error report:\n%s", report)
            raise job_error(str(event.get("job_id")), event.get("task_status") or event["status"], event.get("message"))
        self._raise_event(event)


class TableExistsSensor(_FateFlowSensor):
    """Wait until a FATE table exists, optionally with at least ``min_rows`` rows.

    Returns ``{"namespace", "table_name", "count"}``.

    :param namespace: the table namespace (templated).
    :param table_name: the table name (templated).
    :param min_rows: minimum row count (default None: existence is enough).
    """

    template_fields: Sequence[str] = ("namespace", "table_name", "min_rows", "fateflow_conn_id")

    def __init__(self, *, namespace: str, table_name: str, min_rows: int | str | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("not_found_timeout", None)
        super().__init__(**kwargs)
        self.namespace = namespace
        self.table_name = table_name
        self.min_rows = min_rows

    def _args(self) -> tuple[str, str, int | None]:
        if not self.namespace or not self.table_name:
            raise FateFlowInputError("namespace and table_name are required")
        minimum = None
        if self.min_rows not in (None, ""):
            try:
                minimum = int(self.min_rows)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise FateFlowInputError(f"min_rows must be an integer, got {self.min_rows!r}") from None
        return str(self.namespace), str(self.table_name), minimum

    def _poke(self, context: Context) -> bool | PokeReturnValue:
        namespace, table, minimum = self._args()
        info = self.hook.table.info(namespace, table)
        if not info.exists:
            self.log.info("Table %s/%s does not exist yet.", namespace, table)
            return False
        if minimum is not None and (info.count or 0) < minimum:
            self.log.info("Table %s/%s has %s rows; waiting for %d.", namespace, table, info.count, minimum)
            return False
        self.log.info("Table %s/%s exists with %s rows.", namespace, table, info.count)
        return PokeReturnValue(True, {"namespace": namespace, "table_name": table, "count": info.count})

    def _trigger(self, context: Context) -> BaseTrigger:
        namespace, table, minimum = self._args()
        from airflow_provider_fateflow.triggers.fateflow import TableExistsTrigger

        return TableExistsTrigger(
            namespace=namespace, table_name=table, min_rows=minimum, fateflow_conn_id=self.fateflow_conn_id,
            poll_interval=float(self.poke_interval), deadline=self._deadline(context),
            deadline_reason="sensor_timeout", hook_params=self.hook_params or None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        event = event or {}
        if event.get("status") == "success":
            return {"namespace": event.get("namespace"), "table_name": event.get("table_name"),
                    "count": event.get("count")}
        self._raise_event(event)
