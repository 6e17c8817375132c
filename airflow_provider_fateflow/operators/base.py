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
   While polling, FATE Flow being unreachable or busy (transient errors, after the client's retries) is
   logged and waited out until the deadline, as the trigger does;
5. on failure, log which components failed on which party with FATE's error report and the board
   link, then raise the client's :class:`FateFlowJobFailedError` / ``CanceledError`` / ``TimeoutError``.

FATE errors are raised as they are: they are ordinary exceptions, so Airflow's ``retries`` apply (a
retry of a failed job submits a new one). Use ``retries=0`` or a retry policy on the exception type to
decide otherwise.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.configuration import conf
from airflow.sdk import BaseOperator

from airflow_provider_fateflow.client.errors import (
    FateFlowAmbiguousSubmitError,
    FateFlowError,
    FateFlowInputError,
    FateFlowJobCanceledError,
    FateFlowJobError,
    FateFlowJobFailedError,
    FateFlowJobTimeoutError,
    FateFlowNotFoundError,
    FateFlowTimeoutError,
    summarize_retmsg,
)
from airflow_provider_fateflow.client.status import JobStatus
from airflow_provider_fateflow.hooks.fateflow import DEFAULT_CONN_ID, FateFlowHook
from airflow_provider_fateflow.links.fateboard import (
    BOARD_URL_XCOM_KEY,
    JOB_ID_XCOM_KEY,
    FateBoardLink,
    build_board_url,
    role_party_from_board_url,
)
from airflow_provider_fateflow.version_compat import AIRFLOW_V_3_3_PLUS

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_fateflow.client.results import JobRecord

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]

__all__ = [
    "FateFlowBaseOperator",
    "FateFlowJobOperator",
    "JobRef",
    "HOOK_PARAM_NAMES",
    "STATE_STORE_KEY",
    "AirflowSkipException",
    "default_deferrable",
    "job_error",
    "failure_report",
    "as_seconds",
]

#: Keys accepted in ``hook_params`` (passed to :class:`FateFlowHook`).
HOOK_PARAM_NAMES = frozenset({
    "connect_timeout", "read_timeout", "download_timeout", "max_extract_bytes",
    "retry_limit", "retry_delay", "retry_max_delay",
})
#: Task-state-store key (Airflow 3.3+) holding the submitted job of the task instance.
STATE_STORE_KEY = "fateflow_job_id"
#: Seconds a job that was just submitted may be missing from ``job/query`` before it counts as gone.
DEFAULT_NOT_FOUND_GRACE = 60.0

_ERRORS_BY_STATUS: dict[JobStatus, type[FateFlowJobError]] = {
    JobStatus.FAILED: FateFlowJobFailedError,
    JobStatus.CANCELED: FateFlowJobCanceledError,
    JobStatus.TIMEOUT: FateFlowJobTimeoutError,
}


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset)."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


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


def job_error(job_id: str, status: JobStatus | str, reason: str | None = None) -> FateFlowJobError:
    """The client's error for a job that ended ``status`` (failed, canceled or timeout)."""
    parsed = JobStatus.parse(status)
    cls = _ERRORS_BY_STATUS.get(parsed, FateFlowJobFailedError)
    return cls(job_id=job_id, status=str(getattr(status, "value", status)), retmsg=reason)


@dataclass
class JobRef:
    """A FATE job a task is attached to: where to query it, and its board link.

    Plain JSON (``to_dict``/``from_dict``) so it crosses the trigger and the task state store.
    """

    job_id: str
    role: str | None
    party_id: int | None
    board_url: str | None = None
    created: float | None = None  # epoch seconds of the job's creation, when known
    marker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobRef:
        known = {k: data[k] for k in ("job_id", "role", "party_id", "board_url", "created", "marker", "extra") if k in data}
        ref = cls(**known)
        ref.job_id = str(ref.job_id)
        ref.party_id = None if ref.party_id is None else int(ref.party_id)
        ref.extra = dict(ref.extra or {})
        return ref


def _first(records: Sequence[Any] | Any) -> Any:
    if records is None:
        return None
    if isinstance(records, (list, tuple)):
        return records[0] if records else None
    return records


def failure_report(hook: FateFlowHook, ref: JobRef, status: str, log: Any,
                   task_rows: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Log which components failed on which party (FATE's error report) and the board link.

    :param task_rows: failed task records already fetched (e.g. by the trigger); queried when None.
    Never raises. Returns a one-line reason for the exception message (first failed component).
    """
    from airflow_provider_fateflow.client.results import TaskRecord

    tasks: list[TaskRecord] = []
    try:
        if task_rows:
            tasks = [TaskRecord.from_dict(row) for row in task_rows]
        else:
            tasks = list(hook.task.query(job_id=ref.job_id) or [])
    except Exception as err:  # a report must never hide the real failure
        log.warning("Could not fetch the tasks of FATE job %s for the failure report: %s", ref.job_id, err)
    failed = [t for t in tasks if t.status.is_failure or t.party_status.is_failure]
    log.error("FATE job %s ended with status %s.", ref.job_id, status)
    reason = ""
    if failed:
        log.error("Failed components (%d):", len(failed))
        for task in failed:
            report = task.error_report or "(no error report)"
            log.error(
                "  component %s (%s) on %s/%s: %s (party status %s)\n%s",
                task.component_name, task.component_module, task.role, task.party_id,
                task.status.value, task.party_status.value, report,
            )
        # The party whose task carries FATE's error report is where it failed; the others were stopped.
        first = next((t for t in failed if t.error_report), failed[0])
        reason = (
            f"component {first.component_name} failed on {first.role}/{first.party_id}"
            + (f": {summarize_retmsg(first.error_report, 300)}" if first.error_report else "")
        )
    elif tasks:
        log.error("No component reports a failure (statuses: %s).",
                  ", ".join(sorted({f"{t.component_name}={t.status.value}" for t in tasks})))
    if ref.board_url:
        log.error("FATE Board: %s", ref.board_url)
    return reason


class FateFlowBaseOperator(BaseOperator):
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
        params = dict(self.hook_params or {})
        unknown = sorted(set(params) - HOOK_PARAM_NAMES)
        if unknown:
            raise FateFlowInputError(
                f"hook_params: unknown key(s) {unknown}; allowed: {sorted(HOOK_PARAM_NAMES)}"
            )
        return params

    @cached_property
    def hook(self) -> FateFlowHook:
        """The hook (one HTTP session for the whole try)."""
        return FateFlowHook(self.fateflow_conn_id, **self._hook_kwargs())

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


class FateFlowJobOperator(FateFlowBaseOperator):
    """The job-waiting engine (see the module docstring). Subclasses implement ``_submit``.

    :param wait_for_completion: wait until the job ends (default True); False returns after submit.
    :param deferrable: wait in the triggerer instead of the worker (default
        ``[operators] default_deferrable``). The job state is checked once before deferring.
    :param poll_interval: seconds between two status queries (default 10).
    :param timeout: job deadline in seconds (or a timedelta) counted from the job's creation; when it
        passes, the FATE job is stopped (``stop_on_timeout``) and the task fails with
        :class:`FateFlowJobTimeoutError`. Default None (no deadline besides ``execution_timeout``).
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

    def _result(self, context: Context, ref: JobRef, record: JobRecord | None) -> Any:
        """The task's return value once the job succeeded (or right after submit when not waiting)."""
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
            return self._result(context, ref, None)

        deadline, why = self._deadline(context, ref)
        record = self._query_tolerant(ref, grace_started=time.time())
        if record is not None and not isinstance(record, FateFlowError) and record.status.is_terminal:
            return self._finish(context, ref, record)
        if self.deferrable:
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
                ),
                method_name="execute_complete",
                kwargs={"job": ref.to_dict()},
                timeout=None,  # the deadline lives in the trigger, so the FATE job gets stopped
            )
        record = self._poll_until_terminal(ref, poll_interval, deadline, why)
        return self._finish(context, ref, record)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         job: dict[str, Any] | None = None) -> Any:
        """Resume after :class:`JobStatusTrigger`: return the result, or raise with FATE's reason."""
        event = event or {}
        ref = JobRef.from_dict(job or {"job_id": event.get("job_id"), "role": event.get("role"),
                                       "party_id": event.get("party_id")})
        self._job_ref = ref
        status = event.get("status")
        if status == "success":
            record = self._record_from_event(event)
            self.log.info("FATE %s %s succeeded.", self.job_kind, ref.job_id)
            return self._result(context, ref, record)
        if status == "timeout" and event.get("reason") in ("deadline", "execution_timeout"):
            if self.stop_on_timeout and not event.get("stopped"):
                self._stop_quietly(ref, "deadline passed")
            raise FateFlowJobTimeoutError(
                event.get("message") or f"FATE {self.job_kind} {ref.job_id} did not finish before its deadline",
                job_id=ref.job_id, status="timeout",
            )
        if status in ("failed", "canceled", "timeout"):
            job_status = event.get("job_status") or status
            reason = failure_report(self.hook, ref, job_status, self.log, event.get("tasks")) or event.get("message")
            raise job_error(ref.job_id, job_status, reason)
        raise FateFlowError(
            f"waiting for FATE {self.job_kind} {ref.job_id} failed: {event.get('message') or event!r}"
        )

    def on_kill(self) -> None:
        """Stop the FATE job (best effort: logged, never raises)."""
        ref = self._job_ref
        if ref is None or not self.cancel_on_kill:
            return
        self._stop_quietly(ref, "task killed")

    # -- pieces ---------------------------------------------------------------------------------------------
    def _stop_quietly(self, ref: JobRef, why: str) -> None:
        try:
            self.log.warning("Stopping FATE %s %s (%s).", self.job_kind, ref.job_id, why)
            message = self.hook.job.stop(ref.job_id)
            self.log.info("FATE answered: %s", message)
        except Exception as err:  # best effort
            self.log.warning("Could not stop FATE %s %s: %s", self.job_kind, ref.job_id, err)

    def _push_job_xcoms(self, context: Context, ref: JobRef) -> None:
        ti = context["ti"]
        ti.xcom_push(key=JOB_ID_XCOM_KEY, value=ref.job_id)
        if ref.board_url:
            ti.xcom_push(key=BOARD_URL_XCOM_KEY, value=ref.board_url)
        for key, value in self._extra_xcom(ref).items():
            if value is not None:
                ti.xcom_push(key=key, value=value)
        self.log.info("FATE %s %s%s", self.job_kind, ref.job_id, f" - FATE Board: {ref.board_url}" if ref.board_url else "")

    def _board_url(self, job_id: str, role: str | None, party_id: Any, server_url: str | None) -> str | None:
        try:
            base = self.hook.config.board_url
        except Exception:
            base = None
        if (role is None or party_id is None) and server_url:
            r, p = role_party_from_board_url(server_url)
            role, party_id = role or r, party_id if party_id is not None else p
        return build_board_url(base, job_id=job_id, role=role, party_id=party_id, server_url=server_url)

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
        return JobRef(job_id=record.job_id, role=party[0], party_id=party[1],
                      board_url=self._board_url(record.job_id, party[0], party[1], None), marker=marker)

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
            record = self._query(prior, grace_started=None)
        except FateFlowError as err:
            if err.transient:  # FATE Flow could not say: a new job might duplicate the earlier one
                raise
            self.log.warning("Could not query earlier FATE %s %s (%s); submitting a new one.", self.job_kind,
                             prior.job_id, err)
            return None
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

    def _query(self, ref: JobRef, grace_started: float | None) -> JobRecord | None:
        """The job's record (``None`` when the server does not know it)."""
        records = self.hook.job.query(job_id=ref.job_id, role=ref.role, party_id=ref.party_id)
        return _first(records)

    def _query_tolerant(self, ref: JobRef, grace_started: float | None) -> JobRecord | None | FateFlowError:
        """``_query``, but a transient failure (FATE Flow down or busy) is returned instead of raised.

        The client has already retried the query; waiting goes on, as in the trigger, until the deadline.
        """
        try:
            return self._query(ref, grace_started)
        except FateFlowError as err:
            if not err.transient:
                raise
            self.log.warning("Could not get the status of FATE %s %s (%s); trying again.", self.job_kind,
                             ref.job_id, err)
            return err

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

    def _poll_until_terminal(self, ref: JobRef, poll_interval: float, deadline: float | None,
                             why: str | None) -> JobRecord:
        started = time.time()
        while True:
            record = self._query_tolerant(ref, grace_started=started)
            now = time.time()
            if isinstance(record, FateFlowError):
                pass  # unreachable or busy: already logged; wait and ask again
            elif record is None:
                if now - started > DEFAULT_NOT_FOUND_GRACE:
                    raise FateFlowNotFoundError(
                        f"FATE {self.job_kind} {ref.job_id} not found (role {ref.role}, party {ref.party_id})",
                        operation="job.query",
                    )
            elif record.status.is_terminal:
                return record
            else:
                self.log.info("FATE %s %s is %s (progress %s%%).", self.job_kind, ref.job_id,
                              record.status_raw, record.progress if record.progress is not None else "?")
            if deadline is not None and now >= deadline:
                if self.stop_on_timeout:
                    self._stop_quietly(ref, f"{why} passed")
                raise FateFlowJobTimeoutError(
                    f"FATE {self.job_kind} {ref.job_id} did not finish before its {why or 'deadline'} "
                    f"({datetime.fromtimestamp(deadline).isoformat(timespec='seconds')})",
                    job_id=ref.job_id, status="timeout",
                )
            wait = poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - now))
            time.sleep(wait)

    def _finish(self, context: Context, ref: JobRef, record: JobRecord) -> Any:
        if record.status.is_success:
            self.log.info("FATE %s %s succeeded.", self.job_kind, ref.job_id)
            return self._result(context, ref, record)
        reason = failure_report(self.hook, ref, record.status_raw or record.status.value, self.log)
        raise job_error(ref.job_id, record.status, reason)

    @staticmethod
    def _record_from_event(event: Mapping[str, Any]) -> JobRecord | None:
        from airflow_provider_fateflow.client.results import JobRecord

        raw = event.get("record")
        if isinstance(raw, Mapping) and raw:
            try:
                return JobRecord.from_dict(raw)
            except (KeyError, TypeError, ValueError):
                return None
        return None
