"""``hook.data``, ``hook.table``, ``hook.task``, ``hook.queue`` and ``hook.version`` against the sandbox."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _integration_helpers import (
    EXAMPLES,
    GUEST,
    UNKNOWN_JOB,
    Server,
    Trained,
    assert_fate_error,
    example,
    local_board,
    upload_conf,
    wait_job,
)

from airflow_provider_fateflow.client import (
    FateFlowApiError,
    FateFlowNotFoundError,
    JobStatus,
    LocalJobResult,
    TableInfo,
    TaskList,
    TaskRecord,
    TaskStatus,
    UploadResult,
)
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook


# -- data.upload ------------------------------------------------------------------------------------------------


def test_upload_client_file(hook: FateFlowHook, server: Server):
    before = server.sandbox.jobs_count()
    result = hook.data.upload(upload_conf("upload_client"), drop=True)
    assert isinstance(result, UploadResult) and not result.recovered
    assert (result.namespace, result.table_name, result.party_id) == ("experiment", "upload_client", 0)
    assert result.board_url == local_board(result.job_id)
    assert server.sandbox.jobs_count() == before + 1
    assert wait_job(hook, result.job_id, "local", 0) is JobStatus.SUCCESS
    info = hook.table.info("experiment", "upload_client")
    assert info.exists and info.count == 200 and info.partition == 4
    assert info.schema["header"] == "y,x0,x1,x2,x3" and info.schema["sid"] == "id"


def test_upload_client_file_from_conf_file(hook: FateFlowHook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # a conf file with a relative "file": both resolve against the current directory
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "host.csv").write_bytes((EXAMPLES / "host.csv").read_bytes())
    conf = dict(example("upload_host_client_file.json"), file="data/host.csv", table_name="upload_conf_file")
    (tmp_path / "upload.json").write_text(json.dumps(conf))
    monkeypatch.chdir(tmp_path)
    result = hook.data.upload("upload.json", drop=True)
    assert wait_job(hook, result.job_id, "local", 0) is JobStatus.SUCCESS
    assert hook.table.info("experiment", "upload_conf_file").schema["header"] == "x4,x5,x6,x7,x8,x9"


def test_upload_server_file(hook: FateFlowHook):
    result = hook.data.upload(upload_conf("upload_server", "host.csv", server_file=True))
    assert result.table_name == "upload_server"
    assert wait_job(hook, result.job_id, "local", 0) is JobStatus.SUCCESS
    assert hook.table.info("experiment", "upload_server").count == 200


def test_upload_drop_replaces_the_table(hook: FateFlowHook):
    first = hook.data.upload(upload_conf("upload_drop"), drop=True)
    wait_job(hook, first.job_id, "local", 0)
    second = hook.data.upload(upload_conf("upload_drop", "host.csv"), drop=True)
    assert wait_job(hook, second.job_id, "local", 0) is JobStatus.SUCCESS
    assert hook.table.info("experiment", "upload_drop").schema["header"] == "x4,x5,x6,x7,x8,x9"


def test_upload_failure_table_exists_without_drop(hook: FateFlowHook, server: Server):
    wait_job(hook, hook.data.upload(upload_conf("upload_exists"), drop=True).job_id, "local", 0)
    before = server.sandbox.jobs_count()
    with pytest.raises(FateFlowApiError) as err:
        hook.data.upload(upload_conf("upload_exists"))
    assert_fate_error(err.value, FateFlowApiError, 100, "The data table already exists", "data.upload")
    assert "--drop" in str(err.value)
    assert server.sandbox.jobs_count() == before


def test_upload_failure_server_file_missing_fields(hook: FateFlowHook):
    conf = {"file": str(EXAMPLES / "host.csv"), "namespace": "experiment", "table_name": "x", "use_local_data": 0}
    with pytest.raises(FateFlowApiError) as err:
        hook.data.upload(conf)
    assert_fate_error(err.value, FateFlowApiError, 100, "required parameters are missing: head,partition",
                      "data.upload")


# -- data.download, upload_history --------------------------------------------------------------------------------


def test_download(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    out = tmp_path / "server-side" / "guest.csv"  # the sandbox's "FATE Flow host" is this machine
    conf = dict(example("download_conf.json"), output_path=str(out))
    result = hook.data.download(conf)
    assert isinstance(result, LocalJobResult) and result.board_url == local_board(result.job_id)
    assert wait_job(hook, result.job_id, "local", 0) is JobStatus.SUCCESS
    with open(out, newline="") as fh:
        assert len(list(csv.reader(fh))) >= 200


def test_download_failure_missing_table(hook: FateFlowHook, tmp_path: Path):
    # as on the real server: the download job is accepted, then fails with an error report
    result = hook.data.download({"namespace": "experiment", "table_name": "no_such_table",
                                 "output_path": str(tmp_path / "x.csv")})
    assert wait_job(hook, result.job_id, "local", 0) is JobStatus.FAILED
    (task,) = hook.task.query(job_id=result.job_id, role="local", party_id=0)
    assert task.component_name == "download_0" and task.status is TaskStatus.FAILED and task.error_report


def test_upload_history(hook: FateFlowHook, trained: Trained):
    history = hook.data.upload_history(limit=50)
    entries = {job_id: entry for item in history for job_id, entry in item.items()}
    assert entries[trained.guest_upload]["upload_info"] == {
        "table_name": "breast_hetero_guest", "namespace": "experiment", "partition": 4, "upload_count": 200}
    assert hook.data.upload_history(job_id=trained.host_upload)[0][trained.host_upload]["schema"]["sid"] == "id"


def test_upload_history_failure_unknown_job_is_empty(hook: FateFlowHook):
    assert hook.data.upload_history(limit=10, job_id=UNKNOWN_JOB) == []


# -- task ----------------------------------------------------------------------------------------------------


def test_task_list(hook: FateFlowHook, trained: Trained):
    listing = hook.task.list(limit=0, job_id=trained.train_job)
    # 4 components on guest and host, 2 on the arbiter (it reads no data: no reader/data_transform tasks)
    assert isinstance(listing, TaskList) and listing.count == len(listing.tasks) == 10
    page = hook.task.list(limit=2, page=1, job_id=trained.train_job, role="guest", party_id=GUEST, order="desc")
    assert len(page.tasks) == 2 and page.count == 4 and all(t.role == "guest" for t in page.tasks)
    assert hook.task.list(job_id=trained.train_job, component_name="hetero_lr_0").count == 3


def test_task_list_failure_invalid_role(hook: FateFlowHook):
    with pytest.raises(FateFlowApiError) as err:
        hook.task.list(role="observer")
    assert_fate_error(err.value, FateFlowApiError, 400, "Invalid parameter 'role'.", "task.list", http_status=400)


def test_task_query(hook: FateFlowHook, trained: Trained):
    tasks = hook.task.query(job_id=trained.train_job, role="guest", party_id=GUEST)
    assert all(isinstance(t, TaskRecord) for t in tasks)
    assert sorted(t.component_name for t in tasks) == sorted(["reader_0", "data_transform_0", "hetero_lr_0",
                                                              "evaluation_0"])
    assert all(t.status is TaskStatus.SUCCESS and t.task_id == f"{trained.train_job}_{t.component_name}"
               for t in tasks)
    (lr,) = hook.task.query(job_id=trained.train_job, role="guest", party_id=GUEST, component_name="hetero_lr_0")
    assert lr.component_module == "HeteroLR"
    assert hook.task.query(job_id=trained.train_job, status=TaskStatus.SUCCESS)


def test_task_query_failure_unknown_job_is_empty(hook: FateFlowHook):
    assert hook.task.query(job_id=UNKNOWN_JOB) == []  # FATE's 101 "find task failed"


# -- table ----------------------------------------------------------------------------------------------------


def test_table_info(hook: FateFlowHook, trained: Trained):
    info = hook.table.info("experiment", "breast_hetero_host")
    assert isinstance(info, TableInfo)
    assert (info.namespace, info.table_name, info.exists, info.count) == ("experiment", "breast_hetero_host", True, 200)
    assert info.raw["origin"] == "upload"


def test_table_info_failure_missing_table(hook: FateFlowHook):
    info = hook.table.info("experiment", "no_such_table")  # always retcode 0; exist 0
    assert (info.exists, info.count, info.schema) == (False, 0, None)


def test_table_delete(hook: FateFlowHook):
    wait_job(hook, hook.data.upload(upload_conf("to_delete"), drop=True).job_id, "local", 0)
    assert hook.table.delete("experiment", "to_delete") == {"namespace": "experiment", "table_name": "to_delete"}
    assert not hook.table.info("experiment", "to_delete").exists


def test_table_delete_failure_missing_table(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.table.delete("experiment", "no_such_table")
    assert_fate_error(err.value, FateFlowNotFoundError, 101, "no find table", "table.delete")


def test_table_list(hook: FateFlowHook, trained: Trained):
    tables = hook.table.list(trained.train_job)
    assert set(tables) == {"reader_0", "data_transform_0", "hetero_lr_0", "evaluation_0"}
    assert tables["hetero_lr_0"]["output"][0]["namespace"] == f"output_data_{trained.train_job}_hetero_lr_0_0"


def test_table_list_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowApiError) as err:
        hook.table.list(UNKNOWN_JOB, "guest", GUEST)
    assert_fate_error(err.value, FateFlowApiError, 101, "no find job", "table.list")


def test_table_download(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    directory = hook.table.download("experiment", "breast_hetero_guest", tmp_path)
    assert directory == tmp_path / "table_experiment_breast_hetero_guest"
    assert sorted(p.name for p in directory.iterdir()) == ["table.csv", "table.meta"]
    with open(directory / "table.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["id", "y", "x0", "x1", "x2", "x3"] and len(rows) == 201


def test_table_download_failure_missing_table(hook: FateFlowHook, tmp_path: Path):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.table.download("experiment", "no_such_table", tmp_path)
    assert_fate_error(err.value, FateFlowNotFoundError, 210, "no found table", "table.download", http_status=210)
    assert not any(tmp_path.iterdir())


# -- queue, version --------------------------------------------------------------------------------------------


def test_queue_clean_waiting_job(hook: FateFlowHook, server: Server):
    server.sandbox.hold(True)
    try:
        job_id = hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json")).job_id
        assert hook.queue.clean() == {job_id: 0}
    finally:
        server.sandbox.hold(False)
    assert wait_job(hook, job_id) is JobStatus.CANCELED


def test_queue_clean_failure_nothing_waiting_is_empty(hook: FateFlowHook):
    assert hook.queue.clean() == {}


def test_version_get(hook: FateFlowHook):
    assert hook.version.get() == {"API": "v1", "FATE": "1.11.4"}
    assert hook.version.get("FATEFlow") == {"API": "v1", "FATEFlow": "1.11.2"}


def test_version_get_failure_unknown_module(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.version.get("NoSuchModule")
    assert_fate_error(err.value, FateFlowNotFoundError, 404, "No version info of module NoSuchModule.",
                      "version.get", http_status=404)
