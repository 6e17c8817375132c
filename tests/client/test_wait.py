"""The judges and the event mapping of client/wait.py: pure functions, no server."""
from __future__ import annotations

import json

import pytest

from airflow_provider_fateflow.client.errors import (
    FateFlowAuthError,
    FateFlowConnectionError,
    FateFlowDeadlineError,
    FateFlowError,
    FateFlowInputError,
    FateFlowJobCanceledError,
    FateFlowJobFailedError,
    FateFlowJobTimeoutError,
    FateFlowNotFoundError,
    error_from_dict,
    error_to_dict,
)
from airflow_provider_fateflow.client.results import JobRecord, TableInfo, TaskRecord
from airflow_provider_fateflow.client.wait import (
    MAX_BACKOFF,
    JobWatch,
    Outcome,
    Progress,
    TableWatch,
    TaskWatch,
    WaitClock,
    WaitEvent,
    error_event,
    statuses,
    watched_row,
)
from airflow_provider_fateflow.client.status import JobStatus


def _job(role, party, status, initiator=False, end=None, progress=50):
    return JobRecord.from_dict({"f_job_id": "J", "f_role": role, "f_party_id": party, "f_status": status,
                                "f_is_initiator": initiator, "f_initiator_role": "guest",
                                "f_initiator_party_id": 9999, "f_end_time": end, "f_progress": progress})


def _task(role, party, status, report=None):
    return TaskRecord.from_dict({"f_job_id": "J", "f_component_name": "lr_0", "f_role": role, "f_party_id": party,
                                 "f_status": status, "f_party_status": status, "f_error_report": report})


# a standalone FATE Flow lists arbiter, host, guest
ROWS = [_job("arbiter", 10000, "failed"), _job("host", 10000, "running"), _job("guest", 9999, "running", True)]


def test_without_a_party_the_initiator_row_is_judged():
    assert watched_row(ROWS, None, None).role == "guest"
    assert JobWatch("J").judge(ROWS, waited=0) is None  # the arbiter's "failed" is not the job's status
    assert watched_row(ROWS, "host", 10000).role == "host"
    no_flag = [_job("arbiter", 10000, "running"), _job("guest", 9999, "running")]
    assert watched_row(no_flag, None, None).role == "guest"  # by initiator role/party when no row is flagged


def test_job_outcomes():
    watch = JobWatch("J", targets=("success",))
    done = watch.judge([_job("guest", 9999, "success", True)], waited=0)
    assert done.outcome is Outcome.SUCCEEDED and done.status == "success" and done.record["job_id"] == "J"
    assert (done.role, done.party_id) == ("guest", 9999)
    for status, outcome in (("failed", Outcome.FAILED), ("canceled", Outcome.CANCELED),
                            ("timeout", Outcome.JOB_TIMED_OUT)):
        assert watch.judge([_job("guest", 9999, status, True)], waited=0).outcome is outcome
    # an end that is not awaited fails the wait, success included
    ended = JobWatch("J", targets=("failed",)).judge([_job("guest", 9999, "success", True)], waited=0)
    assert ended.outcome is Outcome.FAILED and ended.status == "success"
    assert JobWatch("J", targets=("running",)).judge([_job("guest", 9999, "running", True)], 0).succeeded


def test_a_status_older_than_a_rerun_is_not_judged():
    old = [_job("guest", 9999, "failed", True, end=1_000)]
    watch = JobWatch("J", stale_end_time=1_000, stale_until=200.0)
    assert watch.judge(old, waited=1, now=100.0) is None  # FATE has not picked the rerun up yet
    assert watch.judge([_job("guest", 9999, "running", True)], waited=2, now=101.0) is None
    assert watch.judge([_job("guest", 9999, "failed", True, end=5_000)], 3, now=150.0).outcome is Outcome.FAILED
    assert watch.judge([_job("guest", 9999, "success", True, end=5_000)], 3, now=150.0).succeeded
    assert watch.judge(old, waited=100, now=200.0).outcome is Outcome.FAILED  # the rerun never started


def test_missing_job_wrong_party_and_grace():
    watch = JobWatch("J", role="host", party_id=1, not_found_timeout=10)
    assert watch.needs_party_check([]) and not JobWatch("J").needs_party_check([])
    assert watch.judge([], waited=1, all_rows=[]) is None
    assert watch.judge([], waited=11, all_rows=[]).outcome is Outcome.NOT_FOUND
    wrong = watch.judge([], waited=1, all_rows=ROWS)
    assert wrong.outcome is Outcome.WRONG_PARTY and "arbiter/10000, guest/9999, host/10000" in wrong.message
    assert JobWatch("J", not_found_timeout=None).judge([], waited=10 ** 6) is None


def test_task_outcomes():
    watch = TaskWatch("J", "lr_0")
    assert watch.judge([_task("guest", 9999, "success"), _task("host", 10000, "running")], 0) is None
    done = watch.judge([_task("guest", 9999, "success"), _task("arbiter", 10000, "pass")], 0)
    assert done.succeeded and done.component_name == "lr_0"
    failed = watch.judge([_task("guest", 9999, "running"), _task("host", 10000, "failed", "ValueError: nan")], 0)
    assert failed.outcome is Outcome.FAILED and "on host/10000: ValueError: nan" in failed.message
    assert failed.record["error_report"] == "ValueError: nan"


def test_table_outcomes():
    info = TableInfo("ns", "t", exists=True, count=5, partition=1, schema=None, raw={})
    assert TableWatch("ns", "t").judge(info, 0).count == 5
    assert TableWatch("ns", "t", min_rows=6).judge(info, 0) is None
    missing = TableInfo("ns", "t", exists=False, count=None, partition=None, schema=None, raw={})
    assert TableWatch("ns", "t").judge(missing, 0) is None


def test_statuses_are_checked():
    assert statuses(None, JobStatus, [JobStatus.SUCCESS], "t") == ("success",)
    assert statuses(["Running", "success"], JobStatus, [], "t") == ("running", "success")
    with pytest.raises(FateFlowInputError, match="unknown status 'finished'"):
        statuses("finished", JobStatus, [], "target_statuses")


def test_clock_deadline_and_backoff():
    clock = WaitClock(poll_interval=10, deadline=1_000.0, deadline_reason="sensor_timeout", started=900.0)
    assert not clock.passed(now=999.0) and clock.passed(now=1_000.0)
    assert clock.next_sleep(now=995.0) == 5.0  # never past the deadline
    assert clock.waited(now=950.0) == 50.0
    free = WaitClock(poll_interval=10)
    delays = [free.backoff() for _ in range(8)]
    assert 18 <= delays[0] <= 22 and max(delays) <= MAX_BACKOFF * 1.1 and delays[-1] >= MAX_BACKOFF * 0.9
    assert free.next_sleep() == 10 and free.failures == 0
    event = clock.deadline_event(TableWatch("ns", "t"), stopped=False)
    assert event.outcome is Outcome.DEADLINE and "did not appear before the sensor's timeout" in event.message


@pytest.mark.parametrize("event, error", [
    (WaitEvent(Outcome.FAILED, "job", "m", job_id="J", status="failed"), FateFlowJobFailedError),
    (WaitEvent(Outcome.CANCELED, "job", "m", job_id="J", status="canceled"), FateFlowJobCanceledError),
    (WaitEvent(Outcome.JOB_TIMED_OUT, "job", "m", job_id="J", status="timeout"), FateFlowJobTimeoutError),
    (WaitEvent(Outcome.DEADLINE, "job", "m", job_id="J", deadline_reason="execution_timeout"), FateFlowDeadlineError),
    (WaitEvent(Outcome.NOT_FOUND, "job", "m", job_id="J"), FateFlowNotFoundError),
    (WaitEvent(Outcome.WRONG_PARTY, "job", "m", job_id="J"), FateFlowInputError),
    (WaitEvent(Outcome.ERROR, "job", "m", job_id="J"), FateFlowError),
])
def test_one_mapping_from_event_to_exception(event, error):
    err = event.exception()
    assert type(err) is error
    assert WaitEvent.from_dict(json.loads(json.dumps(event.to_dict()))).exception().__class__ is error
    assert WaitEvent(Outcome.SUCCEEDED, "job", "ok").exception() is None


def test_a_failure_reason_reaches_the_message():
    event = WaitEvent(Outcome.FAILED, "job", "m", job_id="J", status="failed")
    err = event.exception_with("component lr_0 failed on host/10000: ValueError: nan")
    assert str(err) == "job J ended with status failed: component lr_0 failed on host/10000: ValueError: nan"
    deadline = WaitEvent(Outcome.DEADLINE, "job", "J did not finish", job_id="J", deadline_reason="deadline",
                         stopped=True).exception()
    assert isinstance(deadline, FateFlowJobTimeoutError) and deadline.stopped and deadline.deadline_reason == "deadline"


def test_errors_cross_the_trigger_boundary_with_their_type():
    auth = FateFlowAuthError("wrong signature", reason="bad_signature", operation="job.query", retcode=109,
                             retmsg="signature authentication failed", http_status=200)
    event = error_event(JobWatch("J"), auth)
    wire = json.loads(json.dumps(event.to_dict()))
    back = WaitEvent.from_dict(wire).exception()
    assert type(back) is FateFlowAuthError and str(back) == str(auth)
    assert (back.reason, back.retcode, back.operation, back.transient) == ("bad_signature", 109, "job.query", False)
    tls = FateFlowConnectionError("TLS error", request_sent=False, transient=False)
    assert error_from_dict(error_to_dict(tls)).transient is False
    other = error_from_dict(error_to_dict(KeyError("x")))
    assert type(other) is FateFlowError and str(other) == "KeyError: 'x'"


def test_progress_is_reported_once_per_change():
    progress, watch = Progress(), JobWatch("J")
    lines = [progress.change(watch, rows) for rows in (
        [_job("guest", 9999, "running", True, progress=10)], [_job("guest", 9999, "running", True, progress=10)],
        [_job("guest", 9999, "running", True, progress=40)])]
    assert lines[0] == "FATE job J is running (progress 10%) on guest/9999" and lines[1] is None
    assert "40%" in lines[2]


def test_events_refuse_what_is_not_one():
    with pytest.raises(FateFlowInputError):
        WaitEvent.from_dict({"outcome": "exploded"})
    with pytest.raises(FateFlowInputError):
        WaitEvent.from_dict(None)
    with pytest.raises(FateFlowInputError):
        WaitEvent.from_dict({"status": "weird"})
