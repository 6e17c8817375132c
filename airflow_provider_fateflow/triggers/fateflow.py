"""Async waiting in the triggerer: one event per wait.

Every trigger here runs the same linear loop over :mod:`airflow_provider_fateflow.client.wait` (the one place
that judges job, task and table states, shared with the sensors' pokes and the operators' in-worker wait):

- **one** async client per ``run()`` (the connection is read with ``aget_connection``, never the blocking
  call), closed when the run ends;
- **one** request per poll (:func:`~airflow_provider_fateflow.client.wait.apoll`), ``asyncio.sleep`` between
  polls (never blocks the event loop);
- **exactly one** :class:`TriggerEvent`, whose payload is :meth:`WaitEvent.to_dict
  <airflow_provider_fateflow.client.wait.WaitEvent.to_dict>` (documented in docs/operators.md);
- idempotent: it only reads state (plus a stop on its deadline), so it can run twice or move between
  triggerers; deadlines are epoch seconds, which hold across processes and hosts.

Transient failures (connection refused or dropped, timeouts, HTTP 5xx/429) are waited out with a doubling
backoff (at most :data:`~airflow_provider_fateflow.client.wait.MAX_BACKOFF` seconds, never past the
deadline): a FATE Flow restart must not fail every deferred task. Any other exception becomes one ``error``
event that keeps the exception's type. Each change of what is awaited (the job's status and progress, the
component's statuses, the table's rows) is logged once, not at every poll.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_fateflow.client.errors import FateFlowError
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus
from airflow_provider_fateflow.client.wait import (
    MAX_BACKOFF,
    JobWatch,
    Progress,
    TableWatch,
    TaskWatch,
    WaitClock,
    apoll,
    wants_components,
    with_components,
    error_event,
    statuses,
)
from airflow_provider_fateflow.common import hook_for
from airflow_provider_fateflow.hooks.fateflow import DEFAULT_CONN_ID
from airflow_provider_fateflow.version_compat import AIRFLOW_V_3_3_PLUS

__all__ = ["JobStatusTrigger", "TaskStatusTrigger", "TableExistsTrigger", "MAX_BACKOFF"]

#: Longest random delay (seconds) before a trigger's first poll, to spread simultaneous starts.
MAX_START_JITTER = 5.0
#: Seconds a trigger keeps trying to read its connection (the metadata database may be restarting).
CONNECTION_GRACE = 300.0
#: Seconds ``on_kill``/the deadline stop may take.
STOP_TIMEOUT = 60.0
_MODULE = __name__
#: A task state that could not be read.
_UNKNOWN = object()


class _WaitTrigger(BaseTrigger):
    """The loop every trigger shares; subclasses say what they watch (:meth:`watch`).

    Takes the keyword arguments every trigger shares (``fateflow_conn_id``, ``poll_interval``, ``deadline``,
    ``deadline_reason``, ``not_found_timeout``, ``hook_params``); subclasses pass them on as ``**kwargs``.
    """

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

    def watch(self) -> JobWatch | TaskWatch | TableWatch:
        raise NotImplementedError

    async def _client(self) -> Any:
        """One async client for this run; the connection is read asynchronously (``aget_connection``)."""
        return await hook_for(self.fateflow_conn_id, self.hook_params).aget_client()

    async def _on_deadline(self, client: Any) -> bool:
        """What to do when the deadline passes; returns whether the FATE job was stopped."""
        return False

    async def _connect(self, watch: Any, clock: WaitClock) -> Any:
        """The client, reading the connection; while Airflow's metadata database is away (a PostgreSQL
        restart makes the lookup fail, even with "conn_id isn't defined") the lookup is tried again with
        backoff for up to :data:`CONNECTION_GRACE` seconds (never past the deadline). A connection whose
        fields are wrong fails at once."""
        from airflow_provider_fateflow.client.errors import FateFlowInputError

        first = time.time()
        while True:
            try:
                return await self._client()
            except FateFlowInputError:
                raise
            except Exception as err:
                if time.time() - first >= CONNECTION_GRACE or clock.passed():
                    raise
                delay = clock.backoff()
                self.log.warning("%s: could not read connection %r (%s: %s); trying again in %.0f s", watch.what,
                                 self.fateflow_conn_id, type(err).__name__, err, delay)
                await asyncio.sleep(delay)

    async def _log_components(self, client: Any, watch: Any, line: str) -> None:
        """Log ``line`` with the job's running components (the line alone when they cannot be read)."""
        try:
            tasks = await client.task.query(job_id=watch.job_id, role=watch.role, party_id=watch.party_id,
                                            status="running")
        except FateFlowError:
            tasks = []
        self.log.info("%s", with_components(line, tasks))

    async def _poll(self, client: Any, watch: Any, waited: float) -> tuple[Any, Any]:
        """One poll, judged (:func:`~airflow_provider_fateflow.client.wait.apoll`): one request."""
        return await apoll(client, watch, waited)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = self.watch()
        clock = WaitClock(self.poll_interval, self.deadline, self.deadline_reason)
        client = None
        progress = Progress()
        pending: str | None = None  # a change line waiting for the next poll to name the running components
        try:
            # Spread the starts (and so the polls) of many triggers deferred at once over the poll interval:
            # building a client costs ~1 ms of CPU, and a thousand in one loop step would stall it. The task
            # checked the state just before deferring, so the first poll can wait a little.
            await asyncio.sleep(random.uniform(0.0, min(self.poll_interval, MAX_START_JITTER)))
            client = await self._connect(watch, clock)
            while True:
                if clock.passed():
                    event = clock.deadline_event(watch, stopped=await self._on_deadline(client))
                    break
                if pending is not None:  # this poll asks which components run instead (one request per poll)
                    await self._log_components(client, watch, pending)
                    pending = None
                    await asyncio.sleep(clock.next_sleep())
                    continue
                try:
                    event, answer = await self._poll(client, watch, clock.waited())
                except FateFlowError as err:
                    if not err.transient:
                        raise
                    delay = clock.backoff()
                    self.log.warning("%s: FATE Flow unreachable or busy (%s); trying again in %.0f s",
                                     watch.what, err, delay)
                    await asyncio.sleep(delay)
                    continue
                if event is not None:
                    break
                line = progress.change(watch, answer)
                if line and wants_components(watch, answer):
                    pending = line
                elif line:
                    self.log.info("%s", line)
                # the answer (every party's row, conf and DSL included) must not live through the sleep: a
                # thousand waits would hold a thousand of them, and the garbage collector would walk them all
                answer = None
                await asyncio.sleep(clock.next_sleep())
        except Exception as err:  # one "error" event, never an exception out of the triggerer
            event = error_event(watch, err)
        finally:
            if client is not None:
                try:
                    await client.aclose()
                except Exception as err:  # pragma: no cover - closing must not hide the event
                    self.log.debug("closing the FATE Flow client failed: %s", err)
        self.log.info("%s (%s)", event.message, event.outcome.value)
        yield TriggerEvent(event.to_dict())


class JobStatusTrigger(_WaitTrigger):
    """Wait until a FATE job reaches one of ``target_statuses`` (default ``success``).

    The event (:class:`~airflow_provider_fateflow.client.wait.WaitEvent`) has the outcome ``succeeded``,
    ``failed``/``canceled``/``job_timed_out`` (the job ended in a status that is not a target), ``deadline``
    (``stopped`` says whether the job was stopped), ``not_found``, ``wrong_party`` or ``error``, with the
    watched row in ``record`` (plain names, no conf or DSL). The failed components are looked up by the
    resumed task, so that every poll is exactly one request.

    :param job_id: the FATE job id.
    :param role: role to query the job with (None: the initiator's row, which has the authoritative status).
    :param party_id: party to query the job with.
    :param fateflow_conn_id: the Airflow connection.
    :param poll_interval: seconds between polls (default 10).
    :param deadline: epoch seconds after which the wait ends with a ``deadline`` event (default None).
    :param deadline_reason: ``"deadline"`` (the job timeout), ``"execution_timeout"`` or ``"sensor_timeout"``.
    :param stop_on_timeout: stop the FATE job when the deadline passes (default True).
    :param target_statuses: job statuses that end the wait successfully (default ``["success"]``).
    :param not_found_timeout: seconds an unknown job is tolerated before a ``not_found`` event (default 60;
        None waits forever).
    :param cancel_on_kill: on Airflow 3.3+, stop the FATE job when the user marks the deferred task
        failed/success or clears it (default True).
    :param stale_end_time: after a rerun: the job's end time (ms) before it; an end status that old is the
        previous run's and is not judged (see :class:`~airflow_provider_fateflow.client.wait.JobWatch`).
    :param stale_until: epoch seconds until which ``stale_end_time`` applies.
    :param hook_params: hook parameters (timeouts, retries), as for the operators.
    """

    def __init__(self, *, job_id: str, role: str | None = None, party_id: int | None = None,
                 stop_on_timeout: bool = True, target_statuses: Sequence[str] | None = None,
                 cancel_on_kill: bool = True, stale_end_time: int | None = None, stale_until: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = str(job_id)
        self.role = role
        self.party_id = None if party_id is None else int(party_id)
        self.stop_on_timeout = stop_on_timeout
        self.target_statuses = list(statuses(target_statuses, JobStatus, [JobStatus.SUCCESS], "target_statuses"))
        self.cancel_on_kill = cancel_on_kill
        self.stale_end_time = None if stale_end_time is None else int(stale_end_time)
        self.stale_until = None if stale_until is None else float(stale_until)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {
            "job_id": self.job_id,
            "role": self.role,
            "party_id": self.party_id,
            "stop_on_timeout": self.stop_on_timeout,
            "target_statuses": list(self.target_statuses),
            "cancel_on_kill": self.cancel_on_kill,
            **self._base_kwargs(),
        }
        if self.stale_end_time is not None:  # only after a rerun: earlier releases' kwargs stay as they were
            kwargs.update(stale_end_time=self.stale_end_time, stale_until=self.stale_until)
        return f"{_MODULE}.JobStatusTrigger", kwargs

    def watch(self) -> JobWatch:
        return JobWatch(job_id=self.job_id, role=self.role, party_id=self.party_id,
                        targets=tuple(self.target_statuses), not_found_timeout=self.not_found_timeout,
                        stale_end_time=self.stale_end_time, stale_until=self.stale_until)

    async def _stop(self, client: Any, why: str) -> bool:
        try:
            await asyncio.wait_for(client.job.stop(self.job_id), STOP_TIMEOUT)
            self.log.warning("stopped FATE job %s (%s)", self.job_id, why)
            return True
        except Exception as err:  # best effort; the operator tries again
            self.log.warning("could not stop FATE job %s (%s): %s", self.job_id, why, err)
            return False

    async def _on_deadline(self, client: Any) -> bool:
        return await self._stop(client, "deadline passed") if self.stop_on_timeout else False

    if AIRFLOW_V_3_3_PLUS:

        async def on_kill(self) -> None:
            """Stop the FATE job when the user marks the deferred task failed/success or clears it.

            Airflow 3.3 also calls ``on_kill`` on a triggerer that loses a trigger to another one (it cancels
            triggers no longer assigned to it with the same "user action" message): the task is then still
            deferred, its wait goes on elsewhere, and the FATE job must not be stopped. So the job is stopped
            only when the task instance has left the deferred state (or, outside a triggerer, when there is
            no task instance to ask); when its state cannot be read, the job is left running.
            """
            if not self.cancel_on_kill:
                return
            state = await self._task_state()
            if state == "deferred" or state is _UNKNOWN:
                self.log.warning("not stopping FATE job %s: its task is %s (the wait moved to another triggerer?)",
                                 self.job_id, "still deferred" if state == "deferred" else "in an unknown state")
                return
            client = await self._client()
            try:
                await self._stop(client, "task killed by the user")
            finally:
                await client.aclose()

        async def _task_state(self) -> Any:
            """The deferred task instance's state now: a state word, None (no task instance), or _UNKNOWN."""
            ti = self.task_instance
            if ti is None:
                return None
            try:
                from asgiref.sync import sync_to_async
                from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

                states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
                    dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=ti.map_index)
                by_task = states.get(ti.run_id) or {}
                state = by_task.get(ti.task_id, by_task.get(f"{ti.task_id}_{ti.map_index}", _UNKNOWN))
                return getattr(state, "value", state)
            except Exception as err:  # never stop a job on a guess
                self.log.warning("could not read the state of task %s: %s", ti.task_id, err)
                return _UNKNOWN


class TaskStatusTrigger(_WaitTrigger):
    """Wait until one component of a job reaches one of ``target_statuses`` (default success/pass).

    Outcomes as for :class:`JobStatusTrigger` (without a stop on the deadline); ``record`` is the task row
    that decided (its FATE error report cut at 4,000 characters).

    :param job_id: the FATE job id.
    :param component_name: the component (e.g. ``hetero_lr_0``).
    :param role: role of the task to watch (None: every party's task of the component must get there).
    :param party_id: party of the task to watch.
    :param target_statuses: task statuses that end the wait successfully (default success and pass).
    :param kwargs: ``fateflow_conn_id``, ``poll_interval``, ``deadline``, ``deadline_reason``,
        ``not_found_timeout``, ``hook_params``, as for :class:`JobStatusTrigger`.
    """

    def __init__(self, *, job_id: str, component_name: str, role: str | None = None, party_id: int | None = None,
                 target_statuses: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = str(job_id)
        self.component_name = component_name
        self.role = role
        self.party_id = None if party_id is None else int(party_id)
        self.target_statuses = list(statuses(target_statuses, TaskStatus, [TaskStatus.SUCCESS, TaskStatus.PASS],
                                             "target_statuses"))

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

    def watch(self) -> TaskWatch:
        return TaskWatch(job_id=self.job_id, component_name=self.component_name, role=self.role,
                         party_id=self.party_id, targets=tuple(self.target_statuses),
                         not_found_timeout=self.not_found_timeout)


class TableExistsTrigger(_WaitTrigger):
    """Wait until a FATE table exists (optionally with at least ``min_rows`` rows).

    Outcomes ``succeeded`` (with ``count``), ``deadline`` or ``error``.

    :param namespace: table namespace.
    :param table_name: table name.
    :param min_rows: minimum row count (default None: existence is enough).
    :param kwargs: ``fateflow_conn_id``, ``poll_interval``, ``deadline``, ``deadline_reason``, ``hook_params``,
        as for :class:`JobStatusTrigger` (a missing table is what this trigger waits for: no ``not_found_timeout``).
    """

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

    def watch(self) -> TableWatch:
        return TableWatch(namespace=self.namespace, table_name=self.table_name, min_rows=self.min_rows)
