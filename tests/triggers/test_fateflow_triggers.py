"""Triggers: serialization, one event per run against the sandbox, deadlines, outages, loop lag."""
from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger, TableExistsTrigger, TaskStatusTrigger
from airflow_provider_fateflow.version_compat import AIRFLOW_V_3_3_PLUS
from operators.helpers import conn_json, toy_conf, toy_dsl


def _submit(conf=None):
    return FateFlowHook().job.submit(conf or toy_conf(), toy_dsl()).job_id


def _status(job_id):
    return FateFlowHook().job.query(job_id=job_id, role="guest", party_id=9999)[0].status.value


async def _events(trigger):
    return [e.payload async for e in trigger.run()]


def _run(trigger):
    events = asyncio.run(_events(trigger))
    assert len(events) == 1, events
    return events[0]


def _job_trigger(job_id, **kwargs):
    kwargs.setdefault("role", "guest")
    kwargs.setdefault("party_id", 9999)
    kwargs.setdefault("poll_interval", 0.1)
    return JobStatusTrigger(job_id=job_id, **kwargs)


@pytest.mark.parametrize("trigger", [
    JobStatusTrigger(job_id="1", role="guest", party_id=9999, poll_interval=3, deadline=1.5e9,
                     deadline_reason="deadline", stop_on_timeout=False, target_statuses=["running", "success"],
                     not_found_timeout=None, cancel_on_kill=False, hook_params={"read_timeout": 5}),
    TaskStatusTrigger(job_id="1", component_name="lr_0", role="host", party_id=1, target_statuses=["pass"],
                      fateflow_conn_id="other", deadline=2e9, hook_params={"retry_limit": 1}),
    TableExistsTrigger(namespace="ns", table_name="t", min_rows=10, poll_interval=1),
], ids=["job", "task", "table"])
def test_serialize_round_trip(trigger):
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    cls = getattr(__import__(module, fromlist=[name]), name)
    assert cls is type(trigger)
    assert cls(**kwargs).serialize() == (classpath, kwargs)
    import json

    assert json.loads(json.dumps(kwargs)) == kwargs


def test_success_event_carries_the_final_record_in_plain_names(sb):
    job_id = _submit(toy_conf(seconds=0.5))
    event = _run(_job_trigger(job_id))
    assert event["outcome"] == "succeeded" and event["status"] == "success" and event["version"] == 2
    assert event["record"]["job_id"] == job_id and event["record"]["status"] == "success"
    assert not [k for k in event["record"] if k.startswith("f_")] and "runtime_conf" not in event["record"]


def test_failed_event_and_the_resumed_task_reports_fates_reason(sb, capfd):
    from airflow_provider_fateflow.client.errors import FateFlowJobFailedError
    from airflow_provider_fateflow.operators.job import SubmitJobOperator
    from operators.helpers import make_context

    job_id = _submit(toy_conf(fail="kaput"))
    event = _run(_job_trigger(job_id))
    assert event["outcome"] == "failed" and event["status"] == "failed" and event["record"]["status"] == "failed"
    op = SubmitJobOperator(task_id="t", conf={})
    with pytest.raises(FateFlowJobFailedError, match="secure_add_example_0 failed on guest/9999: .*kaput"):
        op.execute_complete(make_context(), event=event, job={"job_id": job_id, "role": "guest", "party_id": 9999})
    assert "on host/10000" in "".join(capfd.readouterr())


def test_a_long_wait_logs_each_change_once_with_the_running_components(sb, capfd):
    job_id = _submit(toy_conf(seconds=1.5))
    event = _run(_job_trigger(job_id, poll_interval=0.05))
    assert event["outcome"] == "succeeded"
    log = "".join(capfd.readouterr())
    running = [line for line in log.splitlines() if f"FATE job {job_id} is running" in line]
    assert len(running) == 1, running  # once per change, not once per poll (about 30 polls ran)
    assert "running: secure_add_example_0" in running[0]
    assert f"FATE job {job_id} is success (succeeded)" in log  # the short line when it fires


def test_target_statuses(sb):
    job_id = _submit(toy_conf(seconds=3))
    event = _run(_job_trigger(job_id, target_statuses=["running"]))
    assert event["outcome"] == "succeeded" and event["status"] == "running"
    job_id = _submit(toy_conf(fail="x"))
    assert _run(_job_trigger(job_id, target_statuses=["failed", "success"]))["outcome"] == "succeeded"


def test_deadline_stops_the_job(sb):
    job_id = _submit(toy_conf(seconds=30))
    event = _run(_job_trigger(job_id, deadline=time.time() + 0.5, deadline_reason="execution_timeout"))
    assert event["outcome"] == "deadline" and event["deadline_reason"] == "execution_timeout"
    assert event["stopped"] is True and "execution_timeout" in event["message"]
    assert _status(job_id) == "canceled"


def test_unknown_job_and_wrong_party_are_clear_errors(sb):
    event = _run(_job_trigger("20990101000000000000", not_found_timeout=0.3))
    assert event["outcome"] == "not_found" and "not found" in event["message"]
    job_id = _submit()
    event = _run(_job_trigger(job_id, role="host", party_id=12345))
    assert event["outcome"] == "wrong_party"
    assert "guest/9999" in event["message"] and "host/10000" in event["message"]


def test_without_a_party_the_initiator_is_watched(sb):
    """A standalone server lists the arbiter's row first; the wait must judge the initiator's (the guest)."""
    job_id = _submit(toy_conf(seconds=0.3))
    event = _run(JobStatusTrigger(job_id=job_id, poll_interval=0.1))
    assert event["outcome"] == "succeeded"
    assert (event["role"], event["party_id"]) == ("guest", 9999) and event["record"]["is_initiator"] is True


def test_transient_outage_is_retried_not_an_error(sb):
    job_id = _submit(toy_conf(seconds=1.5))
    sb.outage(1.0)
    event = _run(_job_trigger(job_id, poll_interval=0.2, hook_params={"retry_limit": 1}))
    assert event["status"] == "success"


def test_exceptions_become_one_error_event_that_keeps_their_type(sb, monkeypatch):
    from airflow_provider_fateflow.client.errors import FateFlowAuthError
    from airflow_provider_fateflow.client.wait import WaitEvent

    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", '{"conn_type": "fateflow", "host": "127.0.0.1", "port": 1, '
                                              '"extra": {"api_version": "v9"}}')
    event = _run(_job_trigger("1", fateflow_conn_id="broken"))
    assert event["outcome"] == "error" and "v9" in event["message"]
    # a secret rotated while the trigger waits: the task raises FateFlowAuthError, as a poke does
    job_id = _submit(toy_conf(seconds=30))
    sb.configure(auth=("key", "other-secret"))
    try:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNED", conn_json(sb.port).replace('"host"', '"login": "key", '
                                                                             '"password": "old-secret", "host"'))
        event = _run(_job_trigger(job_id, fateflow_conn_id="signed"))
    finally:
        sb.configure(auth=None)
    assert event["outcome"] == "error" and event["error"]["type"] == "FateFlowAuthError"
    err = WaitEvent.from_dict(event).exception()
    assert isinstance(err, FateFlowAuthError) and err.reason == "bad_signature" and err.retcode == 109
    assert "old-secret" not in str(event)


def test_a_connection_missing_for_a_while_is_waited_for(sb, monkeypatch):
    """A PostgreSQL restart makes the triggerer's connection lookup fail ("conn_id isn't defined"): the trigger
    tries again instead of failing the task."""
    job_id = _submit(toy_conf(seconds=0.3))
    monkeypatch.delenv("AIRFLOW_CONN_LATE", raising=False)

    async def main():
        async def define_later():
            await asyncio.sleep(0.8)
            monkeypatch.setenv("AIRFLOW_CONN_LATE", conn_json(sb.port))

        later = asyncio.ensure_future(define_later())
        events = await _events(_job_trigger(job_id, fateflow_conn_id="late"))
        await later
        return events

    (event,) = asyncio.run(main())
    assert event["outcome"] == "succeeded", event


def test_task_and_table_triggers(sb):
    job_id = _submit(toy_conf(seconds=0.5))
    event = _run(TaskStatusTrigger(job_id=job_id, component_name="secure_add_example_0", poll_interval=0.1))
    assert event["outcome"] == "succeeded" and event["status"] == "success"
    assert event["record"]["component_name"] == "secure_add_example_0"
    bad = _submit(toy_conf(fail="nope"))
    event = _run(TaskStatusTrigger(job_id=bad, component_name="secure_add_example_0", role="host",
                                   party_id=10000, poll_interval=0.1))
    assert event["outcome"] == "failed" and "nope" in event["message"] and "nope" in event["record"]["error_report"]
    event = _run(TableExistsTrigger(namespace="no", table_name="such", poll_interval=0.1, deadline=time.time() + 0.4,
                                    deadline_reason="sensor_timeout"))
    assert event["outcome"] == "deadline" and event["deadline_reason"] == "sensor_timeout"


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="BaseTrigger.on_kill arrived in Airflow 3.3")
def test_on_kill_stops_the_job(sb):
    job_id = _submit(toy_conf(seconds=30))

    async def main():
        trigger = _job_trigger(job_id)
        task = asyncio.ensure_future(_events(trigger))
        await asyncio.sleep(0.3)
        task.cancel()  # the triggerer cancels the run, then calls on_kill
        await asyncio.gather(task, return_exceptions=True)
        await trigger.on_kill()

    asyncio.run(main())
    assert _status(job_id) == "canceled"
    assert _job_trigger(job_id, cancel_on_kill=False).on_kill  # present, and a no-op when disabled
    asyncio.run(_job_trigger(job_id, cancel_on_kill=False).on_kill())


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="BaseTrigger.on_kill arrived in Airflow 3.3")
@pytest.mark.parametrize("state, stopped", [("failed", True), ("success", True), (None, True),
                                            ("deferred", False), ("unreadable", False)])
def test_on_kill_stops_the_job_only_when_the_user_acted_on_the_task(sb, monkeypatch, state, stopped):
    """Airflow 3.3 calls on_kill on a triggerer that lost the trigger to another one (same cancel message): the
    task is still deferred there, and its FATE job must go on."""
    from types import SimpleNamespace

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    def states(dag_id, task_ids, run_ids, map_index):
        if state == "unreadable":
            raise RuntimeError("no supervisor")
        return {run_ids[0]: {task_ids[0]: state}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(states))
    job_id = _submit(toy_conf(seconds=30))
    trigger = _job_trigger(job_id)
    trigger.task_instance = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    asyncio.run(trigger.on_kill())
    assert (_status(job_id) == "canceled") is stopped
    FateFlowHook().job.stop(job_id)
