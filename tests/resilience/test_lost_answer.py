"""Lost answers, at the task level: FATE Flow accepts a submit (and an upload), then the connection drops before
its answer arrives. The operator finds the job it created instead of creating a second one; the server holds
exactly one job per task. When the connection drops *before* FATE Flow processed the submit, no job carries
the marker, and the operator submits again with the same marker. A worker lost after an upload was submitted
is the same story one level up: the task's retry finds the upload by its table and reattaches.

The client-level cases (the lookup requests, the not-found ambiguity) are in
``tests/integration/test_integration_faults.py`` and ``tests/client/test_client_retry_recovery.py``.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pendulum
import pytest
from _resilience_helpers import FAST_RETRY, set_conn, states, task_instances, xcoms

from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.operators.data import UploadDataOperator
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.testing import FateFlowSandbox
from operators.helpers import EXAMPLES, toy_conf, toy_dsl

CONN_ID = "fateflow_lost"


@pytest.fixture
def flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FateFlowSandbox]:
    with FateFlowSandbox(pace=0.0) as sb:  # a fresh server, to count its jobs
        set_conn(monkeypatch, CONN_ID, sb.port)
        yield sb


class _UploadDiesOnFirstTry(UploadDataOperator):
    """The worker is lost right after the upload was submitted (first try only)."""

    def _push_job_xcoms(self, context: Any, ref: Any) -> None:
        super()._push_job_xcoms(context, ref)
        if context["ti"].try_number == 1:
            raise RuntimeError(f"worker lost while waiting for upload job {ref.job_id}")


def _dag() -> Any:
    from airflow.sdk import DAG

    common = {"fateflow_conn_id": CONN_ID, "poll_interval": 0.1, "hook_params": FAST_RETRY, "deferrable": False}
    upload = {"file": str(EXAMPLES / "guest.csv"), "namespace": "resilience", "drop": True, **common}
    with DAG("resilience_lost_answer", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             catchup=False) as dag:
        for task_id in ("submit", "submit_2"):
            SubmitJobOperator(task_id=task_id, conf=toy_conf(), dsl=toy_dsl(), **common)
        lost = UploadDataOperator(task_id="upload", table_name="lost_answer", **upload)
        retried = _UploadDiesOnFirstTry(task_id="upload_retried", table_name="worker_lost", retries=1,
                                        retry_delay=timedelta(0), **upload)
        lost >> retried  # the lost answer hits the first upload
    return dag


def _count_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations this process sends (the tasks of ``dag.test()`` run in it)."""
    from airflow_provider_fateflow.client.transport import Transport

    sent: list[str] = []
    attempt = Transport._attempt

    def counted(self: Transport, call: Any) -> Any:
        sent.append(call.operation)
        return attempt(self, call)

    monkeypatch.setattr(Transport, "_attempt", counted)
    return sent


def test_operators_find_the_job_whose_answer_was_lost(flow, run_dag, quick_recovery, task_log, monkeypatch):
    # the retry finds the upload on the server (Airflow 3.1's way, and 3.3's after a crash between the submit
    # and saving the job id in the task state store), not in the state store
    from airflow_provider_fateflow.operators import base

    monkeypatch.setattr(base, "AIRFLOW_V_3_3_PLUS", False)
    sent = _count_requests(monkeypatch)
    # job/submit: the 1st request is processed and its answer lost; the 2nd is dropped before processing
    flow.set_faults(route="job/submit", lose_response=1, drop_rate=0.5)
    flow.set_faults(route="data/upload", lose_response=1)
    dr = run_dag(_dag())
    log = task_log()

    assert dr.state == "success", states(dr)
    tries = {task_id: ti.try_number for task_id, ti in task_instances(dr).items()}
    assert tries == {"submit": 1, "submit_2": 1, "upload": 1, "upload_retried": 2}
    assert flow.jobs_count() == 4, "one FATE job per task: nothing was submitted twice"
    values = xcoms(dr)
    hook = FateFlowHook(CONN_ID)
    job_ids = [values[(task_id, "return_value")] for task_id in ("submit", "submit_2")]
    for job_id in job_ids:
        assert hook.job.query(job_id=job_id, role="guest", party_id=9999)[0].status.value == "success"
    for task, table in (("upload", "lost_answer"), ("upload_retried", "worker_lost")):
        result = values[(task, "return_value")]
        assert (result["table_name"], result["count"]) == (table, 200)
        assert hook.job.query(job_id=result["job_id"], role="local", party_id=0)[0].status.value == "success"
    # the task logs say what happened
    # three submits reached the server: one processed (answer lost), one dropped, and that one sent again
    assert sent.count("job.submit") == 3 and sent.count("data.upload") == 2
    assert "job.submit: answer lost" in log
    found = [job_id for job_id in job_ids if f"found job {job_id} by its marker" in log]
    assert len(found) == 1, "the processed submit was found by its marker"
    assert "no job with marker" in log and "Submitting again." in log, "the dropped one was sent again"
    assert "data.upload: answer lost" in log and "looking for the upload job of resilience/lost_answer" in log
    assert "worker lost while waiting for upload job" in log
    assert "Reattaching to FATE upload job" in log


@pytest.mark.parametrize("case, faults, submits, searched", [
    # the server answers the lookups, and has no job with the marker: sent again, up to retry_limit times
    ("server_has_no_such_job", {"job/submit": {"drop_rate": 1.0}}, 3, True),
    # the lookups fail too: the server could not say, so the submit is not sent again
    ("lookups_fail", {"job/submit": {"drop_rate": 1.0}, "job/list/job": {"drop_rate": 1.0}}, 1, False),
    # a read timeout: the server may still be creating the job, so it is not sent again
    ("read_timeout", {"job/submit": {"drop_rate": 1.0, "latency": 0.5}}, 1, True),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_submit_is_sent_again_only_when_the_server_says_it_has_no_such_job(
        flow, quick_recovery, monkeypatch, case, faults, submits, searched):
    from airflow_provider_fateflow.client.errors import FateFlowAmbiguousSubmitError, FateFlowTimeoutError
    from operators.helpers import FakeTI, make_context

    sent = _count_requests(monkeypatch)
    for route, fault in faults.items():
        flow.set_faults(route=route, **fault)
    op = SubmitJobOperator(task_id="submit", conf=toy_conf(), dsl=toy_dsl(), fateflow_conn_id=CONN_ID,
                           deferrable=False, hook_params={**FAST_RETRY, "retry_limit": 3, "read_timeout": 0.3})
    with pytest.raises(FateFlowAmbiguousSubmitError) as err:
        op.execute(make_context(FakeTI(task_id="submit")))
    assert sent.count("job.submit") == submits and err.value.searched is searched
    assert isinstance(err.value.cause, FateFlowTimeoutError) is (case == "read_timeout")
    assert "the job may or may not exist" in str(err.value)
    assert flow.jobs_count() == 0


@pytest.mark.parametrize("use_store", [False, True], ids=["marker_lookup", "task_state_store"])
def test_a_retry_that_cannot_tell_whether_its_job_exists_submits_nothing(flow, monkeypatch, use_store):
    """The earlier try's job is looked up on the server (by marker, or by the id in the task state store); when
    FATE Flow cannot answer that, the retry fails instead of submitting a second job, and the next one
    reattaches."""
    from airflow_provider_fateflow.client.errors import FateFlowApiError
    from airflow_provider_fateflow.operators import base
    from operators.helpers import FakeStateStore, FakeTI, make_context

    monkeypatch.setattr(base, "AIRFLOW_V_3_3_PLUS", use_store)
    store = FakeStateStore() if use_store else None

    def attempt(try_number: int) -> str:
        op = SubmitJobOperator(task_id="train", conf=toy_conf(), dsl=toy_dsl(), fateflow_conn_id=CONN_ID, retries=3,
                               wait_for_completion=False, hook_params={**FAST_RETRY, "retry_limit": 2})
        ti = FakeTI(task_id="train", max_tries=3, try_number=try_number)
        return op.execute(make_context(ti, **({"task_state_store": store} if store is not None else {})))

    first = attempt(1)
    flow.set_faults(route="job/query" if use_store else "job/list/job", error_rate=1.0)
    with pytest.raises(FateFlowApiError) as err:
        attempt(2)
    assert err.value.http_status == 503 and err.value.transient
    assert flow.jobs_count() == 1, "no second job"
    flow.clear_faults()
    assert attempt(3) == first and flow.jobs_count() == 1
