"""A slow server: answers arrive after the client's read timeout (0.5 s here). What happens depends on whether
repeating the request is safe, and the task log says which:

- a submit is never resent: its lost answer is looked up by marker, and the job is found once the server
  has created it;
- status queries are retried, then the wait goes on until the server answers in time again;
- a stop is not repeated: the task fails with the read timeout (the server did stop the job, once).

The server's own request log (``log_requests``) counts what reached it.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pendulum
import pytest
from _resilience_helpers import set_conn, states

from airflow_provider_fateflow.client.errors import FateFlowTimeoutError
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.testing import FateFlowSandbox
from operators.helpers import toy_conf, toy_dsl

CONN_ID = "fateflow_slow"
READ_TIMEOUT = 0.5
LATENCY = 1.0
HOOK = {"read_timeout": READ_TIMEOUT, "retry_limit": 3, "retry_delay": 0.05, "retry_max_delay": 0.1}


@pytest.fixture
def flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FateFlowSandbox]:
    with FateFlowSandbox(pace=0.0, log_requests=True) as sb:
        set_conn(monkeypatch, CONN_ID, sb.port)
        yield sb


def _dag(sb: FateFlowSandbox, running_job: str) -> Any:
    from airflow.sdk import DAG
    from airflow.providers.standard.operators.python import PythonOperator

    from airflow_provider_fateflow.operators.job import StopJobOperator, SubmitJobOperator
    from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor

    def slow_down_queries() -> None:
        sb.set_faults(route="job/query", latency=LATENCY)

    class FastAgainAfterTwoSlowPokes(JobStatusSensor):
        """The server answers status queries in time again once two pokes have timed out."""

        timed_out = 0

        def _check(self, context: Any) -> Any:
            try:
                return super()._check(context)
            except FateFlowTimeoutError:
                FastAgainAfterTwoSlowPokes.timed_out += 1
                if FastAgainAfterTwoSlowPokes.timed_out == 2:
                    sb.set_faults(route="job/query")
                raise

    common = {"fateflow_conn_id": CONN_ID, "hook_params": HOOK}
    with DAG("resilience_slow_server", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             catchup=False) as dag:
        submit = SubmitJobOperator(task_id="slow_submit", conf=toy_conf(), dsl=toy_dsl(), poll_interval=0.1,
                                   deferrable=False, **common)
        slow = PythonOperator(task_id="slow_down_queries", python_callable=slow_down_queries)
        sensor = FastAgainAfterTwoSlowPokes(task_id="slow_sensor", job_id="{{ ti.xcom_pull(task_ids='slow_submit') }}",
                                 mode="poke", poke_interval=0.2, timeout=60, deferrable=False, **common)
        StopJobOperator(task_id="slow_stop", job_id=running_job, **common)
        submit >> slow >> sensor
    return dag


def _requests(caplog: pytest.LogCaptureFixture, route: str) -> int:
    return sum(1 for r in caplog.records if r.name == "fateflow_sandbox" and f" /v1/{route} " in r.getMessage())


def test_slow_answers_are_retried_only_where_safe(flow, run_dag, task_log, caplog):
    running = FateFlowHook(CONN_ID).job.submit(toy_conf(seconds=60), toy_dsl()).job_id
    flow.set_faults(route="job/submit", latency=LATENCY)
    flow.set_faults(route="job/stop", latency=LATENCY)
    dr = run_dag(_dag(flow, running))
    flow.clear_faults()
    log = task_log()

    assert states(dr) == {"slow_submit": "success", "slow_down_queries": "success", "slow_sensor": "success",
                          "slow_stop": "failed"}
    # the submit: sent once, its answer lost to the read timeout, the job found by its marker
    assert _requests(caplog, "job/submit") == 2  # the prepared job, and the task's
    assert flow.jobs_count() == 2
    assert "job.submit: answer lost (job.submit: read timeout" in log
    assert "by its marker" in log
    # the status queries: retried, and the sensor kept waiting until the server was fast again
    assert "job.query: attempt 1 of 3 failed (job.query: read timeout" in log
    assert "FATE Flow is unreachable or busy (job.query: read timeout" in log
    # the stop: sent once, never repeated; the task failed with the timeout, and the server did stop the job
    assert _requests(caplog, "job/stop") == 1
    assert "job.stop: attempt" not in log
    assert "FateFlowTimeoutError" in log and "job.stop: read timeout" in log
    hook = FateFlowHook(CONN_ID)
    assert hook.job.query(job_id=running, role="guest", party_id=9999)[0].status.value == "canceled"
