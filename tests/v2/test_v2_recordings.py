"""The v2 client against exchanges recorded from a real FATE Flow 2.2.0 (replayed over loopback HTTP):
each test sends what the recorder sent, and reads what the server answered, into the typed records and errors."""
from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import socket
import time
from pathlib import Path

import pytest
from _v2_replay import Replay, assert_request_as_recorded, config_for, load

from airflow_provider_fateflow.client import (
    FateFlowAmbiguousSubmitError,
    FateFlowApiError,
    FateFlowAuthError,
    FateFlowInputError,
    FateFlowNotFoundError,
    FateFlowResponseError,
    JobStatus,
    TaskStatus,
)
from airflow_provider_fateflow.client.auth import sign_v2
from airflow_provider_fateflow.client.v2 import AsyncFateFlowV2Client, FateFlowV2Client
from airflow_provider_fateflow.client.v2.job import marker_of

TOY = load("job_submit_toy")["response"]["job_id"]
LR = load("job_submit_lr")["response"]["job_id"]
LONG = load("job_submit_long")["response"]["job_id"]
GQ = {"role": "guest", "party_id": "9999"}


def _drop(handler) -> None:
    """Close the connection without an answer (the request has been read: a lost answer)."""
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def _toy_dag_and_marker() -> tuple[dict, str]:
    schema = copy.deepcopy(load("job_submit_toy")["json"]["dag_schema"])
    marker = schema["dag"].pop("conf")["extra"]["airflow_marker"]
    return schema, marker


# -- errors: HTTP 200 with a non-zero code ---------------------------------------------------------------

def test_unknown_job_is_an_empty_query_and_a_not_found_stop_and_rerun(replay: Replay, client: FateFlowV2Client):
    replay.serve("job_query_unknown", "job_stop_unknown", "job_rerun_unknown")
    assert client.job.query("nonexistent123") == []
    assert_request_as_recorded(replay.seen[0], "job_query_unknown")
    with pytest.raises(FateFlowNotFoundError) as err:
        client.job.stop("nonexistent123")
    assert err.value.retcode == 1001 and "No found job" in str(err.value) and err.value.http_status == 200
    assert_request_as_recorded(replay.seen[1], "job_stop_unknown")
    with pytest.raises(FateFlowNotFoundError, match="nonexistent123"):
        client.job.rerun("nonexistent123")


def test_invalid_dag_is_an_api_error_with_the_servers_validation_message(replay: Replay, client: FateFlowV2Client):
    replay.serve("job_submit_invalid")
    with pytest.raises(FateFlowApiError) as err:
        client.job.submit({"schema_version": "2.0.0", "dag": {"tasks": {}}})
    assert type(err.value) is FateFlowApiError and err.value.retcode == 6000
    assert "ValidationError" in str(err.value)


def test_a_dag_schema_without_dag_is_refused_before_sending(replay: Replay, client: FateFlowV2Client):
    with pytest.raises(FateFlowInputError, match="no dag"):
        client.job.submit({"schema_version": "2.0.0"})
    with pytest.raises(FateFlowInputError, match="does not exist"):
        client.job.submit("/nonexistent/dag.yaml")
    assert replay.seen == []


def test_missing_things_are_typed(replay: Replay, client: FateFlowV2Client):
    replay.serve("task_query_unknown", "table_query_missing", "table_delete_missing", "job_dag_dependency_unknown",
                 "output_metric_query_unknown", "output_model_query_no_model", "model_delete_missing")
    assert client.task.query(job_id="nonexistent123") == []
    info = client.table.query("rec", "missing")
    assert info.exists is False and info.count is None
    with pytest.raises(FateFlowNotFoundError) as err:
        client.table.delete("rec", "missing")
    assert err.value.retcode == 7001
    with pytest.raises(FateFlowNotFoundError, match="No found job"):
        client.job.dag_dependency("nonexistent123", "guest", 9999)
    with pytest.raises(FateFlowNotFoundError) as err:
        client.output.query_metric("nonexistent123", "guest", 9999, "lr_0")
    assert err.value.retcode == 2000
    with pytest.raises(FateFlowNotFoundError) as err:
        client.output.query_model(LR, "guest", 9999, "evaluation_0")
    assert err.value.retcode == 2005
    with pytest.raises(FateFlowNotFoundError):
        client.model.delete_model("nonexistent", "0")
    for seen, name in zip(replay.seen, ["task_query_unknown", "table_query_missing", "table_delete_missing",
                                        "job_dag_dependency_unknown", "output_metric_query_unknown",
                                        "output_model_query_no_model", "model_delete_missing"]):
        assert_request_as_recorded(seen, name)


def test_standalone_site_info_says_so(replay: Replay, client: FateFlowV2Client):
    replay.serve("site_info_standalone")
    with pytest.raises(FateFlowApiError) as err:
        client.site.info()
    assert err.value.retcode == 3000 and "standalone" in str(err.value)


def test_log_query_needs_role_and_party_before_sending(replay: Replay, client: FateFlowV2Client):
    with pytest.raises(FateFlowInputError, match="role is required"):
        client.log.query("schedule_info", TOY, None, None)  # type: ignore[arg-type]
    assert replay.seen == []


def test_v1_client_on_a_v2_server_says_which_api_version_to_set(replay: Replay):
    from airflow_provider_fateflow.client import ClientConfig, FateFlowClient, RetryPolicy

    replay.serve("v1_route_on_v2_server")
    with FateFlowClient(ClientConfig("127.0.0.1", replay.port, retry=RetryPolicy(attempts=1))) as v1:
        with pytest.raises(FateFlowResponseError, match="api_version to v2 or auto"):
            v1.version.get()


def test_v1_answer_to_a_v2_client_says_which_api_version_to_set(replay: Replay, client: FateFlowV2Client):
    rec = load("job_query_unknown")
    replay.serve({**rec, "response": {"retcode": 100, "retmsg": "<NotFound '404: Not Found'>"}})
    with pytest.raises(FateFlowApiError) as err:
        client.job.query(TOY)
    assert "api_version to v1" in str(err.value)


# -- jobs -------------------------------------------------------------------------------------------------

def test_submit_sends_the_dag_with_its_marker_and_reads_the_job(replay: Replay, client: FateFlowV2Client):
    schema, marker = _toy_dag_and_marker()
    replay.serve("job_submit_toy")
    result = client.job.submit(schema, marker=marker)
    assert_request_as_recorded(replay.seen[0], "job_submit_toy")
    assert result.job_id == TOY and result.model_id == TOY and result.model_version == "0"
    assert result.marker == marker and result.recovered is False


def test_submit_takes_a_yaml_or_json_file_and_a_pipeline_like_object(replay: Replay, client: FateFlowV2Client,
                                                                   tmp_path: Path):
    import yaml

    schema, marker = _toy_dag_and_marker()
    (tmp_path / "dag.yaml").write_text(yaml.safe_dump(schema))
    (tmp_path / "dag.json").write_text(json.dumps(schema))

    class Pipeline:
        def get_dag(self) -> dict:
            return copy.deepcopy(schema)

    replay.serve("job_submit_toy", "job_submit_toy", "job_submit_toy")
    for source in (tmp_path / "dag.yaml", str(tmp_path / "dag.json"), Pipeline()):
        assert client.job.submit(source, marker=marker).job_id == TOY
    for seen in replay.seen:
        assert_request_as_recorded(seen, "job_submit_toy")


def test_lost_submit_answer_is_recovered_by_the_marker_not_resent(replay: Replay):
    schema, marker = _toy_dag_and_marker()
    listing = load("job_list_query_by_job")
    now = int(time.time() * 1000)
    for row in listing["response"]["data"]["data"]:
        row["create_time"] = now  # the recording is older than the lookup's 60 s window
    replay.queue.append(_drop)  # the answer never comes
    replay.serve(listing)
    with FateFlowV2Client(config_for(replay)) as c:
        c.job.recovery_delays = (0.0,)
        result = c.job.submit(schema, marker=marker)
    assert result.job_id == TOY and result.recovered is True and result.marker == marker
    assert [s.path for s in replay.seen] == ["/v2/job/submit", "/v2/job/list/query"]
    assert replay.seen[1].query == {"limit": ["100"], "order_by": ["create_time"], "order": ["desc"]}


def test_lost_submit_answer_without_a_matching_job_is_ambiguous(replay: Replay):
    schema, _ = _toy_dag_and_marker()
    replay.queue.append(_drop)
    replay.serve("job_list_query_by_job")
    with FateFlowV2Client(config_for(replay)) as c:
        c.job.recovery_delays = (0.0,)
        with pytest.raises(FateFlowAmbiguousSubmitError) as err:
            c.job.submit(schema, marker="another-marker")
    assert err.value.marker == "another-marker"
    assert [s.path for s in replay.seen] == ["/v2/job/submit", "/v2/job/list/query"]


def test_job_rows_become_job_records(replay: Replay, client: FateFlowV2Client):
    replay.serve("job_query_toy", "job_query_canceled", "job_query_failed")
    rows = client.job.query(TOY)
    assert_request_as_recorded(replay.seen[0], "job_query_toy")
    assert {(r.role, r.party_id) for r in rows} == {("guest", 9999), ("host", 10000)}
    assert all(r.status is JobStatus.SUCCESS and r.status.is_success and r.progress == 100 for r in rows)
    assert all(r.elapsed and r.end_time and r.end_time >= r.start_time for r in rows)
    assert marker_of(rows[0]) == _toy_dag_and_marker()[1]
    assert rows[0].dsl["schema_version"] == "2.0.0.alpha" and "toy_example_0" in rows[0].dsl["dag"]["tasks"]
    canceled = client.job.query(LONG)
    assert {r.status for r in canceled} == {JobStatus.CANCELED}
    failed = client.job.query(load("job_submit_failing")["response"]["job_id"])
    assert all(r.status is JobStatus.FAILED and r.status.is_terminal for r in failed)


def test_job_list_and_stop_and_rerun_and_notes(replay: Replay, client: FateFlowV2Client):
    replay.serve("job_list_query", "job_stop", "job_rerun", "job_notes_add", "job_list_query_by_description")
    listing = client.job.query_job_list(limit=2)
    assert_request_as_recorded(replay.seen[0], "job_list_query")
    assert listing.count == 2 and len(listing.jobs) == 2 and listing.jobs[0].job_id
    assert client.job.stop(LONG) == "success"
    assert client.job.rerun(LONG) == "success"
    note_marker = load("job_notes_add")["json"]["notes"]
    client.job.add_notes(TOY, "guest", 9999, note_marker)
    found = client.job.query_job_list(description=note_marker.split()[-1], limit=10)
    assert [j.description for j in found.jobs] == [note_marker]
    for seen, name in zip(replay.seen[1:], ["job_stop", "job_rerun", "job_notes_add", "job_list_query_by_description"]):
        assert_request_as_recorded(seen, name)


def test_dag_dependency_and_logs(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    replay.serve("job_dag_dependency_toy", "log_count_schedule", "log_query_task_info", "job_log_download_toy")
    dep = client.job.dag_dependency(TOY, "guest", "9999")
    assert dep["component_list"] == ["toy_example_0"] and dep["component_module"] == {"toy_example_0": "toy_example"}
    assert client.log.count("schedule_info", TOY) == load("log_count_schedule")["response"]["data"]
    lines = client.log.query("task_info", TOY, "guest", 9999, task_name="toy_example_0", begin=0, end=3)
    assert lines and all("content" in line for line in lines)
    folder = client.job.download_log(TOY, tmp_path)
    assert folder == tmp_path / f"job_{TOY}_log"
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == sorted(load("job_log_download_toy")["response"]["file"]["names"])
    for seen, name in zip(replay.seen, ["job_dag_dependency_toy", "log_count_schedule", "log_query_task_info",
                                        "job_log_download_toy"]):
        assert_request_as_recorded(seen, name)


# -- tasks ------------------------------------------------------------------------------------------------

def test_failed_task_rows_name_the_task_party_and_fates_error(replay: Replay, client: FateFlowV2Client):
    replay.serve("task_query_failed")
    tasks = client.task.query(job_id=load("job_submit_failing")["response"]["job_id"])
    failed = [t for t in tasks if t.status is TaskStatus.FAILED]
    assert failed and {(t.component_name, t.role, t.party_id) for t in failed} >= {("reader_0", "guest", 9999)}
    reader = next(t for t in failed if t.role == "guest")
    assert reader.component_module == "reader" and "No found table" in reader.error_report
    assert reader.party_status is TaskStatus.FAILED and reader.task_version == 0


def test_task_query_and_list(replay: Replay, client: FateFlowV2Client):
    replay.serve("task_query_toy", "task_list_query", "task_query_lr")
    tasks = client.task.query(TOY, "guest", "9999")
    assert_request_as_recorded(replay.seen[0], "task_query_toy")
    assert [(t.component_name, t.status) for t in tasks] == [("toy_example_0", TaskStatus.SUCCESS)]
    listing = client.task.query_task_list(limit=3, job_id=TOY)
    assert_request_as_recorded(replay.seen[1], "task_list_query")
    assert listing.count == 2 and {t.role for t in listing.tasks} == {"guest", "host"}
    lr = client.task.query(LR, "guest", 9999)
    assert {t.component_name for t in lr} == {"reader_0", "psi_0", "lr_0", "evaluation_0"}
    assert all(t.status.is_success and t.error_report is None for t in lr)


# -- data and tables --------------------------------------------------------------------------------------

def test_upload_of_a_server_file(replay: Replay, client: FateFlowV2Client):
    rec = load("data_upload_guest")
    replay.serve("data_upload_guest")
    body = rec["json"]
    result = client.data.upload(body["file"], True, 4, body["meta"], namespace="rec", name="guest", extend_sid=True)
    assert_request_as_recorded(replay.seen[0], "data_upload_guest")
    assert result.job_id == rec["response"]["job_id"] and (result.namespace, result.table_name) == ("rec", "guest")
    assert result.party_id == 0


def test_upload_file_streams_a_local_file_as_multipart(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    rec = load("data_upload_file_host")
    csv = tmp_path / "host.csv"
    csv.write_text("id,x3\nid0,1.5\n")
    replay.serve("data_upload_file_host")
    result = client.data.upload_file(csv, True, 4, json.loads(rec["form"]["meta"]), namespace="rec", name="host",
                                     extend_sid=True)
    fields, files = replay.seen[0].form()
    assert replay.seen[0].path == rec["path"] and fields == rec["form"]
    assert files == {"file": ("host.csv", csv.read_bytes())}
    assert result.job_id == rec["response"]["job_id"] and result.table_name == "host"


def test_upload_arguments_are_checked_before_sending(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    with pytest.raises(FateFlowInputError, match="partitions"):
        client.data.upload("/x.csv", True, 0, {"delimiter": ","})
    with pytest.raises(FateFlowInputError, match="meta must be a mapping"):
        client.data.upload("/x.csv", True, 4, '{"delimiter": ","}')  # type: ignore[arg-type]
    with pytest.raises(FateFlowInputError):
        client.data.upload_file(tmp_path / "missing.csv", True, 4, {})
    assert replay.seen == []


def test_table_query_bind_and_transform(replay: Replay, client: FateFlowV2Client):
    replay.serve("table_query_guest", "table_bind_path", "data_dataframe_transformer", "data_component_download")
    info = client.table.query("rec", "guest")
    assert info.exists and info.count == 100 and info.partition == 4
    assert [f["name"] for f in info.schema["fields"]][:3] == ["extend_sid", "id", "y"]
    bind = load("table_bind_path")["json"]
    client.table.bind_path("rec", "bound", bind["path"])
    tr = load("data_dataframe_transformer")
    job = client.data.dataframe_transformer("rec", "guest_df", {"namespace": "rec", "name": "guest"}, drop=True)
    assert job.job_id == tr["response"]["job_id"] and job.table_name == "guest_df"
    dl = load("data_component_download")
    local = client.data.download_component("rec", "guest", dl["json"]["path"])
    assert local.job_id == dl["response"]["job_id"]
    for seen, name in zip(replay.seen, ["table_query_guest", "table_bind_path", "data_dataframe_transformer",
                                        "data_component_download"]):
        assert_request_as_recorded(seen, name)


def test_table_download_is_extracted_safely(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    replay.serve("data_download_guest", "data_download_missing")
    folder = client.data.download("rec", "guest", tmp_path)
    assert_request_as_recorded(replay.seen[0], "data_download_guest")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == sorted(load("data_download_guest")["response"]["file"]["names"]) == ["data/0.csv", "data/0.meta"]
    with pytest.raises(FateFlowNotFoundError) as err:
        client.data.download("rec", "missing", tmp_path / "other")
    assert err.value.retcode == 7001 and not (tmp_path / "other" / "download_data_rec_missing").exists()


def test_download_refuses_a_non_empty_target_before_sending(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    target = tmp_path / "download_data_rec_guest"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FateFlowInputError, match="not empty"):
        client.data.download("rec", "guest", tmp_path)
    assert replay.seen == [] and (target / "keep.txt").read_text() == "mine"


# -- outputs and models -----------------------------------------------------------------------------------

def test_evaluation_metrics_give_the_auc(replay: Replay, client: FateFlowV2Client):
    replay.serve("output_metric_key_query", "output_metric_query")
    keys = client.output.query_metric_key(LR, "guest", 9999, "evaluation_0")
    assert keys[0]["name"] == "evaluation"
    metrics = client.output.query_metric(LR, "guest", 9999, "evaluation_0")
    auc = metrics[0]["data"]["lr_0"]["train_set"][0]
    assert auc["metric"] == "auc" and 0.9 < auc["val"] <= 1.0
    for seen, name in zip(replay.seen, ["output_metric_key_query", "output_metric_query"]):
        assert_request_as_recorded(seen, name)


def test_model_and_data_outputs(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    replay.serve("output_model_query", "output_model_download", "output_data_download", "output_data_table",
                 "output_data_display")
    model = client.output.query_model(LR, "guest", 9999, "lr_0")
    assert model["output_model"]["data"]["estimator"]["header"] == ["x0", "x1", "x2"]
    files = client.output.download_model(LR, "guest", 9999, "lr_0", tmp_path)
    assert sorted(p.name for p in files.iterdir()) == ["json_model", "json_model.meta.yaml"]
    data = client.output.download_data(LR, "guest", 9999, "lr_0", tmp_path)
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()) == [
        "train_output_data/0.csv", "train_output_data/0.meta"]
    tables = client.output.data_table(LR, "guest", 9999, "lr_0")  # an answer without the code wrapper
    assert tables["train_output_data"][0]["namespace"] == f"{LR}_lr_0"
    display = client.output.data_display(LR, "guest", 9999, "psi_0")
    assert display["output_data"][0]["data"][0][1] == "id0"
    for seen, name in zip(replay.seen, ["output_model_query", "output_model_download", "output_data_download",
                                        "output_data_table", "output_data_display"]):
        assert_request_as_recorded(seen, name)


def test_model_export_and_placeholders(replay: Replay, client: FateFlowV2Client):
    exp = load("model_export")
    replay.serve("model_export", "model_load", "model_store", "model_restore", "model_migrate")
    body = exp["json"]
    client.model.export("guest", body["model_id"], body["model_version"], 9999, body["path"])
    assert_request_as_recorded(replay.seen[0], "model_export")
    for op in ("load", "store", "restore", "migrate"):
        getattr(client.model, op)(model_id=body["model_id"], model_version=body["model_version"])
    assert [s.path for s in replay.seen[1:]] == [f"/v2/model/{op}" for op in ("load", "store", "restore", "migrate")]


def test_model_import_is_multipart_with_the_ids(replay: Replay, client: FateFlowV2Client, tmp_path: Path):
    archive = tmp_path / "m.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    replay.serve({**load("model_load"), "path": "/v2/model/import"})
    client.model.import_model("imported", "0", archive)
    fields, files = replay.seen[0].form()
    assert replay.seen[0].path == "/v2/model/import" and fields == {"model_id": "imported", "model_version": "0"}
    assert files["file"] == ("m.zip", archive.read_bytes())


# -- service, signature, dialect, async ---------------------------------------------------------------

def test_fateflow_info(replay: Replay, client: FateFlowV2Client):
    replay.serve("server_fateflow")
    info = client.service.get_fateflow_info()
    (instance,) = info.values()
    assert instance["version"] == "2.2.0" and instance["http_port"] and instance["grpc_port"]


def test_signature_matches_fate_clients():
    # Vector from fate_client 2.2.0's BaseFlowClient._signature_headers (app_id "airflow-app", app_token
    # "s3cret-token", random.randint -> 4821, time.time() -> 1796350000.123), run in the FATE 2.2.0 venv.
    headers = sign_v2("airflow-app", "s3cret-token", timestamp_ms=1796350000000, nonce="4821")
    assert headers == {"appId": "airflow-app", "userName": "", "Timestamp": "1796350000000", "Nonce": "4821",
                       "Signature": "c66c913bb13f0e7506f7342407a1ab13"}
    fresh = sign_v2("a", "t")
    assert len(fresh["Nonce"]) == 4 and abs(int(fresh["Timestamp"]) - time.time() * 1000) < 60_000


def test_signed_requests_carry_the_v2_headers_and_never_the_token(replay: Replay):
    replay.serve("job_query_toy", "job_query_toy")
    with FateFlowV2Client(config_for(replay, app_key="airflow-app", secret_key="s3cret-token")) as c:
        c.job.query(TOY)
    headers = replay.seen[0].headers
    assert headers["appId"] == "airflow-app" and len(headers["Nonce"]) == 4
    expected = hashlib.md5((hashlib.md5(f"airflow-app{headers['Nonce']}{headers['Timestamp']}".encode()).hexdigest()
                            + "s3cret-token").encode()).hexdigest()
    assert headers["Signature"] == expected
    assert "s3cret-token" not in json.dumps(headers) and "TIMESTAMP" not in headers
    with FateFlowV2Client(config_for(replay)) as plain:
        plain.job.query(TOY)
    assert "appId" not in replay.seen[1].headers and "Signature" not in replay.seen[1].headers


@pytest.mark.parametrize("code, reason", [(5003, "bad_signature"), (5002, "unknown_app_id"), (5000, "expired")])
def test_v2_authentication_failures_are_auth_errors(replay: Replay, client: FateFlowV2Client, code, reason):
    replay.serve({**load("job_query_toy"), "response": {"code": code, "message": "varify failed!"}})
    with pytest.raises(FateFlowAuthError) as err:
        client.job.query(TOY)
    assert err.value.reason == reason and err.value.retcode == code


def test_async_client_reads_the_same_records(replay: Replay):
    replay.serve("job_query_toy", "task_query_failed", "table_query_guest", "table_query_missing", "job_stop")

    async def run() -> tuple:
        async with AsyncFateFlowV2Client(config_for(replay)) as c:
            return (await c.job.query(TOY), await c.task.query(job_id="x"), await c.table.query("rec", "guest"),
                    await c.table.query("rec", "missing"), await c.job.stop(LONG))

    jobs, tasks, table, missing, stopped = asyncio.run(run())
    assert {j.status for j in jobs} == {JobStatus.SUCCESS}
    assert any(t.status is TaskStatus.FAILED and "No found table" in (t.error_report or "") for t in tasks)
    assert table.count == 100 and missing.exists is False and stopped == "success"
    assert_request_as_recorded(replay.seen[0], "job_query_toy")
