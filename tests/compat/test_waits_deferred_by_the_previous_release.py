"""A wait deferred by the release before the wait redesign (04a5eac) resumes correctly with this one.

``payloads_04a5eac.json`` was captured by running that release's triggers against the sandbox: the kwargs its
operators and sensors serialized into the metadata database, and the events its triggers emitted (the
``error`` event is the one its trigger made of a rotated secret). A triggerer and workers upgraded while tasks
are deferred meet exactly these.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_fateflow.client.errors import (
    FateFlowAuthError,
    FateFlowDeadlineError,
    FateFlowInputError,
    FateFlowJobFailedError,
    FateFlowNotFoundError,
)
from airflow_provider_fateflow.client.wait import Outcome, WaitEvent
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor, TableExistsSensor, TaskStatusSensor
from airflow_provider_fateflow.triggers import fateflow as triggers
from operators.helpers import make_context

try:
    from airflow.sdk.exceptions import AirflowSensorTimeout
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowSensorTimeout

CAPTURED = json.loads((Path(__file__).parent / "payloads_04a5eac.json").read_text())
EVENTS = CAPTURED["events"]


@pytest.mark.parametrize("name", sorted(CAPTURED["triggers"]))
def test_serialized_kwargs_load_and_serialize_the_same(name):
    classpath, kwargs = CAPTURED["triggers"][name]
    cls = getattr(triggers, classpath.rsplit(".", 1)[1])
    assert f"{triggers.__name__}.{cls.__name__}" == classpath
    assert cls(**kwargs).serialize() == (classpath, kwargs)


@pytest.mark.parametrize("name, outcome", [
    ("job_success", Outcome.SUCCEEDED), ("job_failed", Outcome.FAILED), ("job_deadline_stopped", Outcome.DEADLINE),
    ("job_not_found", Outcome.NOT_FOUND), ("job_bad_party", Outcome.WRONG_PARTY),
    ("job_sensor_success", Outcome.SUCCEEDED), ("job_sensor_ended_otherwise", Outcome.FAILED),
    ("task_success", Outcome.SUCCEEDED), ("task_failed", Outcome.FAILED), ("table_timeout", Outcome.DEADLINE),
    ("table_success", Outcome.SUCCEEDED), ("error_exception", Outcome.ERROR),
])
def test_old_events_read_as_the_new_event(name, outcome):
    event = WaitEvent.from_dict(EVENTS[name])
    assert event.outcome is outcome
    assert not [key for key in event.record if key.startswith("f_")]
    assert WaitEvent.from_dict(event.to_dict()) == event


def test_an_operator_deferred_by_the_old_release_completes(sb):
    job = CAPTURED["operator_kwargs"]["job"]
    op = SubmitJobOperator(task_id="t", conf={}, deferrable=True)
    assert op.execute_complete(make_context(), event=EVENTS["job_success"], job=job) == job["job_id"]
    with pytest.raises(FateFlowJobFailedError, match=f"job {EVENTS['job_failed']['job_id']} ended with status failed"):
        op.execute_complete(make_context(), event=EVENTS["job_failed"], job={**job, "job_id": EVENTS["job_failed"]["job_id"]})
    with pytest.raises(FateFlowDeadlineError, match="did not finish before its deadline and was stopped"):
        op.execute_complete(make_context(), event=EVENTS["job_deadline_stopped"], job=job)
    with pytest.raises(FateFlowNotFoundError, match="not found"):
        op.execute_complete(make_context(), event=EVENTS["job_not_found"], job=job)
    with pytest.raises(FateFlowInputError, match="has no party"):
        op.execute_complete(make_context(), event=EVENTS["job_bad_party"], job=job)
    # the old error event kept only "FateFlowAuthError: <message>": the type comes back
    with pytest.raises(FateFlowAuthError, match="wrong signature"):
        op.execute_complete(make_context(), event=EVENTS["error_exception"], job=job)


def test_sensors_deferred_by_the_old_release_complete(sb):
    old = EVENTS["job_sensor_success"]
    result = JobStatusSensor(task_id="s", job_id=old["job_id"]).execute_complete(make_context(), event=old)
    assert result["status"] == "success" and result["record"]["job_id"] == old["job_id"]
    assert result["record"]["status"] == "success" and result["role"] == "guest"
    with pytest.raises(FateFlowJobFailedError, match="ended with status success"):  # waited for "failed"
        JobStatusSensor(task_id="s", job_id="1").execute_complete(make_context(),
                                                                   event=EVENTS["job_sensor_ended_otherwise"])
    task = TaskStatusSensor(task_id="s", job_id="1", component_name="secure_add_example_0")
    assert task.execute_complete(make_context(), event=EVENTS["task_success"])["status"] == "success"
    with pytest.raises(FateFlowJobFailedError, match="out of memory"):
        task.execute_complete(make_context(), event=EVENTS["task_failed"])
    table = TableExistsSensor(task_id="s", namespace="ns", table_name="t")
    assert table.execute_complete(make_context(), event=EVENTS["table_success"])["count"] > 0
    with pytest.raises(AirflowSensorTimeout):
        table.execute_complete(make_context(), event=EVENTS["table_timeout"])
