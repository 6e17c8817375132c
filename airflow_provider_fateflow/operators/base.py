"""What every FATE Flow operator shares, and the ONE job-waiting engine.

:class:`FateFlowBaseOperator` holds the connection id, the hook parameters passed through to
:class:`~airflow_provider_fateflow.hooks.fateflow.FateFlowHook` and a cached hook.

:class:`FateFlowJobOperator` is the engine reused by every operator that starts a FATE job
(submit, upload, server-side download, model store/restore, rerun):

1. validate the inputs (no request is sent for bad input);
2. submit, or **reattach** to the job an earlier try of the same task already submitted: on
   Airflow 3.3+ its id is kept in the task state store, otherwise (and after a crash between submit
   and persist) it is found again by the marker the provider writes into the job
   (``dag_id/task_id/run_id/map_index/s<series>``). A job still waiting/running or already successful
   is reattached; after a terminal failure a new job is submitted. ``<series>`` is the first try number
   of the current retry series, so *clearing* a task submits a new job while *retrying* reattaches.
   When FATE Flow cannot say whether the earlier job exists (a transient error), the try fails rather
   than risk a second job.
   When a submit's answer is lost and the server says it has no job with that marker, the job is
   submitted again with the same marker (up to ``retry_limit`` times; not after a read timeout);
3. push ``job_id`` and ``board_url`` to XCom (the FATE Board extra link reads ``board_url``);
4. wait: poll in the worker, or defer to :class:`~airflow_provider_fateflow.triggers.fateflow.JobStatusTrigger`
   (the state is checked once before deferring; the job ``timeout`` and ``execution_timeout`` become an
   epoch deadline carried into the trigger; on the deadline the FATE job is stopped and the task fails).
   Both judge with :mod:`airflow_provider_fateflow.client.wait`, as the sensors do, and end in the same
   :meth:`FateFlowJobOperator._complete`. While polling, FATE Flow being unreachable or busy (transient
   errors, after the client's retries) is logged and waited out until the deadline, as the trigger does;
5. on failure, log which components failed on which party (FATE's error report first) and the board
   link, then raise the client's :class:`FateFlowJobFailedError` / ``CanceledError`` / ``TimeoutError``
   (:class:`FateFlowDeadlineError` when the wait's own deadline passed).

A failed, canceled or timed-out job is an ordinary exception, so Airflow's ``retries`` apply (a retry of a
failed job submits a new one). Failures a retry cannot fix (bad input, refused credentials) fail the task
without a retry (:func:`airflow_provider_fateflow.common.task_error`).
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_fateflow.client.board import board_url
from airflow_provider_fateflow.client.errors import (
    FateFlowAmbiguousSubmitError,
    FateFlowError,
    FateFlowInputError,
    FateFlowTimeoutError,
)
from airflow_provider_fateflow.client.wait import (
    JobWatch,
    Progress,
    WaitClock,
    WaitEvent,
    failure_report,
    poll,
    progress_line,
    watched_row,
)
from airflow_provider_fateflow.common import FateFlowTaskMixin, default_deferrable, hook_for, hook_params_checked
from airflow_provider_fateflow.hooks.fateflow import DEFAULT_CONN_ID, FateFlowHook
from airflow_provider_fateflow.links.fateboard import JOB_ID_XCOM_KEY, FateBoardLink
from airflow_provider_fateflow.version_compat import AIRFLOW_V_3_3_PLUS

if TYPE_CHECKING:
    from airflow.sdk import Context

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]

__all__ = [
    "FateFlowBaseOperator",
    "FateFlowJobOperator",
    "JobRef",
    "STATE_STORE_KEY",
    "AirflowSkipException",
    "default_deferrable",
    "as_seconds",
]

#: Task-state-store key (Airflow 3.3+) holding the submitted job of the task instance.
STATE_STORE_KEY = "fateflow_job_id"
#: Seconds a job that was just submitted may be missing from ``job/query`` before it counts as gone.
DEFAULT_NOT_FOUND_GRACE = 60.0


def as_seconds(value: float | timedelta | None, what: str) -> float | None:
    """Seconds from a number or a timedelta; ``None`` stays ``None``.

    :raises FateFlowInputError: not a positive number.
    """
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise FateFlowInputError(f"{what} must be a number of seconds or a timedelta, got {value!r}") from None
    if seconds <= 0:
        raise FateFlowInputError(f"{what} must be positive, got {value!r}")
    return seconds


@dataclass
class JobRef:
    """A FATE job a task is attached to: where to query it, and its board link.

    Plain JSON (``to_dict``/``from_dict``) so it crosses the trigger and the task state store.

    :param stale_end_time: after a rerun, the job's end time (ms) before it (see
        :class:`~airflow_provider_fateflow.client.wait.JobWatch`).
    :param stale_until: epoch seconds until which ``stale_end_time`` applies.
    """

    job_id: str
    role: str | None
    party_id: int | None
    board_url: str | None = None
    created: float | None = None  # epoch seconds of the job's creation, when known
    marker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stale_end_time: int | None = None
    stale_until: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobRef:
        known = {k: data[k] for k in ("job_id", "role", "party_id", "board_url", "created", "marker", "extra",
                                      "stale_end_time", "stale_until") if k in data}
        ref = cls(**known)
        ref.job_id = str(ref.job_id)
        ref.party_id = None if ref.party_id is None else int(ref.party_id)
        ref.extra = dict(ref.extra or {})
        return ref


class FateFlowBaseOperator(FateFlowTaskMixin, BaseOperator):
    """Base of every FATE Flow operator: a connection id, hook parameters and a cached hook.

    :param fateflow_conn_id: Airflow connection of type ``fateflow`` (default ``fateflow_default``).
    :param hook_params: passed to :class:`FateFlowHook`: ``connect_timeout``, ``read_timeout``,
        ``download_timeout`` (seconds), ``max_extract_bytes``, ``retry_limit`` (total tries of a safe request),
        ``retry_delay``, ``retry_max_delay`` (seconds).
    """

    template_fields: Sequence[str] = ("fateflow_conn_id",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        fateflow_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fateflow_conn_id = fateflow_conn_id
        self.hook_params = hook_params

    def _hook_kwargs(self) -> dict[str, Any]:
        return hook_params_checked(self.hook_params)

    @cached_property
    def hook(self) -> FateFlowHook:
        """The hook (one HTTP session for the whole try)."""
        return hook_for(self.fateflow_conn_id, self.hook_params)

    def _party(self, role: str | None, party_id: Any) -> tuple[str, int]:
        """``role``/``party_id``, defaulting to the connection's initiator (clear error otherwise)."""
        role = role or self.hook.config.initiator_role
        if party_id in (None, ""):
            party_id = self.hook.config.initiator_party_id
        if not role or party_id in (None, ""):
            raise FateFlowInputError(
                "role and party_id are required: pass them, or set initiator_role/initiator_party_id "
                f"in connection {self.fateflow_conn_id!r}"
            )
        try:
            return str(role), int(party_id)
        except (TypeError, ValueError):
            raise FateFlowInputError(f"party_id must be an integer, got {party_id!r}") from None

    def _board_url(self, job_id: str, role: str | None, party_id: Any) -> str | None:
        """The FATE Board link of ``job_id`` as ``role``/``party_id`` sees it (None without a board URL)."""
        try:
            base = self.hook.config.board_url
        except Exception:
            return None
        return board_url(base, job_id=job_id, role=role, party_id=party_id) if base else None


class FateFlowJobOperator(FateFlowBaseOperator):
    """The job-waiting engine (see the module docstring). Subclasses implement ``_submit``.

    :param wait_for_completion: wait until the job ends (default True); False returns after submit.
    :param deferrable: wait in the triggerer instead of the worker (default
        ``[operators] default_deferrable``). The job state is checked once before deferring.
    :param poll_interval: seconds between two status queries (default 10).
    :param timeout: job deadline in seconds (or a timedelta) counted from the job's creation; when it
        passes, the FATE job is stopped (``stop_on_timeout``) and the task fails with
        :class:`FateFlowDeadlineError`. Default None (no deadline besides ``execution_timeout``).
    :param stop_on_timeout: stop the FATE job when ``timeout`` or, in deferrable mode,
        ``execution_timeout`` passes (default True).
    :param cancel_on_kill: stop the FATE job when the task is killed (``on_kill``; on Airflow 3.3+ also
        when a deferred task is marked failed/success or cleared). Default True.
    :param reattach: on a retry, reattach to the job an earlier try submitted when it is still
        running or has succeeded (default True).
    """

    operator_extra_links = (FateBoardLink(),)

    #: Kind of job, for messages.
    job_kind: ClassVar[str] = "job"
    #: Whether :meth:`_find_by_marker` can locate this kind of job (job.submit writes the marker).
    marker_lookup: ClassVar[bool] = True

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = 10.0,
        timeout: float | timedelta | None = None,
        stop_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        reattach: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.stop_on_timeout = stop_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.reattach = reattach
        self._job_ref: JobRef | None = None
        self._progress = Progress()
        if deferrable and not wait_for_completion:
            self.log.warning("deferrable=True has no effect when wait_for_completion=False")

    # -- to implement ---------------------------------------------------------------------------------
    def _validate(self, context: Context) -> None:
        """Check rendered inputs; raise :class:`FateFlowInputError` before any request."""

    def _submit(self, context: Context, marker: str) -> JobRef:
        """Start the job and return where to query it."""
        raise NotImplementedError

    def _lookup_party(self, context: Context) -> tuple[str, int] | None:
        """Role and party the job is queried with (for the marker lookup before a resubmit)."""
        return None

    def _result(self, context: Context, ref: JobRef, waited: bool) -> Any:
        """The task's return value once the job succeeded (``waited``) or right after submit (not waiting)."""
        return ref.job_id

    def _extra_xcom(self, ref: JobRef) -> dict[str, Any]:
        """More XComs to push after submit (e.g. model id and version)."""
        return {}

    # -- the engine -------------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        self._validate(context)
        poll_interval = as_seconds(self.poll_interval, "poll_interval")
        ref = self._attach_or_submit(context)
        self._job_ref = ref
        self._push_job_xcoms(context, ref)
        if not self.wait_for_completion:
            self.log.info("Not waiting for FATE %s %s (wait_for_completion=False).", self.job_kind, ref.job_id)
            return self._result(context, ref, waited=False)

        deadline, why = self._deadline(context, ref)
        watch = self._watch(ref)
        clock = WaitClock(poll_interval, deadline, why)
        first = self._poll_once(watch, clock)
        if not isinstance(first, WaitEvent) and self.deferrable:
            from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger

            self.log.info("Deferring: waiting for FATE %s %s in the triggerer.", self.job_kind, ref.job_id)
            self.defer(
                trigger=JobStatusTrigger(
                    job_id=ref.job_id,
                    role=ref.role,
                    party_id=ref.party_id,
                    fateflow_conn_id=self.fateflow_conn_id,
                    poll_interval=poll_interval,
                    deadline=deadline,
                    deadline_reason=why,
                    stop_on_timeout=self.stop_on_timeout,
                    cancel_on_kill=self.cancel_on_kill,
                    hook_params=self._hook_kwargs() or None,
                    stale_end_time=ref.stale_end_time,
                    stale_until=ref.stale_until,
                ),
                method_name="execute_complete",
                kwargs={"job": ref.to_dict()},
                timeout=None,  # the deadline lives in the trigger, so the FATE job gets stopped
            )
        return self._complete(context, ref, self._wait_in_worker(ref, watch, clock, first))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         job: dict[str, Any] | None = None) -> Any:
        """Resume after :class:`JobStatusTrigger`: return the result, or raise with FATE's reason."""
        waited = WaitEvent.from_dict(event)
        ref = JobRef.from_dict(job or {"job_id": waited.job_id, "role": waited.role, "party_id": waited.party_id})
        self._job_ref = ref
        self.remember_board_url(context, ref.board_url, push=False)
        return self._complete(context, ref, waited)

    def on_kill(self) -> None:
        """Stop the FATE job (best effort: logged, never raises)."""
        ref = self._job_ref
        if ref is None or not self.cancel_on_kill:
            return
        self._stop_quietly(ref, "task killed")

    # -- pieces ---------------------------------------------------------------------------------------------
    def _watch(self, ref: JobRef) -> JobWatch:
        return JobWatch(job_id=ref.job_id, role=ref.role, party_id=ref.party_id,
                        not_found_timeout=DEFAULT_NOT_FOUND_GRACE, stale_end_time=ref.stale_end_time,
                        stale_until=ref.stale_until)

    def _poll(self, watch: JobWatch, clock: WaitClock) -> tuple[WaitEvent | None, Any]:
        """One poll of the job, judged (:func:`~airflow_provider_fateflow.client.wait.poll`); raises failures."""
        return poll(self.hook, watch, clock.waited())

    def _poll_once(self, watch: JobWatch, clock: WaitClock) -> WaitEvent | FateFlowError | None:
        """One poll: the event when the wait is over, a transient error (FATE Flow down or busy: waited out,
        as the trigger does), or None; each change of the job's state is logged once."""
        try:
            event, answer = self._poll(watch, clock)
        except FateFlowError as err:
            if not err.transient:
                raise
            return err
        if event is None:
            line = progress_line(self._progress, self.hook, watch, answer)
            if line:
                self.log.info("%s", line)
        return event

    def _wait_in_worker(self, ref: JobRef, watch: JobWatch, clock: WaitClock,
                        first: WaitEvent | FateFlowError | None) -> WaitEvent:
        """Poll until the job ends or the deadline passes (then the job is stopped, ``stop_on_timeout``)."""
        outcome = first
        while not isinstance(outcome, WaitEvent):
            if isinstance(outcome, FateFlowError):
                delay = clock.backoff()
                self.log.warning("Could not get the status of FATE %s %s (%s); trying again in %.0f s.",
                                 self.job_kind, ref.job_id, outcome, delay)
            else:
                delay = clock.next_sleep()
            time.sleep(delay)
            if clock.passed():
                stopped = self._stop_quietly(ref, f"{clock.deadline_reason or 'deadline'} passed") \
                    if self.stop_on_timeout else False
                return clock.deadline_event(watch, stopped)
            outcome = self._poll_once(watch, clock)
        return outcome

    def _complete(self, context: Context, ref: JobRef, event: WaitEvent) -> Any:
        """The end of every wait (in the worker or after the trigger): the result, or FATE's reason raised."""
        if event.succeeded:
            self.log.info("FATE %s %s succeeded.", self.job_kind, ref.job_id)
            return self._result(context, ref, waited=True)
        if event.outcome.value == "deadline" and self.stop_on_timeout and not event.stopped:
            self._stop_quietly(ref, "deadline passed")
        reason = None
        if event.job_ended:
            reason = failure_report(self.hook.task, ref.job_id, event.status or event.outcome.value, self.log,
                                    ref.board_url) or None
        raise event.exception_with(reason)  # type: ignore[misc]

    def _stop_quietly(self, ref: JobRef, why: str) -> bool:
        """Stop the FATE job (best effort); whether FATE accepted the stop."""
        try:
            self.log.warning("Stopping FATE %s %s (%s).", self.job_kind, ref.job_id, why)
            message = self.hook.job.stop(ref.job_id)
            self.log.info("FATE answered: %s", message)
            return True
        except Exception as err:  # best effort
            self.log.warning("Could not stop FATE %s %s: %s", self.job_kind, ref.job_id, err)
            return False

    def _push_job_xcoms(self, context: Context, ref: JobRef) -> None:
        ti = context["ti"]
        ti.xcom_push(key=JOB_ID_XCOM_KEY, value=ref.job_id)
        self.remember_board_url(context, ref.board_url)
        for key, value in self._extra_xcom(ref).items():
            if value is not None:
                ti.xcom_push(key=key, value=value)
        self.log.info("FATE %s %s%s", self.job_kind, ref.job_id, f" - FATE Board: {ref.board_url}" if ref.board_url else "")

    @staticmethod
    def _series(context: Context, task: BaseOperator) -> int:
        """First try number of the current retry series (changes when the task is cleared)."""
        ti = context["ti"]
        try:
            return int(ti.max_tries) - int(task.retries or 0) + 1
        except (AttributeError, TypeError, ValueError):
            return 1

    def _marker(self, context: Context) -> str:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        map_index = -1 if map_index is None else map_index
        return f"{ti.dag_id}/{ti.task_id}/{ti.run_id}/{map_index}/s{self._series(context, self)}"

    def _is_retry(self, context: Context) -> bool:
        try:
            return int(context["ti"].try_number) > self._series(context, self)
        except (AttributeError, TypeError, ValueError):
            return True

    def _since_ms(self, context: Context) -> int:
        """Lower bound of the submit time of an earlier try (the DAG run's start)."""
        dag_run = context.get("dag_run")
        start = getattr(dag_run, "start_date", None) or getattr(context.get("ti"), "start_date", None)
        if isinstance(start, datetime):
            return int(start.timestamp() * 1000) - 60_000
        return int((time.time() - 7 * 86400) * 1000)

    def _find_by_marker(self, context: Context, marker: str) -> JobRef | None:
        party = self._lookup_party(context)
        if not self.marker_lookup or party is None:
            return None
        try:
            record = self.hook.job.find_by_marker(marker, role=party[0], party_id=party[1],
                                                  since_ms=self._since_ms(context))
        except FateFlowError as err:
            if err.transient:  # FATE Flow could not say: a new job might duplicate the earlier one
                raise
            self.log.warning("Could not look for an earlier job by marker %s: %s", marker, err)
            return None
        if record is None:
            return None
        return JobRef(job_id=record.job_id, role=party[0], party_id=party[1], marker=marker,
                      board_url=self._board_url(record.job_id, party[0], party[1]),
                      extra={"model_id": record.model_id, "model_version": record.model_version})

    def _attach_or_submit(self, context: Context) -> JobRef:
        marker = self._marker(context)
        store = context.get("task_state_store") if AIRFLOW_V_3_3_PLUS else None
        if self.reattach:
            prior: JobRef | None = None
            if store is not None:
                try:
                    saved = store.get(STATE_STORE_KEY)
                except Exception as err:
                    self.log.warning("Could not read the task state store: %s", err)
                    saved = None
                if isinstance(saved, Mapping) and saved.get("marker") == marker:
                    prior = JobRef.from_dict(saved)
            if prior is None and self._is_retry(context):
                prior = self._find_by_marker(context, marker)
            if prior is not None:
                reattached = self._check_prior(prior)
                if reattached is not None:
                    return reattached
        ref = self._submit_unambiguously(context, marker)
        ref.marker = marker
        if store is not None:
            try:
                store.set(STATE_STORE_KEY, ref.to_dict())
            except Exception as err:
                self.log.warning("Could not save job %s in the task state store: %s", ref.job_id, err)
        return ref

    def _submit_unambiguously(self, context: Context, marker: str) -> JobRef:
        """``_submit``; when its answer was lost and the client found no job it created, submit again.

        The client has already looked for the job (by marker or table) after the lost answer: a job
        the server says it does not have, after the recovery delays, was most likely never created (the
        server refused or dropped the request before processing it), so submitting again with the same
        marker is what a retry of the task would do, without failing the task. Not when that lookup
        failed too (the server could not say), nor after a read timeout (the server may still be
        creating the job): that error is raised. At most ``retry_limit`` submits.
        """
        attempts = max(1, self.hook.config.retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self._submit(context, marker)
            except FateFlowAmbiguousSubmitError as err:
                if attempt >= attempts or not err.searched or isinstance(err.cause, FateFlowTimeoutError):
                    raise
                self.log.warning("Submit %d of %d of the FATE %s: %s. Submitting again.", attempt, attempts,
                                 self.job_kind, err)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_prior(self, prior: JobRef) -> JobRef | None:
        try:
            rows = self.hook.job.query(job_id=prior.job_id, role=prior.role, party_id=prior.party_id)
        except FateFlowError as err:
            if err.transient:  # FATE Flow could not say: a new job might duplicate the earlier one
                raise
            self.log.warning("Could not query earlier FATE %s %s (%s); submitting a new one.", self.job_kind,
                             prior.job_id, err)
            return None
        record = watched_row(rows, prior.role, prior.party_id)
        if record is None:
            self.log.warning("Earlier FATE %s %s no longer exists; submitting a new one.", self.job_kind,
                             prior.job_id)
            return None
        if record.status.is_success or not record.status.is_terminal:
            self.log.info("Reattaching to FATE %s %s submitted by an earlier try (status %s).", self.job_kind,
                          prior.job_id, record.status_raw)
            if record.create_time:
                prior.created = record.create_time / 1000.0
            return prior
        self.log.warning("Earlier FATE %s %s ended %s; submitting a new one.", self.job_kind, prior.job_id,
                         record.status_raw)
        return None

    def _deadline(self, context: Context, ref: JobRef) -> tuple[float | None, str | None]:
        """Epoch-seconds deadline of the wait, and which limit sets it."""
        candidates: list[tuple[float, str]] = []
        job_timeout = as_seconds(self.timeout, "timeout")
        if job_timeout:
            candidates.append(((ref.created or time.time()) + job_timeout, "deadline"))
        if self.deferrable and self.execution_timeout:
            start = getattr(context.get("ti"), "start_date", None)
            began = start.timestamp() if isinstance(start, datetime) else time.time()
            candidates.append((began + self.execution_timeout.total_seconds(), "execution_timeout"))
        if not candidates:
            return None, None
        return min(candidates)
