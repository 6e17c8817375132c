"""``hook.job``: every operation against the sandbox, with and without client authentication."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _integration_helpers import (
    BOARD,
    DEPLOY_COMPONENTS,
    EXAMPLES,
    GUEST,
    MODEL_ID,
    UNKNOWN_JOB,
    Server,
    Trained,
    assert_fate_error,
    example,
    wait_job,
)

from airflow_provider_fateflow.client import (
    FateFlowApiError,
    FateFlowNotFoundError,
    JobConfigFiles,
    JobList,
    JobRecord,
    JobStatus,
    SubmitResult,
)
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

TOY_MODEL_ID = "guest-9999#host-10000#model"


def board_link(job_id: str, role: str = "guest", party_id: int = GUEST) -> str:
    return f"{BOARD}/index.html#/dashboard?job_id={job_id}&role={role}&party_id={party_id}"


# -- submit ----------------------------------------------------------------------------------------------------


def test_submit_dicts(hook: FateFlowHook, server: Server):
    before = server.sandbox.jobs_count()
    result = hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json"))
    assert isinstance(result, SubmitResult) and not result.recovered
    assert result.job_id.isdigit() and len(result.job_id) >= 20
    assert (result.model_id, result.model_version) == (TOY_MODEL_ID, result.job_id)
    assert result.board_url == board_link(result.job_id)  # rebased on the connection's board_url
    assert result.marker and len(result.marker) == 32
    assert server.sandbox.jobs_count() == before + 1
    assert wait_job(hook, result.job_id) is JobStatus.SUCCESS
    row = hook.job.query(job_id=result.job_id, role="guest", party_id=GUEST)[0]
    assert row.runtime_conf["airflow"] == {"marker": result.marker}  # the marker travelled in the conf


@pytest.mark.parametrize("form", ["absolute str", "Path", "relative to the cwd"])
def test_submit_json_file_paths(hook: FateFlowHook, monkeypatch: pytest.MonkeyPatch, form: str):
    conf, dsl = EXAMPLES / "toy_example_conf.json", EXAMPLES / "toy_example_dsl.json"
    if form == "absolute str":
        conf, dsl = str(conf), str(dsl)
    elif form == "relative to the cwd":
        monkeypatch.chdir(EXAMPLES)
        conf, dsl = "toy_example_conf.json", "toy_example_dsl.json"
    result = hook.job.submit(conf, dsl)
    assert result.model_id == TOY_MODEL_ID
    assert wait_job(hook, result.job_id) is JobStatus.SUCCESS
    assert hook.job.query(job_id=result.job_id, role="guest", party_id=GUEST)[0].dsl == example("toy_example_dsl.json")


def test_submit_failure_unknown_module(hook: FateFlowHook, server: Server):
    before = server.sandbox.jobs_count()
    dsl = {"components": {"secure_add_example_0": {"module": "NoSuchModule"}}}
    with pytest.raises(FateFlowApiError) as err:
        hook.job.submit(EXAMPLES / "toy_example_conf.json", dsl)
    assert_fate_error(err.value, FateFlowApiError, 103, "NoSuchModule\\'s provider does not exist",
                      operation="job.submit")
    assert not err.value.transient
    # FATE keeps the job, failed and tagged submit_failed, at every party
    assert server.sandbox.jobs_count() == before + 1


# -- stop, query, clean ------------------------------------------------------------------------------------------


def test_stop_waiting_job(hook: FateFlowHook, server: Server):
    server.sandbox.hold(True)
    try:
        job_id = hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json")).job_id
        assert hook.job.query(job_id=job_id, role="guest", party_id=GUEST)[0].status is JobStatus.WAITING
        message = hook.job.stop(job_id)
    finally:
        server.sandbox.hold(False)
    assert message == "stop job on this party success; stop job on all party success"
    assert wait_job(hook, job_id) is JobStatus.CANCELED


def test_stop_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.job.stop(UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowNotFoundError, 102, "can not found job", operation="job.stop")


def test_query(hook: FateFlowHook, trained: Trained):
    rows = hook.job.query(job_id=trained.train_job)
    assert all(isinstance(r, JobRecord) for r in rows)
    assert sorted((r.role, r.party_id) for r in rows) == [("arbiter", 10000), ("guest", GUEST), ("host", 10000)]
    assert all(r.status is JobStatus.SUCCESS and r.progress == 100 for r in rows)
    (guest,) = hook.job.query(job_id=trained.train_job, role="guest", party_id=GUEST)
    assert guest.is_initiator and guest.dsl == example("hetero_lr_dsl.json")
    assert guest.create_time <= guest.start_time <= guest.end_time
    assert len(hook.job.query(job_id=trained.train_job, status=JobStatus.SUCCESS)) == 3
    assert hook.job.query(job_id=trained.train_job, status="failed") == []


def test_query_failure_unknown_job_is_an_empty_list(hook: FateFlowHook):
    # FATE answers retcode 0 with data [] for an unknown job: no error, no rows
    assert hook.job.query(job_id=UNKNOWN_JOB) == []


def test_clean(hook: FateFlowHook):
    job_id = hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json")).job_id
    assert wait_job(hook, job_id) is JobStatus.SUCCESS
    assert hook.job.clean(job_id) == "success"


def test_clean_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.job.clean(UNKNOWN_JOB, role="guest", party_id=GUEST)
    assert_fate_error(err.value, FateFlowNotFoundError, 100, "no found task", operation="job.clean")


# -- config, log ------------------------------------------------------------------------------------------------


def test_config(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    files = hook.job.config(trained.train_job, None, None, tmp_path)  # role/party from the connection
    assert isinstance(files, JobConfigFiles)
    assert files.directory == tmp_path / f"job_{trained.train_job}_config"
    assert sorted(p.name for p in files.directory.iterdir()) == [
        "dsl.json", "model_info.json", "runtime_conf.json", "train_runtime_conf.json"]
    assert json.loads(files.files["dsl"].read_text()) == example("hetero_lr_dsl.json")
    assert files.model_info == {"model_id": MODEL_ID, "model_version": trained.train_job}


def test_config_failure_unknown_job(hook: FateFlowHook, tmp_path: Path):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.job.config(UNKNOWN_JOB, "guest", GUEST, tmp_path)
    assert_fate_error(err.value, FateFlowNotFoundError, 101, "find job failed", operation="job.config")
    assert not any(tmp_path.iterdir())


def test_log(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    directory = hook.job.log(trained.train_job, tmp_path)
    assert directory == tmp_path / f"job_{trained.train_job}_log"
    files = {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}
    assert "fate_flow_schedule.log" in files
    assert any(f.startswith(f"guest/{GUEST}/") for f in files)
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]  # the archive itself is gone


def test_log_failure_unknown_job(hook: FateFlowHook, tmp_path: Path):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.job.log(UNKNOWN_JOB, tmp_path)
    assert_fate_error(err.value, FateFlowNotFoundError, 404, "not found. Please check if the job id is valid.",
                      operation="job.log", http_status=404)
    assert not any(tmp_path.iterdir())  # no partial directory, no temporary download left behind


# -- list, view, generate_dsl -------------------------------------------------------------------------------


def test_list(hook: FateFlowHook, trained: Trained):
    listing = hook.job.list(limit=0)
    assert isinstance(listing, JobList)
    assert listing.count == len(listing.jobs) >= 5
    times = [j.create_time for j in listing.jobs]
    assert times == sorted(times, reverse=True)  # newest first
    mine = hook.job.list(job_id=trained.train_job)
    assert mine.count == 3 and {j.job_id for j in mine.jobs} == {trained.train_job}
    page = hook.job.list(limit=2, page=1, role="local", order_by="create_time", order="asc")
    assert len(page.jobs) == 2 and all(j.role == "local" for j in page.jobs)
    assert hook.job.list(status=["success"], role="guest", party_id=GUEST).jobs


def test_list_failure_invalid_status(hook: FateFlowHook):
    with pytest.raises(FateFlowApiError) as err:
        hook.job.list(status="timeout")
    assert_fate_error(err.value, FateFlowApiError, 400, "Invalid parameter 'status'.", operation="job.list",
                      http_status=400)


def test_view(hook: FateFlowHook, trained: Trained):
    records = hook.job.view(trained.train_job, role="guest", party_id=GUEST)
    assert sorted(r["f_component_name"] for r in records) == ["data_transform_0", "hetero_lr_0", "reader_0"]
    assert all(r["f_table_namespace"] == f"output_data_{trained.train_job}_{r['f_component_name']}_0"
               for r in records)


def test_view_failure_unknown_job_is_an_empty_list(hook: FateFlowHook):
    assert hook.job.view(UNKNOWN_JOB) == []  # FATE's 101 "find data view failed" means "no records"


def test_generate_dsl(hook: FateFlowHook):
    from_list = hook.job.generate_dsl(EXAMPLES / "hetero_lr_dsl.json", DEPLOY_COMPONENTS)
    from_text = hook.job.generate_dsl(example("hetero_lr_dsl.json"), ", ".join(DEPLOY_COMPONENTS))
    assert from_list == from_text
    assert sorted(from_list["components"]) == sorted(DEPLOY_COMPONENTS)
    assert from_list["components"]["hetero_lr_0"]["input"]["model"] == ["pipeline.hetero_lr_0.model"]


def test_generate_dsl_failure_unknown_component(hook: FateFlowHook):
    with pytest.raises(FateFlowApiError) as err:
        hook.job.generate_dsl(example("hetero_lr_dsl.json"), ["reader_0", "no_such_cpn"])
    assert_fate_error(err.value, FateFlowApiError, 210, "DSL generating failed", operation="job.generate_dsl",
                      http_status=210)


# -- rerun, url, find_by_marker -------------------------------------------------------------------------------


def test_rerun_failed_job(hook: FateFlowHook, server: Server, trained: Trained):
    server.sandbox.behave(component="hetero_lr_0", fail="injected by the integration test")
    job_id = hook.job.submit(example("hetero_lr_conf.json"), example("hetero_lr_dsl.json")).job_id
    assert wait_job(hook, job_id) is JobStatus.FAILED
    failed = [t for t in hook.task.query(job_id=job_id, role="guest", party_id=GUEST) if t.status.is_failure]
    assert [t.component_name for t in failed] == ["hetero_lr_0"]
    assert failed[0].error_report.rstrip().endswith("Exception: injected by the integration test")
    [before] = hook.job.query(job_id=job_id, role="guest", party_id=GUEST)
    assert hook.job.rerun(job_id) == "rerun job success"
    # FATE still shows the old run's "failed" until its scheduler loop picks the rerun up: judged as stale
    from airflow_provider_fateflow.client.wait import JobWatch, Outcome, poll

    watch = JobWatch(job_id, role="guest", party_id=GUEST, stale_end_time=before.end_time)
    deadline, event = time.time() + 120, None
    while event is None and time.time() < deadline:
        event, _ = poll(hook, watch, waited=0)
        time.sleep(0.1)
    assert event is not None and event.outcome is Outcome.SUCCEEDED, event


def test_rerun_of_a_successful_job_does_nothing(hook: FateFlowHook, trained: Trained):
    [before] = hook.job.query(job_id=trained.train_job, role="guest", party_id=GUEST)
    assert hook.job.rerun(trained.train_job, component_name="hetero_lr_0") == "rerun job success"
    time.sleep(0.5)
    [after] = hook.job.query(job_id=trained.train_job, role="guest", party_id=GUEST)
    assert after.status is JobStatus.SUCCESS and after.end_time == before.end_time


def test_url(hook: FateFlowHook, trained: Trained):
    assert hook.job.url(trained.train_job) == [board_link(trained.train_job)]
    assert hook.job.url(trained.train_job, "host", 10000) == [board_link(trained.train_job, "host", 10000)]


def test_url_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.job.url(UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowNotFoundError, 101, "no found job", operation="job.url")


def test_find_by_marker(hook: FateFlowHook):
    since = int(time.time() * 1000)
    marker = f"integration-{since}"
    job_id = hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json"), marker=marker).job_id
    found = hook.job.find_by_marker(marker, role="guest", party_id=str(GUEST), since_ms=since)
    assert found is not None and found.job_id == job_id and found.role == "guest"
    wait_job(hook, job_id)


def test_find_by_marker_failure_unknown_marker_is_none(hook: FateFlowHook, trained: Trained):
    assert hook.job.find_by_marker("no-such-marker", role="guest", party_id=GUEST,
                                   since_ms=int(time.time() * 1000)) is None
