"""Sensors: a job reaches a status, a component reaches a status, a table exists.

All three work in ``poke``, ``reschedule`` and deferrable mode (``deferrable=True`` pokes once, then waits
in the triggerer until ``timeout``). A poke and the trigger judge with the same code
(:mod:`airflow_provider_fateflow.client.wait`) and end in the same :meth:`_FateFlowSensor._finish`, so a
wait raises the same exception in every mode. Nothing is kept on the worker between pokes: in reschedule
mode the not-found grace period is measured from the first reschedule date Airflow keeps. FATE Flow being
unreachable or busy (a transient error) counts as "not yet", so a FATE Flow restart does not fail a sensor;
its ``timeout`` bounds the wait.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_fateflow.client.board import board_url
from airflow_provider_fateflow.client.errors import FateFlowError, FateFlowInputError
from airflow_provider_fateflow.client.inputs import party_id_int
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus
from airflow_provider_fateflow.client.wait import (
    JobWatch,
    TableWatch,
    TaskWatch,
    Progress,
    WaitEvent,
    failure_report,
    poll,
    progress_line,
    statuses,
    watched_row,
)
from airflow_provider_fateflow.common import FateFlowTaskMixin, default_deferrable, hook_for, task_error
from airflow_provider_fateflow.hooks.fateflow import DEFAULT_CONN_ID
from airflow_provider_fateflow.links.fateboard import FateBoardLink

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

__all__ = ["JobStatusSensor", "TaskStatusSensor", "TableExistsSensor"]


def _party(value: Any) -> int | None:
    return None if value in (None, "") else party_id_int(value, "party_id")


class _FateFlowSensor(FateFlowTaskMixin, BaseSensorOperator):
    """Connection, hook parameters, deferral and the not-found grace shared by the sensors.

    :param fateflow_conn_id: the Airflow connection (default ``fateflow_default``).
    :param hook_params: hook parameters (timeouts in seconds, retries).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param not_found_timeout: seconds the job (or component) may be unknown to FATE Flow before the
        sensor fails (default 120; None waits until ``timeout``).
    """

    ui_color = "#e8f4fd"
    _sensor_policy = True

    def __init__(self, *, fateflow_conn_id: str = DEFAULT_CONN_ID, hook_params: dict[str, Any] | None = None,
                 deferrable: bool = default_deferrable(), not_found_timeout: float | None = 120.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fateflow_conn_id = fateflow_conn_id
        self.hook_params = hook_params
        self.deferrable = deferrable
        self.not_found_timeout = not_found_timeout
        self._first_poke: float | None = None
        self._progress = Progress()

    @cached_property
    def hook(self) -> FateFlowHook:
        return hook_for(self.fateflow_conn_id, self.hook_params)

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

    # -- what subclasses say -------------------------------------------------------------------------------
    def watch(self) -> JobWatch | TaskWatch | TableWatch:
        """What is awaited, from the rendered arguments (:class:`FateFlowInputError` when they are bad)."""
        raise NotImplementedError

    def _trigger(self, watch: Any, context: Context, grace: float | None) -> BaseTrigger:
        """The trigger to wait in (deferrable mode), with ``grace`` seconds of not-found tolerance left."""
        raise NotImplementedError

    def _xcom(self, event: WaitEvent) -> Any:
        """The sensor's return value for a successful wait."""
        raise NotImplementedError

    # -- one poke, one ending ----------------------------------------------------------------------------------
    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One check. FATE Flow being unreachable or busy (a transient error, after the client's own retries)
        counts as "not yet": the sensor's ``timeout`` bounds the wait, as in the trigger."""
        try:
            return self._check(context)
        except FateFlowError as err:
            if not err.transient:
                raise
            self.log.warning("FATE Flow is unreachable or busy (%s); checking again in %s s.", err, self.poke_interval)
            return False

    def _check(self, context: Context) -> bool | PokeReturnValue:
        """One poll, judged; transient failures are raised (for :meth:`poke` to wait out)."""
        watch = self.watch()
        event, answer = poll(self.hook, watch, time.time() - self._started(context))
        self._seen(context, watch, answer)
        if event is None:
            return False
        return PokeReturnValue(True, self._finish(context, event))

    def _seen(self, context: Context, watch: Any, answer: Any) -> None:
        """Log where the wait is when it changed (and, for a job, keep its board link)."""
        line = progress_line(self._progress, self.hook, watch, answer)
        if line:
            self.log.info("%s", line)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first:
            return first.xcom_value if isinstance(first, PokeReturnValue) else None
        waited = time.time() - self._started(context)
        grace = None if self.not_found_timeout is None else max(0.0, self.not_found_timeout - waited)
        self.defer(trigger=self._trigger(self.watch(), context, grace), method_name="execute_complete")

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: the same ending as a poke's."""
        return self._finish(context, WaitEvent.from_dict(event))

    def _deadline(self, context: Context) -> float:
        return self._started(context) + float(self.timeout)

    def _finish(self, context: Context, event: WaitEvent) -> Any:
        """The return value of a successful wait, or raise what the event means (any mode)."""
        if event.succeeded:
            self.log.info("%s.", event.message)
            return self._xcom(event)
        reason = self._report(event) if event.job_ended else None
        err = event.exception_with(reason)
        raise task_error(err, sensor=True)

    def _report(self, event: WaitEvent) -> str | None:
        return None

    def _trigger_kwargs(self, context: Context, grace: float | None) -> dict[str, Any]:
        return {"fateflow_conn_id": self.fateflow_conn_id, "poll_interval": float(self.poke_interval),
                "deadline": self._deadline(context), "deadline_reason": "sensor_timeout",
                "not_found_timeout": grace, "hook_params": self.hook_params or None}


class JobStatusSensor(_FateFlowSensor):
    """Wait until a FATE job reaches one of ``target_statuses`` (default ``success``).

    A job that ends failed, canceled or timed out fails the sensor with FATE's reason (the failed
    components and their error reports are logged), unless that status is a target. An unknown job
    fails after ``not_found_timeout``; a role/party the job does not have fails at once. Without
    ``role``/``party_id`` the initiator's row is watched, in every mode. Returns ``{"job_id", "status",
    "role", "party_id", "record"}`` (``record``: the row in plain names, see docs/operators.md); pushes
    ``board_url`` for the FATE Board link.

    :param job_id: the FATE job id (templated).
    :param role: role to query with (default: the job's initiator, the authoritative status).
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

    def watch(self) -> JobWatch:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        return JobWatch(job_id=str(self.job_id), role=self.role or None, party_id=_party(self.party_id),
                        targets=statuses(self.target_statuses, JobStatus, [JobStatus.SUCCESS], "target_statuses"),
                        not_found_timeout=self.not_found_timeout)

    def _link(self, context: Context | None, job_id: str, role: Any, party_id: Any) -> str | None:
        try:
            url = board_url(self.hook.config.board_url, job_id=job_id, role=role, party_id=party_id)
        except Exception as err:  # the link is a nicety
            self.log.debug("no board link: %s", err)
            return None
        if url and url != self.fateflow_board_url:
            self.remember_board_url(context, url)
        return url

    def _seen(self, context: Context, watch: Any, answer: Any) -> None:
        super()._seen(context, watch, answer)
        row = watched_row(answer, watch.role, watch.party_id)
        if row is not None:
            self._link(context, watch.job_id, row.role, row.party_id)

    def _trigger(self, watch: JobWatch, context: Context, grace: float | None) -> BaseTrigger:
        from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger

        return JobStatusTrigger(job_id=watch.job_id, role=watch.role, party_id=watch.party_id,
                                target_statuses=list(watch.targets), stop_on_timeout=False, cancel_on_kill=False,
                                **self._trigger_kwargs(context, grace))

    def _finish(self, context: Context, event: WaitEvent) -> Any:
        if event.job_id and event.role is not None:  # resumed in a new process: keep the link for this try
            self._link(None, event.job_id, event.role, event.party_id)
        return super()._finish(context, event)

    def _report(self, event: WaitEvent) -> str | None:
        return failure_report(self.hook.task, str(event.job_id), event.status or event.outcome.value, self.log,
                              self.fateflow_board_url) or None

    def _xcom(self, event: WaitEvent) -> dict[str, Any]:
        return {"job_id": event.job_id, "status": event.status, "role": event.role, "party_id": event.party_id,
                "record": event.record}


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

    def watch(self) -> TaskWatch:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        if not self.component_name:
            raise FateFlowInputError("component_name: missing")
        return TaskWatch(job_id=str(self.job_id), component_name=str(self.component_name), role=self.role or None,
                         party_id=_party(self.party_id),
                         targets=statuses(self.target_statuses, TaskStatus, [TaskStatus.SUCCESS, TaskStatus.PASS],
                                          "target_statuses"),
                         not_found_timeout=self.not_found_timeout)

    def _trigger(self, watch: TaskWatch, context: Context, grace: float | None) -> BaseTrigger:
        from airflow_provider_fateflow.triggers.fateflow import TaskStatusTrigger

        return TaskStatusTrigger(job_id=watch.job_id, component_name=watch.component_name, role=watch.role,
                                 party_id=watch.party_id, target_statuses=list(watch.targets),
                                 **self._trigger_kwargs(context, grace))

    def _report(self, event: WaitEvent) -> str | None:
        report = event.record.get("error_report")
        if report:
            self.log.error("FATE error report of %s on %s/%s:\n%s", event.component_name, event.record.get("role"),
                           event.record.get("party_id"), report)
        return None

    def _xcom(self, event: WaitEvent) -> dict[str, Any]:
        return {"job_id": event.job_id, "component_name": event.component_name, "status": event.status,
                "record": event.record}


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

    def watch(self) -> TableWatch:
        if not self.namespace or not self.table_name:
            raise FateFlowInputError("namespace and table_name are required")
        minimum = None
        if self.min_rows not in (None, ""):
            try:
                minimum = int(self.min_rows)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise FateFlowInputError(f"min_rows must be an integer, got {self.min_rows!r}") from None
        return TableWatch(namespace=str(self.namespace), table_name=str(self.table_name), min_rows=minimum)

    def _trigger(self, watch: TableWatch, context: Context, grace: float | None) -> BaseTrigger:
        from airflow_provider_fateflow.triggers.fateflow import TableExistsTrigger

        kwargs = self._trigger_kwargs(context, grace)
        kwargs.pop("not_found_timeout")
        return TableExistsTrigger(namespace=watch.namespace, table_name=watch.table_name, min_rows=watch.min_rows,
                                  **kwargs)

    def _xcom(self, event: WaitEvent) -> dict[str, Any]:
        return {"namespace": event.namespace, "table_name": event.table_name, "count": event.count}
