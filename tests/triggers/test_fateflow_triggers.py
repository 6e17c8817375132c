"""Triggers: serialization, one event per run against the sandbox, deadlines, outages, loop lag."""
from __future__ import annotations

import asyncio
import gc
import os
import random
import time

import pytest

from airflow_provider_fateflow.client.aio import AsyncTransport
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


def test_success_event_carries_the_final_record(sb):
    job_id = _submit(toy_conf(seconds=0.5))
    event = _run(_job_trigger(job_id))
    assert event["status"] == "success" and event["job_status"] == "success"
    assert event["record"]["f_job_id"] == job_id and "f_runtime_conf" not in event["record"]


def test_failed_event_and_the_resumed_task_reports_fates_reason(sb, capfd):
    from airflow_provider_fateflow.client.errors import FateFlowJobFailedError
    from airflow_provider_fateflow.operators.job import SubmitJobOperator
    from operators.helpers import make_context

    job_id = _submit(toy_conf(fail="kaput"))
    event = _run(_job_trigger(job_id))
    assert event["status"] == "failed" and event["reason"] == "job" and event["record"]["f_status"] == "failed"
    op = SubmitJobOperator(task_id="t", conf={})
    with pytest.raises(FateFlowJobFailedError, match="secure_add_example_0 failed on guest/9999: .*kaput"):
        op.execute_complete(make_context(), event=event, job={"job_id": job_id, "role": "guest", "party_id": 9999})
    assert "on host/10000" in "".join(capfd.readouterr())


def test_target_statuses(sb):
    job_id = _submit(toy_conf(seconds=3))
    event = _run(_job_trigger(job_id, target_statuses=["running"]))
    assert event["status"] == "success" and event["job_status"] == "running"
    job_id = _submit(toy_conf(fail="x"))
    assert _run(_job_trigger(job_id, target_statuses=["failed", "success"]))["status"] == "success"


def test_deadline_stops_the_job(sb):
    job_id = _submit(toy_conf(seconds=30))
    t0 = time.monotonic()
    event = _run(_job_trigger(job_id, deadline=time.time() + 0.5, deadline_reason="execution_timeout"))
    assert time.monotonic() - t0 < 5
    assert event["status"] == "timeout" and event["reason"] == "execution_timeout" and event["stopped"] is True
    assert _status(job_id) == "canceled"


def test_unknown_job_and_wrong_party_are_clear_errors(sb):
    event = _run(_job_trigger("20990101000000000000", not_found_timeout=0.3))
    assert event["status"] == "error" and event["reason"] == "not_found"
    assert "not found" in event["message"]
    job_id = _submit()
    event = _run(_job_trigger(job_id, role="host", party_id=12345))
    assert event["reason"] == "bad_party" and "guest/9999" in event["message"] and "host/10000" in event["message"]


def test_transient_outage_is_retried_not_an_error(sb):
    job_id = _submit(toy_conf(seconds=1.5))
    sb.outage(1.0)
    event = _run(_job_trigger(job_id, poll_interval=0.2, hook_params={"retry_limit": 1}))
    assert event["status"] == "success"


def test_exceptions_become_one_error_event(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", '{"conn_type": "fateflow", "host": "127.0.0.1", "port": 1, '
                                              '"extra": {"api_version": "v9"}}')
    event = _run(_job_trigger("1", fateflow_conn_id="broken"))
    assert event["status"] == "error" and "v9" in event["message"]


def test_task_and_table_triggers(sb):
    job_id = _submit(toy_conf(seconds=0.5))
    event = _run(TaskStatusTrigger(job_id=job_id, component_name="secure_add_example_0", poll_interval=0.1))
    assert event["status"] == "success" and event["task_status"] == "success"
    bad = _submit(toy_conf(fail="nope"))
    event = _run(TaskStatusTrigger(job_id=bad, component_name="secure_add_example_0", role="host",
                                   party_id=10000, poll_interval=0.1))
    assert event["status"] == "failed" and "nope" in event["message"]
    event = _run(TableExistsTrigger(namespace="no", table_name="such", poll_interval=0.1, deadline=time.time() + 0.4,
                                    deadline_reason="sensor_timeout"))
    assert event["status"] == "timeout"


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


def test_no_poll_blocks_the_event_loop():
    """50 triggers poll a sandbox in another process; a watchdog measures how late the loop wakes up."""
    from airflow_provider_fateflow.testing import FateFlowSandbox

    count, poll = 50, 0.2
    with FateFlowSandbox(pace=0.0, subprocess=True) as box:
        old = os.environ.get("AIRFLOW_CONN_FATEFLOW_DEFAULT")
        os.environ["AIRFLOW_CONN_FATEFLOW_DEFAULT"] = conn_json(box.port)
        try:
            hook = FateFlowHook()
            rng = random.Random(7)
            jobs = [hook.job.submit(toy_conf(seconds=rng.uniform(0.5, 2.5)), toy_dsl()).job_id for _ in range(count)]
            requests = 0
            original = AsyncTransport.arun

            async def counting(self, call):
                nonlocal requests
                requests += 1
                return await original(self, call)

            async def main():
                lags = []
                done = asyncio.Event()

                async def watchdog():
                    while not done.is_set():
                        t = time.perf_counter()
                        await asyncio.sleep(0.005)
                        lags.append(time.perf_counter() - t - 0.005)

                # one-time process warm-up (first connection lookup, the shared TLS context), as in a running
                # triggerer; what is measured is the steady state of many triggers polling
                await (await _job_trigger(jobs[0])._client()).aclose()
                dog = asyncio.ensure_future(watchdog())
                t0 = time.monotonic()
                results = await asyncio.gather(*[_events(_job_trigger(j, poll_interval=poll)) for j in jobs])
                elapsed = time.monotonic() - t0
                done.set()
                await dog
                return results, lags, elapsed

            AsyncTransport.arun = counting
            # A full garbage collection of this process (Airflow, the test session and its sandbox thread
            # loaded) alone takes tens of ms; a triggerer freezes its startup heap. Measure the triggers.
            gc.collect()
            gc.freeze()
            try:
                results, lags, elapsed = asyncio.run(main())
            finally:
                gc.unfreeze()
                AsyncTransport.arun = original
        finally:
            if old is not None:
                os.environ["AIRFLOW_CONN_FATEFLOW_DEFAULT"] = old
    assert all(len(r) == 1 and r[0]["status"] == "success" for r in results)
    assert max(lags) < 0.050, f"the event loop was blocked for {max(lags) * 1000:.1f} ms"
    assert requests <= count * (elapsed / poll + 2), (requests, elapsed)
