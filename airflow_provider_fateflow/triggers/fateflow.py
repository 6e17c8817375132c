"""Async waiting in the triggerer: one event per wait.

Every trigger here:

- opens **one** async client per ``run()`` (the connection is read with ``aget_connection``, never the
  blocking call) and closes it when the run ends;
- sends **one** request per poll and sleeps with ``asyncio.sleep`` (never blocks the event loop);
- yields **exactly one** :class:`TriggerEvent` and returns; ``status`` is ``success``, ``failed``,
  ``canceled``, ``timeout`` or ``error``;
- is idempotent: it only reads state (plus a stop on its deadline), so it can run twice or move
  between triggerers;
- carries deadlines as epoch seconds (``time.time()``), which hold across processes and hosts.

Transient failures (connection refused or dropped, timeouts, HTTP 5xx/429) while polling are retried
inside the trigger with exponential backoff (capped at :data:`MAX_BACKOFF` seconds, never past the
deadline) instead of ending the wait: a FATE Flow restart must not fail every deferred task. Any other
exception becomes one ``error`` event.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_fateflow.client.errors import FateFlowError, summarize_retmsg
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus
from airflow_provider_fateflow.hooks.fateflow import DEFAULT_CONN_ID, FateFlowHook
from airflow_provider_fateflow.triggers.records import compact_record, evaluate_tasks
from airflow_provider_fateflow.version_compat import AIRFLOW_V_3_3_PLUS

__all__ = ["JobStatusTrigger", "TaskStatusTrigger", "TableExistsTrigger", "compact_record", "evaluate_tasks", "MAX_BACKOFF"]

#: Longest pause (seconds) between two polls while FATE Flow is unreachable.
MAX_BACKOFF = 120.0
#: Longest random delay (seconds) before a trigger's first poll, to spread simultaneous starts.
MAX_START_JITTER = 5.0
#: Seconds ``on_kill``/the deadline stop may take.
STOP_TIMEOUT = 60.0
_MODULE = __name__

def _statuses(values: Iterable[Any] | str | None, enum: Any, default: Sequence[Any]) -> list[str]:
    if values is None:
        return [str(v) for v in default]
    if isinstance(values, str):
        values = [values]
    return sorted({enum.parse(v).value if not isinstance(v, enum) else v.value for v in values})


class _PollingTrigger(BaseTrigger):
    """The loop every trigger shares; subclasses implement :meth:`_poll` (one request).

    Takes the keyword arguments every trigger shares (``fateflow_conn_id``, ``poll_interval``, ``deadline``,
    ``deadline_reason``, ``not_found_timeout``, ``hook_params``); subclasses pass them on as ``**kwargs``.
    """

    kind = "wait"

    def __init__(
        self,
        *,
        fateflow_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        deadline_reason: str | None = None,
        not_found_timeout: float | None = 60.0,
        hook_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.fateflow_conn_id = fateflow_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = None if deadline is None else float(deadline)
        self.deadline_reason = deadline_reason
        self.not_found_timeout = None if not_found_timeout is None else float(not_found_timeout)
        self.hook_params = dict(hook_params) if hook_params else None

    def _base_kwargs(self) -> dict[str, Any]:
        return {
            "fateflow_conn_id": self.fateflow_conn_id,
            "poll_interval": self.poll_interval,
            "deadline": self.deadline,
            "deadline_reason": self.deadline_reason,
            "not_found_timeout": self.not_found_timeout,
            "hook_params": self.hook_params,
        }

    def _hook(self) -> FateFlowHook:
        return FateFlowHook(self.fateflow_conn_id, **(self.hook_params or {}))

    async def _client(self) -> Any:
        """One async client for this run; the connection is read asynchronously (``aget_connection``)."""
        return await self._hook().aget_client()

    def _ident(self) -> dict[str, Any]:
        return {}

    async def _poll(self, client: Any, started: float) -> dict[str, Any] | None:
        raise NotImplementedError

    async def _on_deadline(self, client: Any) -> dict[str, Any]:
        return {"status": "timeout", "reason": self.deadline_reason or "deadline",
                "message": f"{self.kind}: deadline passed", **self._ident()}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = None
        started = time.time()
        failures = 0
        try:
            # Spread the starts (and so the polls) of many triggers deferred at once over the poll
            # interval: building a client costs ~1 ms of CPU, and a thousand in one loop step would stall it.
            # The operator checked the state just before deferring, so the first poll can wait a little.
            await asyncio.sleep(random.uniform(0.0, min(self.poll_interval, MAX_START_JITTER)))
            client = await self._client()
            await asyncio.sleep(0)
            while True:
                now = time.time()
                if self.deadline is not None and now >= self.deadline:
                    payload = await self._on_deadline(client)
                    break
                try:
                    payload = await self._poll(client, started)
                    failures = 0
                except FateFlowError as err:
                    if not err.transient:
                        raise
                    failures += 1
                    delay = min(MAX_BACKOFF, self.poll_interval * (2 ** min(failures, 10)))
                    self.log.warning("%s: FATE Flow unreachable (%s); retrying in %.0f s", self.kind, err, delay)
                    await self._sleep(delay)
                    continue
                if payload is not None:
                    break
                await self._sleep(self.poll_interval)
        except Exception as err:  # one "error" event, never an exception out of the triggerer
            payload = {"status": "error", "reason": "exception",
                       "message": f"{type(err).__name__}: {err}", **self._ident()}
        finally:
            if client is not None:
                try:
                    await client.aclose()
                except Exception as err:  # pragma: no cover - closing must not hide the event
                    self.log.debug("closing the FATE Flow client failed: %s", err)
        yield TriggerEvent(payload)

    async def _sleep(self, seconds: float) -> None:
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - time.time()))
        await asyncio.sleep(seconds)

    async def _not_found(self, client: Any, started: float, what: str, job_id: str,
                         role: str | None, party_id: int | None) -> dict[str, Any] | None:
        """An event when ``what`` has been missing longer than the grace period (else None)."""
        if role is not None or party_id is not None:
            rows = await client.job.query(job_id=job_id)
            if rows:
                parties = ", ".join(sorted({f"{r.role}/{r.party_id}" for r in rows}))
                return {"status": "error", "reason": "bad_party",
                        "message": f"job {job_id} has no party {role}/{party_id}; it runs on {parties}",
                        **self._ident()}
        if self.not_found_timeout is not None and time.time() - started >= self.not_found_timeout:
            return {"status": "error", "reason": "not_found",
                    "message": f"{what} not found after {self.not_found_timeout:g} s (check the job id, role and party)", **self._ident()}
        return None


class JobStatusTrigger(_PollingTrigger):
    """Wait until a FATE job reaches one of ``target_statuses`` (default ``success``).

    Event ``status``: ``success`` (a target status was reached), ``failed``/``canceled``/``timeout`` (the
    job ended in a status that is not a target; ``reason`` ``"job"``), ``timeout`` with ``reason``
    ``"deadline"``/``"execution_timeout"`` (the deadline passed; ``stopped`` says whether the job was
    stopped), or ``error`` (``reason`` ``not_found``, ``bad_party`` or ``exception``). The event carries
    ``job_id``, ``role``, ``party_id``, ``job_status``, ``message`` and the job's final ``record`` (without
    conf and DSL). The failed components are looked up by the resumed task, so that every poll is
    exactly one request.

    :param job_id: the FATE job id.
    :param role: role to query the job with (the initiator's gives the authoritative status).
    :param party_id: party to query the job with.
    :param fateflow_conn_id: the Airflow connection.
    :param poll_interval: seconds between polls (default 10).
    :param deadline: epoch seconds after which the wait ends with a ``timeout`` event (default None).
    :param deadline_reason: ``"deadline"`` (the job timeout) or ``"execution_timeout"``, reported back.
    :param stop_on_timeout: stop the FATE job when the deadline passes (default True).
    :param target_statuses: job statuses that end the wait successfully (default ``["success"]``).
    :param not_found_timeout: seconds an unknown job is tolerated before an ``error`` event (default 60;
        None waits forever).
    :param cancel_on_kill: on Airflow 3.3+, stop the FATE job when the user marks the deferred task
        failed/success or clears it (default True).
    :param hook_params: hook parameters (timeouts, retries), as for the operators.
    """

    kind = "job"

    def __init__(self, *, job_id: str, role: str | None = None, party_id: int | None = None,
                 stop_on_timeout: bool = True, target_statuses: Sequence[str] | None = None,
                 cancel_on_kill: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = str(job_id)
        self.role = role
        self.party_id = None if party_id is None else int(party_id)
        self.stop_on_timeout = stop_on_timeout
        self.target_statuses = _statuses(target_statuses, JobStatus, [JobStatus.SUCCESS.value])
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{_MODULE}.JobStatusTrigger",
            {
                "job_id": self.job_id,
                "role": self.role,
                "party_id": self.party_id,
                "stop_on_timeout": self.stop_on_timeout,
                "target_statuses": list(self.target_statuses),
                "cancel_on_kill": self.cancel_on_kill,
                **self._base_kwargs(),
            },
        )

    def _ident(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "role": self.role, "party_id": self.party_id}

    async def _poll(self, client: Any, started: float) -> dict[str, Any] | None:
        rows = await client.job.query(job_id=self.job_id, role=self.role, party_id=self.party_id)
        if not rows:
            return await self._not_found(client, started, f"FATE job {self.job_id}", self.job_id,
                                         self.role, self.party_id)
        record = rows[0]
        status = record.status
        if status.value in self.target_statuses:
            return {"status": "success", "job_status": status.value,
                    "message": f"job {self.job_id} is {status.value}",
                    "record": compact_record(record.raw), **self._ident()}
        if status.is_terminal:
            # The failed components and FATE's error reports are fetched by the worker when it resumes
            # (execute_complete): the trigger keeps to one request per poll.
            return {"status": status.value, "reason": "job", "job_status": status.value,
                    "message": f"job {self.job_id} ended with status {status.value}",
                    "record": compact_record(record.raw), **self._ident()}
        return None

    async def _stop(self, client: Any, why: str) -> bool:
        try:
            await asyncio.wait_for(client.job.stop(self.job_id), STOP_TIMEOUT)
            self.log.warning("stopped FATE job %s (%s)", self.job_id, why)
            return True
        except Exception as err:  # best effort; the operator tries again
            self.log.warning("could not stop FATE job %s (%s): %s", self.job_id, why, err)
            return False

    async def _on_deadline(self, client: Any) -> dict[str, Any]:
        stopped = await self._stop(client, "deadline passed") if self.stop_on_timeout else False
        reason = self.deadline_reason or "deadline"
        return {"status": "timeout", "reason": reason, "stopped": stopped, "job_status": None,
                "message": f"FATE job {self.job_id} did not finish before its {reason}"
                           + (" and was stopped" if stopped else ""),
                **self._ident()}

    if AIRFLOW_V_3_3_PLUS:

        async def on_kill(self) -> None:
            """Stop the FATE job when the user marks the deferred task failed/success or clears it."""
            if not self.cancel_on_kill:
                return
            client = await self._client()
            try:
                await self._stop(client, "task killed by the user")
            finally:
                await client.aclose()


class TaskStatusTrigger(_PollingTrigger):
    """Wait until one component of a job reaches one of ``target_statuses`` (default success/pass).

    Event ``status``: ``success``, ``failed``/``canceled``/``timeout`` (the component ended otherwise),
    ``timeout`` (``reason`` ``deadline``) or ``error``; with ``job_id``, ``component_name``,
    ``task_status`` and the compact task ``record``.

    :param job_id: the FATE job id.
    :param component_name: the component (e.g. ``hetero_lr_0``).
    :param role: role of the task to watch (None: every party's task of the component must get there).
    :param party_id: party of the task to watch.
    :param target_statuses: task statuses that end the wait successfully (default success and pass).
    :param kwargs: ``fateflow_conn_id``, ``poll_interval``, ``deadline``, ``deadline_reason``,
        ``not_found_timeout``, ``hook_params``, as for :class:`JobStatusTrigger`.
    """

    kind = "task"

    def __init__(self, *, job_id: str, component_name: str, role: str | None = None, party_id: int | None = None,
                 target_statuses: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = str(job_id)
        self.component_name = component_name
        self.role = role
        self.party_id = None if party_id is None else int(party_id)
        self.target_statuses = _statuses(target_statuses, TaskStatus,
                                         [TaskStatus.SUCCESS.value, TaskStatus.PASS.value])

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{_MODULE}.TaskStatusTrigger",
            {
                "job_id": self.job_id,
                "component_name": self.component_name,
                "role": self.role,
                "party_id": self.party_id,
                "target_statuses": list(self.target_statuses),
                **self._base_kwargs(),
            },
        )

    def _ident(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "component_name": self.component_name, "role": self.role,
                "party_id": self.party_id}

    async def _poll(self, client: Any, started: float) -> dict[str, Any] | None:
        rows = await client.task.query(job_id=self.job_id, component_name=self.component_name,
                                       role=self.role, party_id=self.party_id)
        if not rows:
            return await self._not_found(client, started,
                                         f"component {self.component_name} of FATE job {self.job_id}",
                                         self.job_id, self.role, self.party_id)
        verdict, task = evaluate_tasks(rows, self.target_statuses)
        record = compact_record(task.raw, task=True)
        if verdict == "success":
            return {"status": "success", "task_status": task.status.value, "record": record,
                    "message": f"component {self.component_name} is {task.status.value}", **self._ident()}
        if verdict == "failed":
            status = task.status
            report = f": {summarize_retmsg(task.error_report, 300)}" if task.error_report else ""
            return {"status": status.value, "reason": "task", "task_status": status.value, "record": record,
                    "message": f"component {self.component_name} of job {self.job_id} ended with status "
                               f"{status.value} on {task.role}/{task.party_id}{report}", **self._ident()}
        return None


class TableExistsTrigger(_PollingTrigger):
    """Wait until a FATE table exists (optionally with at least ``min_rows`` rows).

    Event ``status``: ``success`` (with ``count``), ``timeout`` (``reason`` ``deadline``) or ``error``.

    :param namespace: table namespace.
    :param table_name: table name.
    :param min_rows: minimum row count (default None: existence is enough).
    :param kwargs: ``fateflow_conn_id``, ``poll_interval``, ``deadline``, ``deadline_reason``, ``hook_params``,
        as for :class:`JobStatusTrigger` (a missing table is what this trigger waits for: no ``not_found_timeout``).
    """

    kind = "table"

    def __init__(self, *, namespace: str, table_name: str, min_rows: int | None = None, **kwargs: Any) -> None:
        super().__init__(not_found_timeout=None, **kwargs)
        self.namespace = namespace
        self.table_name = table_name
        self.min_rows = None if min_rows is None else int(min_rows)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = self._base_kwargs()
        kwargs.pop("not_found_timeout")
        return (
            f"{_MODULE}.TableExistsTrigger",
            {"namespace": self.namespace, "table_name": self.table_name, "min_rows": self.min_rows, **kwargs},
        )

    def _ident(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "table_name": self.table_name}

    async def _poll(self, client: Any, started: float) -> dict[str, Any] | None:
        info = await client.table.info(self.namespace, self.table_name)
        if info.exists and (self.min_rows is None or (info.count or 0) >= self.min_rows):
            return {"status": "success", "count": info.count,
                    "message": f"table {self.namespace}/{self.table_name} exists with {info.count} rows",
                    **self._ident()}
        return None
