"""Lost answers and transient faults, injected by the sandbox on real connections.

A create call (submit, upload) is never resent: after a lost answer the client finds the job it created.
Idempotent calls (queries, lists, info, downloads) are retried with backoff; other calls are not.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _integration_helpers import (
    GUEST,
    Server,
    Trained,
    count_requests,
    example,
    upload_conf,
    wait_job,
)

from airflow_provider_fateflow.client import (
    FateFlowAmbiguousSubmitError,
    FateFlowApiError,
    FateFlowConnectionError,
    JobStatus,
)
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook


@pytest.fixture(autouse=True)
def no_faults_left(server: Server) -> Iterator[None]:
    yield
    server.sandbox.clear_faults()


@pytest.fixture
def sleeps(hook: FateFlowHook) -> list[float]:
    """Backoff and recovery delays are recorded instead of slept."""
    recorded: list[float] = []
    hook.client.transport.sleep = recorded.append
    return recorded


# -- lost answers of create calls ------------------------------------------------------------------------------


def test_submit_answer_lost_recovers_the_job(hook: FateFlowHook, server: Server, monkeypatch):
    before = server.sandbox.jobs_count()
    sent = count_requests(monkeypatch, hook)
    server.sandbox.set_faults(route="job/submit", lose_response=1)
    result = hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json"))
    assert result.recovered and result.job_id.isdigit()
    assert result.marker and (result.model_id, result.model_version) == ("guest-9999#host-10000#model", result.job_id)
    assert result.board_url.endswith(f"job_id={result.job_id}&role=guest&party_id={GUEST}")
    assert server.sandbox.jobs_count() == before + 1  # exactly one job: never resubmitted
    assert sent.paths().count("job/submit") == 1 and "job/list/job" in sent.paths()
    assert wait_job(hook, result.job_id) is JobStatus.SUCCESS


@pytest.mark.parametrize("server_file", [False, True], ids=["client file", "server file"])
def test_upload_answer_lost_recovers_the_job(hook: FateFlowHook, server: Server, monkeypatch, server_file: bool):
    table = f"lost_upload_{int(server_file)}"
    before = server.sandbox.jobs_count()
    sent = count_requests(monkeypatch, hook)
    server.sandbox.set_faults(route="data/upload", lose_response=1)
    result = hook.data.upload(upload_conf(table, server_file=server_file), drop=True)
    assert result.recovered and (result.namespace, result.table_name) == ("experiment", table)
    assert server.sandbox.jobs_count() == before + 1
    assert sent.paths().count("data/upload") == 1
    assert wait_job(hook, result.job_id, "local", 0) is JobStatus.SUCCESS
    assert hook.table.info("experiment", table).count == 200


def test_submit_dropped_before_processing_is_ambiguous(hook: FateFlowHook, server: Server, sleeps):
    before = server.sandbox.jobs_count()
    server.sandbox.set_faults(route="job/submit", drop_rate=1.0)
    with pytest.raises(FateFlowAmbiguousSubmitError) as err:
        hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json"), marker="lost-1")
    assert err.value.marker == "lost-1" and "no job with marker lost-1 was found" in str(err.value)
    assert isinstance(err.value.cause, FateFlowConnectionError) and err.value.cause.request_sent
    assert not err.value.transient
    assert server.sandbox.jobs_count() == before


def test_upload_dropped_before_processing_is_ambiguous(hook: FateFlowHook, server: Server, sleeps):
    before = server.sandbox.jobs_count()
    server.sandbox.set_faults(route="data/upload", drop_rate=1.0)
    with pytest.raises(FateFlowAmbiguousSubmitError) as err:
        hook.data.upload(upload_conf("dropped_upload"), drop=True)
    assert "no recent upload job of experiment/dropped_upload was found" in str(err.value)
    assert server.sandbox.jobs_count() == before
    # the recovery lookups waited (here: recorded) between tries; the upload itself was not resent
    assert sleeps == [d for d in hook.job.recovery_delays if d]  # the client's own settings, not the class default


# -- retries of idempotent calls ---------------------------------------------------------------------------------


def test_idempotent_query_retried_through_503s(hook: FateFlowHook, server: Server, trained: Trained, monkeypatch,
                                               sleeps):
    sent = count_requests(monkeypatch, hook)
    server.sandbox.set_faults(route="job/query", error_rate=0.5)  # requests 2, 4, 6... answer 503
    for _ in range(3):
        assert len(hook.job.query(job_id=trained.train_job)) == 3
    assert len(sent) == 5 and len(sleeps) == 2
    assert all(0 < s <= 0.05 for s in sleeps)  # the connection's retry_delay / retry_max_delay


@pytest.mark.parametrize("fault", ["error_rate", "drop_rate", "lose_response"])
def test_idempotent_calls_retried_through_each_fault(hook: FateFlowHook, server: Server, trained: Trained, monkeypatch,
                                                     sleeps, tmp_path: Path, fault: str):
    sent = count_requests(monkeypatch, hook)
    for route in ("table/table_info", "job/log/download", "tracking/component/list"):
        # rates: the second request of each route fails; lose_response: the first one
        server.sandbox.set_faults(route=route, **{fault: 1 if fault == "lose_response" else 0.5})
    for attempt in ("a", "b"):
        assert hook.table.info("experiment", "breast_hetero_guest").exists
        assert (hook.job.log(trained.train_job, tmp_path / attempt) / "fate_flow_schedule.log").is_file()
        assert hook.component.list(trained.train_job)
    assert len(sent) == 9 and len(sleeps) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no partial download left behind
    assert [p.name for p in (tmp_path / "a").iterdir()] == [f"job_{trained.train_job}_log"]


def test_idempotent_call_gives_up_after_retry_limit(make_hook, server: Server, monkeypatch):
    hook = make_hook(retry_limit="3")
    hook.client.transport.sleep = lambda s: None
    sent = count_requests(monkeypatch, hook)
    server.sandbox.set_faults(route="job/list/job", error_rate=1.0)
    with pytest.raises(FateFlowApiError) as err:
        hook.job.list()
    assert type(err.value) is FateFlowApiError and err.value.transient
    assert err.value.http_status == 503 and "retcode 503" in str(err.value)
    assert "Service Unavailable" in str(err.value)
    assert len(sent) == 3


def test_non_idempotent_call_not_retried(hook: FateFlowHook, server: Server, trained: Trained, monkeypatch, sleeps):
    sent = count_requests(monkeypatch, hook)
    server.sandbox.set_faults(route="job/stop", error_rate=1.0)
    with pytest.raises(FateFlowApiError) as err:
        hook.job.stop(trained.train_job)
    assert err.value.http_status == 503 and err.value.transient  # Airflow may retry the task; the hook did not
    assert len(sent) == 1 and sleeps == []
