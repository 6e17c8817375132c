"""What a wait means: the one place that judges job, task and table states (no Airflow imports).

Every wait of the provider (a trigger in the triggerer, a sensor's poke, an operator's in-worker loop) is the
same few steps, and they all come from here:

1. a **watch** says what is awaited: :class:`JobWatch`, :class:`TaskWatch` or :class:`TableWatch`;
2. one poll (:func:`poll` in a worker, :func:`apoll` in the triggerer) sends the watch's query and hands the
   answer to the watch's pure ``judge``, which returns a :class:`WaitEvent` when the wait is over, else
   ``None``;
3. :class:`WaitClock` keeps the deadline and the backoff while FATE Flow is unreachable;
4. the event is the only thing that crosses the trigger boundary (:meth:`WaitEvent.to_dict` /
   :meth:`WaitEvent.from_dict`, which also reads the events of releases before this module existed), and
   :meth:`WaitEvent.exception` is the ONE mapping from an event to the exception a waiting task raises.

The outcomes (:class:`Outcome`): ``succeeded``, ``failed``, ``canceled``, ``job_timed_out`` (FATE's own
``timeout`` status), ``deadline`` (the wait's own limit passed), ``not_found``, ``wrong_party`` and
``error`` (an exception, carried with its type so ``isinstance`` checks work the same in every mode).
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any

from airflow_provider_fateflow.client.errors import (
    FateFlowDeadlineError,
    FateFlowError,
    FateFlowInputError,
    FateFlowJobCanceledError,
    FateFlowJobFailedError,
    FateFlowJobTimeoutError,
    FateFlowNotFoundError,
    error_from_dict,
    error_to_dict,
    summarize_retmsg,
)
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus

if TYPE_CHECKING:  # the records only annotate here: importing them costs DAG parsing ~15 ms
    from airflow_provider_fateflow.client.results import JobRecord, TableInfo, TaskRecord

__all__ = [
    "Outcome",
    "WaitEvent",
    "JobWatch",
    "TaskWatch",
    "TableWatch",
    "WaitClock",
    "Progress",
    "progress_line",
    "wants_components",
    "with_components",
    "poll",
    "apoll",
    "watched_row",
    "statuses",
    "failure_report",
    "EVENT_VERSION",
    "MAX_BACKOFF",
    "STALE_GRACE",
]

#: Version of the event format written by :meth:`WaitEvent.to_dict` (events without it are the old format).
EVENT_VERSION = 2
#: Longest pause (seconds) between two polls while FATE Flow is unreachable.
MAX_BACKOFF = 120.0
#: Seconds a status older than a rerun is ignored (FATE's scheduler loop picks a rerun up in about 2 s).
STALE_GRACE = 60.0


class Outcome(str, Enum):
    """How a wait ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    JOB_TIMED_OUT = "job_timed_out"
    DEADLINE = "deadline"
    NOT_FOUND = "not_found"
    WRONG_PARTY = "wrong_party"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


_BY_STATUS = {"failed": Outcome.FAILED, "canceled": Outcome.CANCELED, "timeout": Outcome.JOB_TIMED_OUT}
_ERROR_BY_OUTCOME = {Outcome.FAILED: FateFlowJobFailedError, Outcome.CANCELED: FateFlowJobCanceledError,
                     Outcome.JOB_TIMED_OUT: FateFlowJobTimeoutError}


@dataclass(frozen=True)
class WaitEvent:
    """The end of one wait: the only payload a trigger emits, and what ``execute_complete`` reads.

    :param outcome: how the wait ended.
    :param kind: ``"job"``, ``"task"`` or ``"table"``.
    :param message: one readable line.
    :param job_id: the job (job and task waits).
    :param role: the role the wait watched (job: the party whose row was judged).
    :param party_id: the party the wait watched.
    :param status: the FATE status word the job or task had when the wait ended.
    :param component_name: the component (task waits).
    :param namespace: the table's namespace (table waits).
    :param table_name: the table's name (table waits).
    :param count: the table's row count (table waits).
    :param deadline_reason: ``deadline``, ``execution_timeout`` or ``sensor_timeout`` (outcome ``deadline``).
    :param stopped: the FATE job was stopped when the deadline passed.
    :param record: the watched row in plain names (:meth:`JobRecord.summary` / :meth:`TaskRecord.summary`).
    :param error: the exception, for outcome ``error`` (:func:`~airflow_provider_fateflow.client.errors.error_to_dict`).
    """

    outcome: Outcome
    kind: str
    message: str
    job_id: str | None = None
    role: str | None = None
    party_id: int | None = None
    status: str | None = None
    component_name: str | None = None
    namespace: str | None = None
    table_name: str | None = None
    count: int | None = None
    deadline_reason: str | None = None
    stopped: bool = False
    record: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED

    @property
    def job_ended(self) -> bool:
        """The job (or task) itself ended badly: FATE's failure report applies."""
        return self.outcome in _ERROR_BY_OUTCOME

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, with ``version`` (:data:`EVENT_VERSION`)."""
        out = asdict(self)
        out["outcome"] = self.outcome.value
        out["version"] = EVENT_VERSION
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> WaitEvent:
        """The event ``to_dict`` wrote, or an event of the format before this module (``status``/``reason``
        with FATE's ``f_`` record keys), so a wait deferred by an earlier release resumes correctly.

        :raises FateFlowInputError: not an event of either format.
        """
        if not isinstance(data, Mapping) or not data:
            raise FateFlowInputError(f"not a FATE Flow wait event: {data!r}")
        if "outcome" not in data:
            return _from_legacy(data)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["outcome"] = Outcome(values["outcome"])
        except ValueError:
            raise FateFlowInputError(f"unknown wait outcome {data.get('outcome')!r}") from None
        if values.get("party_id") is not None:
            values["party_id"] = int(values["party_id"])
        values["record"] = dict(values.get("record") or {})
        return cls(**values)

    def exception(self) -> FateFlowError | None:
        """The exception this event means for the waiting task (``None`` for success).

        ``failed``/``canceled``/``job_timed_out`` -> :class:`FateFlowJobFailedError` / ``CanceledError`` /
        ``TimeoutError`` (with ``reason``, e.g. FATE's error report, when given); ``deadline`` ->
        :class:`FateFlowDeadlineError`; ``not_found`` -> :class:`FateFlowNotFoundError`; ``wrong_party`` ->
        :class:`FateFlowInputError`; ``error`` -> the original exception's type, rebuilt.
        """
        return self.exception_with(None)

    def exception_with(self, reason: str | None) -> FateFlowError | None:
        """:meth:`exception`, with ``reason`` (a failure report's line) as the job error's message detail."""
        outcome = self.outcome
        if outcome is Outcome.SUCCEEDED:
            return None
        if outcome in _ERROR_BY_OUTCOME:
            cls = _ERROR_BY_OUTCOME[outcome]
            job_id = str(self.job_id)
            status = self.status or ("timeout" if outcome is Outcome.JOB_TIMED_OUT else outcome.value)
            if self.kind == "task":  # the component's own line says where it failed
                reason = reason or self.message
            return cls(job_id=job_id, status=status, retmsg=reason)
        if outcome is Outcome.DEADLINE:
            return FateFlowDeadlineError(self.message, job_id=str(self.job_id or ""), status="timeout",
                                         deadline_reason=self.deadline_reason or "deadline", stopped=self.stopped)
        if outcome is Outcome.NOT_FOUND:
            return FateFlowNotFoundError(self.message, operation=f"{self.kind}.wait")
        if outcome is Outcome.WRONG_PARTY:
            return FateFlowInputError(self.message)
        if self.error:
            return error_from_dict(self.error)
        return FateFlowError(self.message)


# -- the old event format (releases before this module) ----------------------------------------------------

def _plain(record: Any) -> dict[str, Any]:
    """An old event's record: FATE's ``f_`` keys read into the plain names of the current format."""
    if not isinstance(record, Mapping):
        return {}
    out = {(k[2:] if isinstance(k, str) and k.startswith("f_") else k): v for k, v in record.items()}
    for key in ("party_id", "initiator_party_id"):
        if out.get(key) is not None:
            try:
                out[key] = int(out[key])
            except (TypeError, ValueError):
                pass
    return out


def _from_legacy(data: Mapping[str, Any]) -> WaitEvent:
    status = data.get("status")
    reason = data.get("reason")
    kind = "table" if "table_name" in data else "task" if "component_name" in data else "job"
    fate_status = data.get("job_status") or data.get("task_status")
    if reason in ("job", "task"):  # the job (or task) ended in a status that was not awaited
        outcome = _BY_STATUS.get(str(fate_status or status), Outcome.FAILED)
        fate_status = fate_status or status
    elif status == "success":
        outcome = Outcome.SUCCEEDED
    elif status == "timeout" and reason in ("deadline", "execution_timeout", "sensor_timeout"):
        outcome = Outcome.DEADLINE
    elif status in _BY_STATUS:
        outcome = _BY_STATUS[status]
        fate_status = fate_status or status
    elif reason == "not_found":
        outcome = Outcome.NOT_FOUND
    elif reason == "bad_party":
        outcome = Outcome.WRONG_PARTY
    elif status == "error":
        outcome = Outcome.ERROR
    else:
        raise FateFlowInputError(f"not a FATE Flow wait event: {dict(data)!r}")
    error = None
    message = str(data.get("message") or f"{kind} wait ended: {status}")
    if outcome is Outcome.ERROR:
        # "FateFlowAuthError: ..." was all an old error event kept of the exception: its type is rebuilt
        name, _, rest = message.partition(": ")
        error = {"type": name, "message": rest, "fateflow": True} if rest and name.isidentifier() else None
    record = _plain(data.get("record"))
    role, party = data.get("role"), data.get("party_id")
    if role is None and party is None and kind == "job":  # a sensor without a party: the row it judged
        role, party = record.get("role"), record.get("party_id")
    return WaitEvent(
        outcome=outcome, kind=kind, message=message, job_id=None if data.get("job_id") is None else str(data["job_id"]),
        role=role, party_id=None if party in (None, "") else int(party), status=fate_status,
        component_name=data.get("component_name"), namespace=data.get("namespace"),
        table_name=data.get("table_name"), count=data.get("count"),
        deadline_reason=reason if outcome is Outcome.DEADLINE else None, stopped=bool(data.get("stopped")),
        record=record, error=error,
    )


# -- watches: what is awaited, and the pure judges ---------------------------------------------------------

def statuses(values: Iterable[Any] | str | None, enum: Any, default: Sequence[Any], what: str) -> tuple[str, ...]:
    """Target status words, checked: ``values`` (one word or several) or ``default``.

    :raises FateFlowInputError: an unknown word, or none at all.
    """
    if values is None:
        return tuple(sorted({enum.parse(v).value for v in default}))
    if isinstance(values, str):
        values = [values]
    out = set()
    for value in values:
        parsed = enum.parse(value)
        if parsed is enum.UNKNOWN:
            raise FateFlowInputError(
                f"{what}: unknown status {value!r}; use {sorted(m.value for m in enum if m is not enum.UNKNOWN)}"
            )
        out.add(parsed.value)
    if not out:
        raise FateFlowInputError(f"{what}: give at least one status")
    return tuple(sorted(out))


def watched_row(rows: Sequence[JobRecord], role: str | None, party_id: int | None) -> JobRecord | None:
    """The row a job wait judges: the one of ``role``/``party_id`` when given, else the initiator's.

    FATE lists one row per party (a standalone server: arbiter, host, guest); the initiator's carries the
    status the scheduler decides, so every wait (poke, trigger, in-worker) watches that party by default.
    """
    if not rows:
        return None
    if role is not None or party_id is not None:
        for row in rows:
            if (role is None or row.role == role) and (party_id is None or row.party_id == party_id):
                return row
        return rows[0]
    for row in rows:
        if row.is_initiator:
            return row
    # FATE Flow 2.x rows name the initiator's party only (its guest and arbiter may share that party id)
    initiators = [r for r in rows if r.party_id is not None and r.party_id == r.initiator_party_id
                  and (r.initiator_role is None or r.role == r.initiator_role)]
    return next((r for r in initiators if r.role == "guest"), initiators[0] if initiators else rows[0])


def _parties(rows: Sequence[Any]) -> str:
    return ", ".join(sorted({f"{r.role}/{r.party_id}" for r in rows}))


@dataclass(frozen=True)
class JobWatch:
    """Wait for a job to reach one of ``targets``.

    :param job_id: the FATE job id.
    :param role: the role to query with (None: the initiator's row).
    :param party_id: the party to query with.
    :param targets: job status words that end the wait successfully (default ``success``).
    :param not_found_timeout: seconds the job may be unknown before the wait ends ``not_found`` (None: never).
    :param stale_end_time: after a rerun: the job's end time (ms) before the rerun. A terminal status whose end
        time is not newer is the old run's, which FATE still reports until its scheduler loop picks the
        rerun up: it is not judged (for at most :data:`STALE_GRACE` seconds after ``stale_until``).
    :param stale_until: epoch seconds until which ``stale_end_time`` applies.
    """

    job_id: str
    role: str | None = None
    party_id: int | None = None
    targets: tuple[str, ...] = (JobStatus.SUCCESS.value,)
    not_found_timeout: float | None = 60.0
    stale_end_time: int | None = None
    stale_until: float | None = None

    kind = "job"

    @property
    def what(self) -> str:
        return f"FATE job {self.job_id}"

    def _event(self, outcome: Outcome, message: str, **kwargs: Any) -> WaitEvent:
        kwargs.setdefault("role", self.role)
        kwargs.setdefault("party_id", self.party_id)
        return WaitEvent(outcome=outcome, kind=self.kind, message=message, job_id=self.job_id, **kwargs)

    def is_stale(self, row: JobRecord, now: float) -> bool:
        """A terminal status of the run before a rerun (see ``stale_end_time``)."""
        if self.stale_end_time is None or not row.status.is_terminal:
            return False
        if self.stale_until is not None and now >= self.stale_until:
            return False
        return row.end_time is not None and row.end_time <= self.stale_end_time

    def judge(self, rows: Sequence[JobRecord], waited: float, now: float | None = None,
              all_rows: Sequence[JobRecord] | None = None) -> WaitEvent | None:
        """The event when the wait is over, else None.

        :param rows: ``job.query(job_id, role, party_id)``.
        :param waited: seconds since the wait began (for the not-found grace).
        :param all_rows: ``job.query(job_id)`` when ``rows`` is empty and a role/party was given (to tell a wrong
            party from an unknown job).
        """
        row = watched_row(rows, self.role, self.party_id)
        if row is None:
            return _judge_missing(self, waited, all_rows)
        status = row.status
        if status.value not in self.targets and not status.is_terminal:
            return None  # the common case, at every poll: nothing built
        if self.is_stale(row, time.time() if now is None else now):
            return None
        ident = {"role": row.role, "party_id": row.party_id, "status": status.value, "record": row.summary()}
        if status.value in self.targets:
            return self._event(Outcome.SUCCEEDED, f"FATE job {self.job_id} is {status.value}", **ident)
        if status.is_terminal:
            # an end that is not awaited (success too, when waiting for "failed") fails the wait
            return self._event(_BY_STATUS.get(status.value, Outcome.FAILED),
                               f"FATE job {self.job_id} ended with status {status.value}", **ident)
        return None

    def needs_party_check(self, rows: Sequence[Any]) -> bool:
        return not rows and (self.role is not None or self.party_id is not None)

    def progress_line(self, rows: Sequence[JobRecord]) -> tuple[Any, Any] | None:
        """``(state, line)`` describing where the job is (``state`` changes when the line would; ``line`` is a
        callable, so an unchanged state costs no formatting)."""
        row = watched_row(rows, self.role, self.party_id)
        if row is None:
            return None
        progress = "?" if row.progress is None else row.progress
        return (row.status_raw, row.progress), lambda: (f"FATE job {self.job_id} is {row.status_raw} (progress "
                                                        f"{progress}%) on {row.role}/{row.party_id}")


@dataclass(frozen=True)
class TaskWatch:
    """Wait for one component of a job to reach one of ``targets`` (on every party, or one).

    :param job_id: the FATE job id.
    :param component_name: the component, e.g. ``hetero_lr_0``.
    :param role: only this role's task (None: every party's task must get there).
    :param party_id: only this party's task.
    :param targets: task status words that end the wait successfully (default ``success`` and ``pass``).
    :param not_found_timeout: seconds the component may be unknown (None: never).
    """

    job_id: str
    component_name: str
    role: str | None = None
    party_id: int | None = None
    targets: tuple[str, ...] = (TaskStatus.PASS.value, TaskStatus.SUCCESS.value)
    not_found_timeout: float | None = 60.0

    kind = "task"

    @property
    def what(self) -> str:
        return f"component {self.component_name} of FATE job {self.job_id}"

    def _event(self, outcome: Outcome, message: str, **kwargs: Any) -> WaitEvent:
        kwargs.setdefault("role", self.role)
        kwargs.setdefault("party_id", self.party_id)
        return WaitEvent(outcome=outcome, kind=self.kind, message=message, job_id=self.job_id,
                         component_name=self.component_name, **kwargs)

    def judge(self, rows: Sequence[TaskRecord], waited: float, now: float | None = None,
              all_rows: Sequence[Any] | None = None) -> WaitEvent | None:
        """Success when every row reached a target; the first row that ended otherwise fails the wait."""
        if not rows:
            return _judge_missing(self, waited, all_rows)
        pending = None
        for row in rows:
            if row.status.value in self.targets:
                continue
            if row.status.is_terminal:
                report = f": {summarize_retmsg(row.error_report, 300)}" if row.error_report else ""
                return self._event(
                    _BY_STATUS.get(row.status.value, Outcome.FAILED),
                    f"component {self.component_name} of job {self.job_id} ended with status {row.status.value} "
                    f"on {row.role}/{row.party_id}{report}",
                    status=row.status.value, record=row.summary(),
                )
            pending = pending or row
        if pending is None:
            return self._event(Outcome.SUCCEEDED, f"component {self.component_name} is {rows[0].status.value}",
                               status=rows[0].status.value, record=rows[0].summary())
        return None

    def needs_party_check(self, rows: Sequence[Any]) -> bool:
        return not rows and (self.role is not None or self.party_id is not None)

    def progress_line(self, rows: Sequence[TaskRecord]) -> tuple[Any, str] | None:
        if not rows:
            return None
        states = ", ".join(f"{r.role}/{r.party_id}={r.status.value}" for r in rows)
        return states, f"component {self.component_name} of FATE job {self.job_id}: {states}"


@dataclass(frozen=True)
class TableWatch:
    """Wait for a table to exist (with at least ``min_rows`` rows).

    :param namespace: the table's namespace.
    :param table_name: the table's name.
    :param min_rows: minimum row count (None: existence is enough).
    """

    namespace: str
    table_name: str
    min_rows: int | None = None

    kind = "table"
    not_found_timeout = None

    @property
    def what(self) -> str:
        return f"table {self.namespace}/{self.table_name}"

    def judge(self, info: TableInfo, waited: float, now: float | None = None,
              all_rows: Sequence[Any] | None = None) -> WaitEvent | None:
        if info.exists and (self.min_rows is None or (info.count or 0) >= self.min_rows):
            return WaitEvent(outcome=Outcome.SUCCEEDED, kind=self.kind, namespace=self.namespace,
                             table_name=self.table_name, count=info.count,
                             message=f"table {self.namespace}/{self.table_name} exists with {info.count} rows")
        return None

    def needs_party_check(self, rows: Any) -> bool:
        return False

    def progress_line(self, info: TableInfo) -> tuple[Any, str]:
        if not info.exists:
            return None, f"table {self.namespace}/{self.table_name} does not exist yet"
        return info.count, (f"table {self.namespace}/{self.table_name} has {info.count} rows; waiting for "
                            f"{self.min_rows}")


Watch = JobWatch | TaskWatch | TableWatch


def _judge_missing(watch: JobWatch | TaskWatch, waited: float, all_rows: Sequence[Any] | None) -> WaitEvent | None:
    """Nothing matched: a wrong party (the job runs elsewhere), an unknown job after the grace, or not yet."""
    if all_rows:
        return watch._event(Outcome.WRONG_PARTY, f"job {watch.job_id} has no party {watch.role}/{watch.party_id}; "
                                                 f"it runs on {_parties(all_rows)}")
    if watch.not_found_timeout is not None and waited >= watch.not_found_timeout:
        return watch._event(Outcome.NOT_FOUND, f"{watch.what} not found after {waited:.0f} s (not_found_timeout="
                                               f"{watch.not_found_timeout:g} s): check the job id, role and party")
    return None


def _query(client: Any, watch: Watch) -> Any:
    """The one request of a poll, in the client's dialect (FATE Flow 2.x names a component a task)."""
    v2 = getattr(client, "dialect", "v1") == "v2"
    if isinstance(watch, JobWatch):
        return client.job.query(job_id=watch.job_id, role=watch.role, party_id=watch.party_id)
    if isinstance(watch, TaskWatch):
        component = {"task_name" if v2 else "component_name": watch.component_name}
        return client.task.query(job_id=watch.job_id, role=watch.role, party_id=watch.party_id, **component)
    return (client.table.query if v2 else client.table.info)(watch.namespace, watch.table_name)


def poll(client: Any, watch: Watch, waited: float) -> tuple[WaitEvent | None, Any]:
    """One poll with a sync client (a hook's groups): ``(event or None, the answer)``.

    One request, plus one ``job.query`` when nothing matched a role/party (wrong party or unknown job?).
    Transient failures are raised (:class:`FateFlowError` with ``transient``) for the caller to wait out.
    """
    answer = _query(client, watch)
    others = client.job.query(job_id=watch.job_id) if watch.needs_party_check(answer) else None
    return watch.judge(answer, waited, all_rows=others), answer


async def apoll(client: Any, watch: Watch, waited: float) -> tuple[WaitEvent | None, Any]:
    """:func:`poll` with the async client (the triggerer)."""
    answer = await _query(client, watch)
    others = await client.job.query(job_id=watch.job_id) if watch.needs_party_check(answer) else None
    return watch.judge(answer, waited, all_rows=others), answer


@dataclass
class WaitClock:
    """Deadline and backoff of one wait (epoch seconds, which hold across processes and hosts).

    :param poll_interval: seconds between two polls.
    :param deadline: epoch seconds when the wait ends ``deadline`` (None: no deadline).
    :param deadline_reason: ``deadline``, ``execution_timeout`` or ``sensor_timeout``.
    :param started: epoch seconds the wait began.
    :param waited_before: seconds already waited before ``started`` (a sensor's pokes before it deferred).
    """

    poll_interval: float
    deadline: float | None = None
    deadline_reason: str | None = None
    started: float = field(default_factory=time.time)
    waited_before: float = 0.0
    failures: int = 0

    def waited(self, now: float | None = None) -> float:
        return self.waited_before + ((time.time() if now is None else now) - self.started)

    def passed(self, now: float | None = None) -> bool:
        return self.deadline is not None and (time.time() if now is None else now) >= self.deadline

    def next_sleep(self, now: float | None = None) -> float:
        """Seconds to the next poll (never past the deadline); resets the backoff."""
        self.failures = 0
        return self._bounded(self.poll_interval, now)

    def backoff(self, now: float | None = None) -> float:
        """Seconds to wait after a transient failure: doubling from ``poll_interval``, capped at
        :data:`MAX_BACKOFF`, with a little jitter so many waits do not come back at once."""
        self.failures += 1
        delay = min(MAX_BACKOFF, self.poll_interval * (2 ** min(self.failures, 10)))
        return self._bounded(delay * random.uniform(0.9, 1.1), now)

    def _bounded(self, seconds: float, now: float | None) -> float:
        if self.deadline is None:
            return seconds
        return max(0.0, min(seconds, self.deadline - (time.time() if now is None else now)))

    def deadline_event(self, watch: Watch, stopped: bool) -> WaitEvent:
        """The event of a deadline that passed."""
        reason = self.deadline_reason or "deadline"
        limit = {"deadline": "its deadline", "execution_timeout": "the task's execution_timeout",
                 "sensor_timeout": "the sensor's timeout"}.get(reason, reason)
        verb = "appear" if watch.kind == "table" else "finish"
        return WaitEvent(
            outcome=Outcome.DEADLINE, kind=watch.kind,
            message=f"{watch.what} did not {verb} before {limit}" + (" and was stopped" if stopped else ""),
            job_id=getattr(watch, "job_id", None), role=getattr(watch, "role", None),
            party_id=getattr(watch, "party_id", None), component_name=getattr(watch, "component_name", None),
            namespace=getattr(watch, "namespace", None), table_name=getattr(watch, "table_name", None),
            deadline_reason=reason, stopped=stopped,
        )


class Progress:
    """Where a wait stands, reported once per change (a two-hour job must not log the same line every poll)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: Any = object()

    def change(self, watch: Watch, answer: Any) -> str | None:
        """The line to log when what the answer says differs from the last one, else None."""
        described = watch.progress_line(answer)
        if described is None or described[0] == self._last:
            return None
        self._last, line = described
        return line() if callable(line) else line


def wants_components(watch: Watch, answer: Any) -> bool:
    """The job is running: its line is worth naming the running components."""
    if not isinstance(watch, JobWatch):
        return False
    row = watched_row(answer, watch.role, watch.party_id)
    return row is not None and row.status is JobStatus.RUNNING


def with_components(line: str, tasks: Sequence[TaskRecord]) -> str:
    """``line``, with the components of ``tasks`` named."""
    names = sorted({t.component_name for t in tasks if t.component_name})
    return f"{line}; running: {', '.join(names)}" if names else line


def progress_line(progress: Progress, client: Any, watch: Watch, answer: Any) -> str | None:
    """:meth:`Progress.change`, naming a running job's running components (one ``task.query``, only when the
    line changed, so a long wait costs one request per change, not per poll)."""
    line = progress.change(watch, answer)
    if line is None or not wants_components(watch, answer):
        return line
    try:
        return with_components(line, client.task.query(job_id=watch.job_id, role=watch.role,  # type: ignore[union-attr]
                                                        party_id=watch.party_id, status="running"))
    except FateFlowError:
        return line


def error_event(watch: Watch, err: BaseException) -> WaitEvent:
    """The event of a wait that ended with an exception (its type kept)."""
    return WaitEvent(
        outcome=Outcome.ERROR, kind=watch.kind, message=f"{type(err).__name__}: {err}",
        job_id=getattr(watch, "job_id", None), role=getattr(watch, "role", None),
        party_id=getattr(watch, "party_id", None), component_name=getattr(watch, "component_name", None),
        namespace=getattr(watch, "namespace", None), table_name=getattr(watch, "table_name", None),
        error=error_to_dict(err),
    )


# -- the failure report --------------------------------------------------------------------------------------

def failure_report(task_group: Any, job_id: str, status: str, log: Any, board_url: str | None = None,
                   tasks: Sequence[TaskRecord] | None = None) -> str:
    """Log which components failed on which party, FATE's error report first, and the board link.

    :param task_group: a sync client's ``task`` group (queried when ``tasks`` is None).
    :param tasks: task rows already fetched.
    :returns: a one-line reason for the exception (the component whose report says what happened); ``""``
        when none failed. Never raises: a report must never hide the real failure.
    """
    rows: list[TaskRecord] = list(tasks or [])
    if tasks is None:
        try:
            rows = list(task_group.query(job_id=job_id) or [])
        except Exception as err:
            log.warning("Could not fetch the tasks of FATE job %s for the failure report: %s", job_id, err)
    failed = [t for t in rows if t.status.is_failure or t.party_status.is_failure]
    # The party whose task carries FATE's error report is where it failed; the others were stopped.
    failed.sort(key=lambda t: not t.error_report)
    log.error("FATE job %s ended with status %s.", job_id, status)
    reason = ""
    if failed:
        log.error("Failed components (%d):", len(failed))
        for task in failed:
            log.error("  component %s (%s) on %s/%s: %s (party status %s)\n%s", task.component_name,
                      task.component_module, task.role, task.party_id, task.status.value, task.party_status.value,
                      task.error_report or "    (no error report)")
        first = failed[0]
        reason = (f"component {first.component_name} failed on {first.role}/{first.party_id}"
                  + (f": {summarize_retmsg(first.error_report, 300)}" if first.error_report else ""))
    elif rows:
        log.error("No component reports a failure (statuses: %s).",
                  ", ".join(sorted({f"{t.component_name}={t.status.value}" for t in rows})))
    if board_url:
        log.error("FATE Board: %s", board_url)
    return reason
