"""Integration: the hook and the v2 client against a real FATE Flow 2.2.0 (standalone).

Skipped unless ``FATEFLOW_V2_URL`` points at one (``make test-fate2`` installs, starts and stops it; see
scripts/fate2/). The long jobs are shared by module fixtures: two uploads (a server file and a multipart
one), then reader -> psi -> coordinated_lr -> evaluation (90-140 s on 2 cores) with a failing job beside it,
then a long job that is stopped. Waits poll every 2 s with generous deadlines; nothing is timed.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fateflow.client import (
    ClientConfig,
    FateFlowApiError,
    FateFlowInputError,
    FateFlowNotFoundError,
    JobStatus,
    RetryPolicy,
    TaskStatus,
)
from airflow_provider_fateflow.client.dialect import detect_dialect
from airflow_provider_fateflow.client.v2 import AsyncFateFlowV2Client, FateFlowV2Client
from airflow_provider_fateflow.client.v2.job import marker_of

URL = os.environ.get("FATEFLOW_V2_URL")
pytestmark = pytest.mark.skipif(not URL, reason="FATEFLOW_V2_URL is not set (make test-fate2 runs a FATE Flow 2.2.0)")

GUEST, HOST = "9999", "10000"
WAIT_S = 900.0


def _p(role: str, pid: str) -> dict[str, Any]:
    return {"role": role, "party_id": [pid]}


def lr_dag(epochs: int, namespace: str, guest_table: str, host_table: str) -> dict[str, Any]:
    """reader -> psi -> coordinated_lr -> evaluation; guest 9999, host 10000, arbiter 9999 (the reader runs on
    guest and host only: with the arbiter sharing 9999 it would fail with "parameter 'name' required")."""
    gh = [_p("guest", GUEST), _p("host", HOST)]

    def out(task: str, key: str, parties: list[dict[str, Any]]) -> dict[str, Any]:
        return {"task_output_artifact": {"producer_task": task, "output_artifact_key": key, "parties": parties}}

    return {"schema_version": "2.2.0", "dag": {
        "parties": [_p("guest", GUEST), _p("host", HOST), _p("arbiter", GUEST)],
        "stage": "train",
        "tasks": {
            "reader_0": {"component_ref": "reader", "parameters": {}, "parties": gh, "stage": "default"},
            "psi_0": {"component_ref": "psi", "dependent_tasks": ["reader_0"], "parameters": {}, "parties": gh,
                      "stage": "default", "inputs": {"data": {"input_data": out("reader_0", "output_data", gh)}}},
            "lr_0": {"component_ref": "coordinated_lr", "dependent_tasks": ["psi_0"],
                     "parameters": {"epochs": epochs, "batch_size": None,
                                    "optimizer": {"method": "SGD", "optimizer_params": {"lr": 0.1}},
                                    "init_param": {"fit_intercept": True, "method": "zeros"}},
                     "inputs": {"data": {"train_data": out("psi_0", "output_data", gh)}}},
            "evaluation_0": {"component_ref": "evaluation", "dependent_tasks": ["lr_0"], "stage": "default",
                             "parameters": {"default_eval_setting": "binary"}, "parties": [_p("guest", GUEST)],
                             "inputs": {"data": {"input_datas": {"task_output_artifact": [
                                 {"producer_task": "lr_0", "output_artifact_key": "train_output_data",
                                  "parties": [_p("guest", GUEST)]}]}}}},
        },
        "party_tasks": {
            f"guest_{GUEST}": {"parties": [_p("guest", GUEST)],
                               "tasks": {"reader_0": {"parameters": {"namespace": namespace, "name": guest_table}}}},
            f"host_{HOST}": {"parties": [_p("host", HOST)],
                             "tasks": {"reader_0": {"parameters": {"namespace": namespace, "name": host_table}}}},
        }}}


def wait(client: FateFlowV2Client, job_id: str, until: frozenset[JobStatus] = JobStatus.terminal,
         timeout: float = WAIT_S) -> dict[tuple[str, int], JobStatus]:
    """Poll ``job.query`` every 2 s until every party's status is in ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        rows = client.job.query(job_id)
        statuses = {(r.role, r.party_id): r.status for r in rows}
        if statuses and all(s in until for s in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {statuses} after {timeout} s")
        time.sleep(2)


@pytest.fixture(scope="module")
def client() -> Iterator[FateFlowV2Client]:
    config = ClientConfig(URL or "", api_version="v2", read_timeout=120.0, retry=RetryPolicy(attempts=3, min_delay=1))
    with FateFlowV2Client(config) as c:
        yield c


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fate2-data")
    rng = random.Random(0)
    with open(folder / "guest.csv", "w") as g, open(folder / "host.csv", "w") as h:
        g.write("id,y,x0,x1,x2\n")
        h.write("id,x3,x4,x5\n")
        for i in range(100):
            xs = [round(rng.gauss(0, 1), 4) for _ in range(6)]
            g.write(f"id{i},{int(sum(xs) > 0)},{xs[0]},{xs[1]},{xs[2]}\n")
            h.write(f"id{i},{xs[3]},{xs[4]},{xs[5]}\n")
    return folder


@pytest.fixture(scope="module")
def namespace() -> str:
    return f"it{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def tables(client: FateFlowV2Client, data_dir: Path, namespace: str) -> dict[str, Any]:
    """guest by ``data.upload`` (a server file), host by ``data.upload_file`` (multipart), both waited for."""
    guest = client.data.upload(str(data_dir / "guest.csv"), True, 4,
                               {"delimiter": ",", "label_name": "y", "match_id_name": "id"},
                               namespace=namespace, name="guest", extend_sid=True)
    host = client.data.upload_file(data_dir / "host.csv", True, 4, {"delimiter": ",", "match_id_name": "id"},
                                   namespace=namespace, name="host", extend_sid=True)
    statuses = {job.job_id: wait(client, job.job_id) for job in (guest, host)}
    return {"guest": guest, "host": host, "statuses": statuses}


@pytest.fixture(scope="module")
def jobs(client: FateFlowV2Client, tables: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The LR job and a failing one (its guest reader asks for a missing table), run side by side."""
    marker = f"it-{uuid.uuid4().hex}"
    lr = client.job.submit(lr_dag(2, namespace, "guest", "host"), marker=marker)
    bad = client.job.submit(lr_dag(2, namespace, "no_such_table", "host"))
    return {"lr": lr, "marker": marker, "bad": bad, "bad_status": wait(client, bad.job_id),
            "lr_status": wait(client, lr.job_id)}


def test_the_server_is_detected_as_v2_with_its_version(client: FateFlowV2Client):
    info = detect_dialect(ClientConfig(URL or "", api_version="auto"))
    assert (info.dialect, info.version) == ("v2", "2.2.0")
    (instance,) = client.service.get_fateflow_info().values()
    assert instance["version"] == "2.2.0" and str(instance["http_port"]) in (URL or "")


def test_error_answers_are_typed(client: FateFlowV2Client):
    assert client.job.query("nonexistent123") == []
    with pytest.raises(FateFlowNotFoundError) as err:
        client.job.stop("nonexistent123")
    assert err.value.retcode == 1001
    with pytest.raises(FateFlowNotFoundError):
        client.job.rerun("nonexistent123")
    assert client.table.query("nope", "nope").exists is False
    with pytest.raises(FateFlowNotFoundError):
        client.table.delete("nope", "nope")
    with pytest.raises(FateFlowApiError) as err:
        client.site.info()
    assert err.value.retcode == 3000
    with pytest.raises(FateFlowApiError) as err:
        client.job.submit({"schema_version": "2.2.0", "dag": {"tasks": {"x": {}}}})
    assert err.value.retcode == 6000 and not isinstance(err.value, FateFlowNotFoundError)
    assert client.task.query(job_id="nonexistent123") == []


def test_uploads_make_tables_that_can_be_downloaded(client: FateFlowV2Client, tables: dict[str, Any],
                                                   namespace: str, tmp_path: Path):
    for statuses in tables["statuses"].values():
        assert set(statuses.values()) == {JobStatus.SUCCESS} and set(statuses) == {("local", 0)}
    guest = client.table.query(namespace, "guest")
    host = client.table.query(namespace, "host")
    assert guest.exists and guest.count == 100 and host.count == 100 and guest.partition == 4
    assert {"id", "y", "x0"} <= {f["name"] for f in guest.schema["fields"]}
    folder = client.data.download(namespace, "guest", tmp_path)
    csv = next(folder.rglob("*.csv")).read_text().splitlines()
    assert len(csv) == 101 and "x0" in csv[0]
    with pytest.raises(FateFlowNotFoundError):
        client.data.download(namespace, "missing", tmp_path / "x")


def test_a_raw_table_becomes_a_dataframe_and_tables_can_be_deleted(client: FateFlowV2Client, data_dir: Path,
                                                                   namespace: str):
    raw = client.data.upload(str(data_dir / "guest.csv"), True, 2,
                             {"delimiter": ",", "label_name": "y", "match_id_name": "id"}, extend_sid=True)
    assert set(wait(client, raw.job_id).values()) == {JobStatus.SUCCESS}
    job = client.data.dataframe_transformer(namespace, "guest_df", {"namespace": raw.namespace, "name": raw.table_name})
    assert set(wait(client, job.job_id).values()) == {JobStatus.SUCCESS}
    assert client.table.query(namespace, "guest_df").count == 100
    client.table.delete(namespace, "guest_df")
    assert client.table.query(namespace, "guest_df").exists is False


def test_bind_path_registers_a_server_directory(client: FateFlowV2Client, data_dir: Path, namespace: str):
    client.table.bind_path(namespace, "bound", str(data_dir))
    info = client.table.query(namespace, "bound")
    assert info.exists and info.raw["engine"] == "path" and str(data_dir) in info.raw["path"]


def test_lr_job_succeeds_with_its_tasks_metrics_model_and_data(client: FateFlowV2Client, jobs: dict[str, Any],
                                                                tmp_path: Path):
    lr = jobs["lr"]
    assert set(jobs["lr_status"].values()) == {JobStatus.SUCCESS}
    assert set(jobs["lr_status"]) == {("guest", 9999), ("host", 10000), ("arbiter", 9999)}
    tasks = client.task.query(lr.job_id, "guest", GUEST)
    assert {t.component_name: t.status for t in tasks} == {n: TaskStatus.SUCCESS for n in
                                                           ("reader_0", "psi_0", "lr_0", "evaluation_0")}
    assert client.task.query_task_list(limit=3, job_id=lr.job_id).count >= 8
    dep = client.job.dag_dependency(lr.job_id, "guest", GUEST)
    assert dep["component_list"] == ["reader_0", "psi_0", "lr_0", "evaluation_0"]
    keys = client.output.query_metric_key(lr.job_id, "guest", GUEST, "evaluation_0")
    assert [k["name"] for k in keys] == ["evaluation"]
    metrics = client.output.query_metric(lr.job_id, "guest", GUEST, "evaluation_0")
    auc = metrics[0]["data"]["lr_0"]["train_set"][0]
    assert auc["metric"] == "auc" and 0.7 < auc["val"] <= 1.0
    model = client.output.query_model(lr.job_id, "guest", GUEST, "lr_0")
    assert model["output_model"]["data"]["estimator"]["header"] == ["x0", "x1", "x2"]
    files = client.output.download_model(lr.job_id, "guest", GUEST, "lr_0", tmp_path)
    assert json.loads((files / "json_model").read_text())
    data = client.output.download_data(lr.job_id, "guest", GUEST, "lr_0", tmp_path)
    assert len(next(data.rglob("*.csv")).read_text().splitlines()) == 101
    assert client.output.data_table(lr.job_id, "guest", GUEST, "lr_0")["train_output_data"][0]["namespace"]
    assert client.output.data_display(lr.job_id, "guest", GUEST, "psi_0")["output_data"][0]["data"]


def test_submit_marker_is_kept_by_the_server_and_finds_the_job(client: FateFlowV2Client, jobs: dict[str, Any]):
    (guest,) = client.job.query(jobs["lr"].job_id, "guest", GUEST)
    assert marker_of(guest) == jobs["marker"]
    found = client.job.find_by_marker(jobs["marker"])
    assert found is not None and found.job_id == jobs["lr"].job_id
    assert client.job.find_by_marker("never-submitted") is None


def test_failing_job_names_the_failed_task_party_and_fates_error(client: FateFlowV2Client, jobs: dict[str, Any]):
    bad = jobs["bad"].job_id
    assert JobStatus.FAILED in set(jobs["bad_status"].values())
    failed = [t for t in client.task.query(job_id=bad) if t.status is TaskStatus.FAILED]
    reader = [t for t in failed if (t.component_name, t.role, t.party_id) == ("reader_0", "guest", 9999)]
    assert reader and "No found table" in reader[0].error_report and "no_such_table" in reader[0].error_report
    lines = client.log.query("task_error", bad, "guest", GUEST, task_name="reader_0")
    assert any("No found table" in line["content"] for line in lines)
    assert client.log.count("task_error", bad, "guest", GUEST, task_name="reader_0") >= 1


def test_logs_list_and_notes(client: FateFlowV2Client, jobs: dict[str, Any], tmp_path: Path):
    lr = jobs["lr"].job_id
    assert client.log.count("schedule_info", lr) > 0
    lines = client.log.query("task_info", lr, "guest", GUEST, task_name="lr_0", begin=0, end=5)
    assert lines and all("content" in line for line in lines)
    folder = client.job.download_log(lr, tmp_path)
    assert (folder / "fate_flow_schedule.log").is_file() and (folder / "guest" / GUEST / "lr_0").is_dir()
    note = f"note-{uuid.uuid4().hex[:10]}"
    client.job.add_notes(lr, "guest", GUEST, note)
    listing = client.job.query_job_list(description=note, limit=10)
    assert [(j.job_id, j.role) for j in listing.jobs] == [(lr, "guest")]
    recent = client.job.query_job_list(limit=2, order_by="create_time", order="desc")
    assert recent.count >= 3 and len(recent.jobs) == 2


def test_model_export_import_and_delete(client: FateFlowV2Client, jobs: dict[str, Any], tmp_path: Path):
    lr = jobs["lr"]
    export_dir = tmp_path / "export"  # the server runs on this machine: its paths are ours
    client.model.export("guest", lr.model_id, lr.model_version, GUEST, str(export_dir))
    (archive,) = export_dir.glob("*.zip")
    assert zipfile.ZipFile(archive).namelist()
    new_id = f"imported_{uuid.uuid4().hex[:8]}"
    client.model.import_model(new_id, "0", archive)
    assert client.model.delete_model(new_id, "0") >= 1
    with pytest.raises(FateFlowNotFoundError):
        client.model.delete_model(new_id, "0")
    for op in ("load", "store", "restore", "migrate"):  # placeholders in 2.2.0: code 0, nothing done
        getattr(client.model, op)(model_id=lr.model_id, model_version=lr.model_version)


def test_a_stopped_job_ends_canceled_and_a_rerun_can_be_stopped_again(client: FateFlowV2Client, jobs: dict[str, Any],
                                                                      namespace: str):
    long = client.job.submit(lr_dag(30, namespace, "guest", "host"))
    wait(client, long.job_id, until=frozenset({JobStatus.RUNNING}) | JobStatus.terminal)
    assert client.job.stop(long.job_id) == "success"
    statuses = wait(client, long.job_id)
    assert set(statuses.values()) == {JobStatus.CANCELED}
    assert client.job.stop(long.job_id) == "success"  # again: still fine
    assert client.job.rerun(long.job_id) == "success"
    wait(client, long.job_id, until=frozenset({JobStatus.WAITING, JobStatus.RUNNING}) | JobStatus.terminal, timeout=120)
    client.job.stop(long.job_id)
    statuses = wait(client, long.job_id)
    assert statuses[("guest", 9999)] is JobStatus.CANCELED


def test_async_client_and_hook_on_the_real_server(client: FateFlowV2Client, jobs: dict[str, Any], namespace: str,
                                                  monkeypatch):
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    lr = jobs["lr"].job_id

    async def run() -> tuple:
        async with AsyncFateFlowV2Client(ClientConfig(URL or "", api_version="v2")) as ac:
            return (await ac.job.query(lr), await ac.task.query(lr, "guest", GUEST),
                    await ac.table.query(namespace, "guest"))

    rows, tasks, table = asyncio.run(run())
    assert {r.status for r in rows} == {JobStatus.SUCCESS} and len(tasks) == 4 and table.count == 100
    monkeypatch.setenv("AIRFLOW_CONN_FATE2_IT", json.dumps({"conn_type": "fateflow", "host": URL,
                                                            "extra": {"api_version": "auto"}}))
    hook = FateFlowHook("fate2_it")
    assert hook.dialect == "v2"
    assert [t.component_name for t in hook.task.query(lr, "guest", GUEST, task_name="lr_0")] == ["lr_0"]
    assert hook.output.query_metric(lr, "guest", GUEST, "evaluation_0")[0]["data"]["lr_0"]
    assert hook.table.query(namespace, "host").count == 100


def test_bad_input_is_refused_before_the_server_sees_it(client: FateFlowV2Client, tmp_path: Path):
    with pytest.raises(FateFlowInputError):
        client.data.upload_file(tmp_path / "missing.csv", True, 4, {"delimiter": ","})
    with pytest.raises(FateFlowInputError):
        client.job.submit({"dag": {"tasks": {}}})


def _toy_dag() -> dict[str, Any]:
    return {"schema_version": "2.0.0.alpha", "dag": {
        "parties": [_p("guest", GUEST), _p("host", HOST)], "stage": "default",
        "tasks": {"toy_example_0": {"component_ref": "toy_example", "parameters": {"data_num": 100, "partition": 4}}}}}


@pytest.fixture
def lossy_proxy() -> Iterator[tuple[str, list[str]]]:
    """A loopback proxy to the real server that forwards the first ``job/submit`` and then drops the
    connection instead of passing the answer back (a lost answer); everything else passes through."""
    import socket
    import threading
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []
    dropped: list[bool] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            seen.append(self.path.split("?")[0])
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type",)}
            req = urllib.request.Request((URL or "").rstrip("/") + self.path, data=data, method=self.command,
                                         headers=headers)
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "application/json")
            if self.path.startswith("/v2/job/submit") and not dropped:
                dropped.append(True)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_lost_submit_answer_is_recovered_with_exactly_one_job(client: FateFlowV2Client, lossy_proxy):
    url, seen = lossy_proxy
    marker = f"lost-{uuid.uuid4().hex}"
    with FateFlowV2Client(ClientConfig(url, api_version="v2", retry=RetryPolicy(attempts=1))) as through_proxy:
        result = through_proxy.job.submit(_toy_dag(), marker=marker)
    assert result.recovered is True and result.marker == marker
    assert seen[0] == "/v2/job/submit" and seen.count("/v2/job/submit") == 1 and "/v2/job/list/query" in seen
    recent = client.job.query_job_list(limit=100, order_by="create_time", order="desc")
    with_marker = {r.job_id for r in recent.jobs if marker_of(r) == marker}
    assert with_marker == {result.job_id}
    client.job.stop(result.job_id)
    assert set(wait(client, result.job_id).values()) <= {JobStatus.CANCELED, JobStatus.SUCCESS}
