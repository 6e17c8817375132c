"""Sensors: poke semantics, failure reasons, grace periods, bad parties, deferral."""
from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_fateflow.client.errors import (
    FateFlowInputError,
    FateFlowJobCanceledError,
    FateFlowJobFailedError,
    FateFlowNotFoundError,
)
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor, TableExistsSensor, TaskStatusSensor
from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger, TableExistsTrigger, TaskStatusTrigger
from operators.helpers import FakeTI, make_context, toy_conf, toy_dsl

try:
    from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowSensorTimeout, TaskDeferred


def _submit(conf=None):
    return FateFlowHook().job.submit(conf or toy_conf(), toy_dsl()).job_id


def _wait(job_id):
    for _ in range(100):
        if FateFlowHook().job.query(job_id=job_id, role="guest", party_id=9999)[0].status.is_terminal:
            return
        time.sleep(0.05)


def _sensor(cls=JobStatusSensor, **kwargs):
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("deferrable", False)
    return cls(task_id=kwargs.pop("task_id", "sense"), **kwargs)


def test_job_sensor_success_returns_the_status_and_pushes_the_link(sb):
    job_id = _submit(toy_conf(seconds=0.5))
    ti = FakeTI()
    result = _sensor(job_id=job_id).execute(make_context(ti))
    assert result["status"] == "success" and result["job_id"] == job_id
    assert f"job_id={job_id}&role=guest&party_id=9999" in ti.xcoms["board_url"]


def test_job_sensor_fails_with_fates_reason_unless_targeted(sb, capfd):
    job_id = _submit(toy_conf(fail="disk full"))
    _wait(job_id)
    with pytest.raises(FateFlowJobFailedError, match="disk full"):
        _sensor(job_id=job_id).poke(make_context())
    assert "Failed components" in "".join(capfd.readouterr())
    assert _sensor(job_id=job_id, target_statuses=["failed"]).poke(make_context()).xcom_value["status"] == "failed"
    running = _submit(toy_conf(seconds=30))
    FateFlowHook().job.stop(running)
    with pytest.raises(FateFlowJobCanceledError):
        _sensor(job_id=running).poke(make_context())
    with pytest.raises(FateFlowInputError, match="unknown status"):
        _sensor(job_id=job_id, target_statuses=["finished"]).poke(make_context())


def test_unknown_job_fails_after_the_grace_period(sb):
    sensor = _sensor(job_id="20990101000000000001", not_found_timeout=0.3)
    assert sensor.poke(make_context()) is False
    time.sleep(0.35)
    with pytest.raises(FateFlowNotFoundError, match="not found"):
        sensor.poke(make_context())


def test_wrong_party_is_a_clear_error(sb):
    job_id = _submit()
    with pytest.raises(FateFlowInputError, match="no party host/1; it runs on guest/9999, host/10000"):
        _sensor(job_id=job_id, role="host", party_id=1).poke(make_context())
    with pytest.raises(FateFlowInputError, match="no party"):
        _sensor(TaskStatusSensor, job_id=job_id, component_name="secure_add_example_0", role="arbiter",
                party_id=9999).poke(make_context())


def test_task_sensor(sb):
    job_id = _submit(toy_conf(seconds=0.3))
    result = _sensor(TaskStatusSensor, job_id=job_id, component_name="secure_add_example_0").execute(make_context())
    assert result["status"] == "success"
    bad = _submit(toy_conf(fail="oom"))
    _wait(bad)
    with pytest.raises(FateFlowJobFailedError, match="oom"):
        _sensor(TaskStatusSensor, job_id=bad, component_name="secure_add_example_0").poke(make_context())


def test_table_sensor(sb, tmp_path):
    from airflow_provider_fateflow.operators.data import UploadDataOperator
    from operators.helpers import EXAMPLES

    assert _sensor(TableExistsSensor, namespace="sensing", table_name="t").poke(make_context()) is False
    UploadDataOperator(task_id="up", file=str(EXAMPLES / "guest.csv"), namespace="sensing", table_name="t",
                       drop=True, poll_interval=0.1).execute(make_context())
    result = _sensor(TableExistsSensor, namespace="sensing", table_name="t").poke(make_context()).xcom_value
    assert result["count"] > 0
    assert _sensor(TableExistsSensor, namespace="sensing", table_name="t",
                   min_rows=10 ** 9).poke(make_context()) is False
    with pytest.raises(FateFlowInputError, match="min_rows"):
        _sensor(TableExistsSensor, namespace="sensing", table_name="t", min_rows="x").poke(make_context())


@pytest.mark.parametrize("cls, kwargs, trigger_cls", [
    (JobStatusSensor, {}, JobStatusTrigger),
    (TaskStatusSensor, {"component_name": "secure_add_example_0"}, TaskStatusTrigger),
])
def test_deferrable_sensors_poke_once_then_defer(sb, cls, kwargs, trigger_cls):
    job_id = _submit(toy_conf(seconds=1.0))
    sensor = _sensor(cls, job_id=job_id, deferrable=True, timeout=60, **kwargs)
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    trigger = exc.value.trigger
    assert isinstance(trigger, trigger_cls) and trigger.deadline <= time.time() + 60
    classpath, kw = trigger.serialize()
    assert type(trigger)(**kw).serialize() == (classpath, kw)
    event = asyncio.run(_one(trigger))
    assert sensor.execute_complete(make_context(), event=event)["status"] == "success"


def test_deferrable_table_sensor_and_timeouts(sb):
    sensor = _sensor(TableExistsSensor, namespace="never", table_name="there", deferrable=True, timeout=0.5)
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    assert isinstance(exc.value.trigger, TableExistsTrigger)
    event = asyncio.run(_one(exc.value.trigger))
    assert event["outcome"] == "deadline"
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context(), event=event)


def _deferred_event(sensor):
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute(make_context())
    return asyncio.run(_one(exc.value.trigger))


def test_deferred_waits_raise_what_a_poke_raises(sb, capfd):
    """The same job, watched by poke and by the trigger: the same exception type and message."""
    bad = _submit(toy_conf(seconds=0.5, fail="boom: out of memory"))
    sensor = _sensor(job_id=bad, deferrable=True)
    event = _deferred_event(sensor)
    with pytest.raises(FateFlowJobFailedError, match="secure_add_example_0 failed on guest/9999: .*boom") as deferred:
        sensor.execute_complete(make_context(), event=event)
    with pytest.raises(FateFlowJobFailedError) as poked:
        _sensor(job_id=bad).execute(make_context())
    assert str(deferred.value) == str(poked.value)
    assert "Failed components" in "".join(capfd.readouterr())

    unknown = _sensor(job_id="20990101000000000000", deferrable=True, not_found_timeout=0.3)
    with pytest.raises(FateFlowNotFoundError, match="not found after"):
        unknown.execute_complete(make_context(), event=_deferred_event(unknown))
    wrong = _sensor(job_id=bad, role="host", party_id=1, deferrable=True)
    with pytest.raises(FateFlowInputError, match="has no party host/1"):
        wrong.execute(make_context())  # the first poke already knows


def test_deterministic_failures_fail_without_a_retry(sb):
    from airflow_provider_fateflow.common import AirflowFailException

    with pytest.raises(FateFlowInputError) as err:
        _sensor(job_id="").execute(make_context())
    assert isinstance(err.value, AirflowFailException)  # no retry: the same input fails again
    bad = _submit(toy_conf(fail="boom"))
    _wait(bad)
    with pytest.raises(FateFlowJobFailedError) as failed:
        _sensor(job_id=bad).execute(make_context())
    assert not isinstance(failed.value, AirflowFailException)  # a new run may succeed: retries apply


def test_already_done_is_not_deferred(sb):
    job_id = _submit()
    _wait(job_id)
    assert _sensor(job_id=job_id, deferrable=True).execute(make_context())["status"] == "success"


async def _one(trigger):
    events = [e.payload async for e in trigger.run()]
    assert len(events) == 1
    return events[0]
