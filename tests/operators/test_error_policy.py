"""Airflow's retry policy for FATE errors (common.task_error): retries only where a retry can help."""
from __future__ import annotations

import pytest

from airflow_provider_fateflow.client.errors import (
    FateFlowAuthError,
    FateFlowConnectionError,
    FateFlowDeadlineError,
    FateFlowInputError,
    FateFlowJobFailedError,
)
from airflow_provider_fateflow.common import AirflowFailException, AirflowSensorTimeout, no_retry, task_error
from airflow_provider_fateflow.operators.component import ComponentMetricsOperator, MetricThresholdError
from airflow_provider_fateflow.operators.job import StopJobOperator
from operators.helpers import make_context


@pytest.mark.parametrize("err", [
    FateFlowInputError("job_id: missing"),
    FateFlowAuthError("wrong signature", reason="bad_signature", retcode=109, http_status=200),
])
def test_what_a_retry_cannot_fix_fails_without_one_and_keeps_its_type(err):
    mapped = task_error(err)
    assert isinstance(mapped, AirflowFailException) and isinstance(mapped, type(err))
    assert str(mapped) == str(err) and type(mapped).__name__ == type(err).__name__
    assert mapped.__dict__ == err.__dict__


@pytest.mark.parametrize("err", [
    FateFlowJobFailedError(job_id="1", status="failed"),  # a new job may succeed
    FateFlowConnectionError("cannot connect"),
    FateFlowDeadlineError("too slow", job_id="1", status="timeout"),
])
def test_what_a_retry_may_fix_is_left_to_retries(err):
    assert task_error(err) is err


def test_a_sensor_deadline_is_airflows_sensor_timeout():
    err = FateFlowDeadlineError("did not finish before the sensor's timeout", job_id="1", status="timeout",
                                deadline_reason="sensor_timeout")
    mapped = task_error(err, sensor=True)
    assert isinstance(mapped, AirflowSensorTimeout) and isinstance(mapped, FateFlowDeadlineError)


def test_operators_apply_the_policy_to_execute(sb):
    with pytest.raises(FateFlowInputError) as err:
        StopJobOperator(task_id="stop", job_id="").execute(make_context())
    assert isinstance(err.value, AirflowFailException)


def test_a_missed_threshold_is_not_retried(sb):
    miss = no_retry(MetricThresholdError("auc = 0.5 (wants >= 0.9)"))
    assert isinstance(miss, MetricThresholdError) and isinstance(miss, AirflowFailException)
    assert ComponentMetricsOperator.execute.__fateflow_policy__
