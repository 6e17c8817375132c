"""Engine, persistence, fault-injection and authentication tests of the sandbox."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_fateflow.testing import FateFlowSandbox
from airflow_provider_fateflow.testing.auth import signature

from _sandbox_helpers import EXAMPLES, RECORDINGS, example, post, submit, upload_file, wait_status, wait_task

TOY_CONF, TOY_DSL = "toy_example_conf.json", "toy_example_dsl.json"


def toy(sb: FateFlowSandbox, **common: object) -> str:
    conf = example(TOY_CONF)
    conf["job_parameters"]["common"].update(common)
    return submit(sb, conf, example(TOY_DSL))


def lr(sb: FateFlowSandbox) -> str:
    for name, f in (("breast_hetero_guest", "guest.csv"), ("breast_hetero_host", "host.csv")):
        wait_status(sb, upload_file(sb, EXAMPLES / f, "experiment", name), "success")
    return submit(sb, example("hetero_lr_conf.json"), example("hetero_lr_dsl.json"))


def test_dependency_order_and_outputs(sandbox: FateFlowSandbox) -> None:
    job = lr(sandbox)
    assert wait_status(sandbox, job, {"success", "failed"}) == "success"
    tasks = post(sandbox, "job/task/query", {"job_id": job, "role": "guest", "party_id": 9999})["data"]
    starts = {t["f_component_name"]: t["f_start_time"] for t in tasks}
    ends = {t["f_component_name"]: t["f_end_time"] for t in tasks}
    order = ["reader_0", "data_transform_0", "hetero_lr_0", "evaluation_0"]
    for a, b in zip(order, order[1:]):
        assert ends[a] <= starts[b]
    metrics = post(sandbox, "tracking/component/metric/all", {"job_id": job, "role": "guest", "party_id": 9999,
                                                              "component_name": "evaluation_0"})["data"]
    summary = dict(metrics["train"]["hetero_lr_0"]["data"])
    assert 0.8 < summary["auc"] <= 1.0 and 0 < summary["ks"] <= 1.0
    # deterministic: a second job gives the same AUC
    job2 = submit(sandbox, example("hetero_lr_conf.json"), example("hetero_lr_dsl.json"))
    wait_status(sandbox, job2, "success")
    m2 = post(sandbox, "tracking/component/metric/all", {"job_id": job2, "role": "guest", "party_id": 9999,
                                                         "component_name": "evaluation_0"})["data"]
    assert dict(m2["train"]["hetero_lr_0"]["data"]) == summary
    # job.list counts (job, role, party) rows; the marker in the runtime conf survives
    conf = example(TOY_CONF)
    conf["airflow"] = {"dag_id": "d", "run_id": "r1"}
    jid = submit(sandbox, conf, example(TOY_DSL))
    jobs = post(sandbox, "job/list/job", {"limit": 0})["data"]["jobs"]
    mine = [j for j in jobs if j["job_id"] == jid]
    assert len(mine) == 2 and mine[0]["runtime_conf"]["airflow"] == {"dag_id": "d", "run_id": "r1"}
    assert "task_parallelism" in mine[0]["runtime_conf"]["job_parameters"]["common"]


def test_pace_waiting_running_success() -> None:
    with FateFlowSandbox(pace=0.4) as sb:
        job = toy(sb)
        seen = set()
        deadline = time.time() + 10
        while time.time() < deadline:
            st = post(sb, "job/query", {"job_id": job, "role": "guest", "party_id": 9999})["data"][0]["f_status"]
            seen.add(st)
            if st == "success":
                break
            time.sleep(0.05)
        assert {"waiting", "running", "success"} <= seen


def test_failure_per_job_conf_and_behave(sandbox: FateFlowSandbox) -> None:
    conf = example(TOY_CONF)
    conf["component_parameters"]["common"]["secure_add_example_0"]["sandbox"] = {"fail": "boom", "role": "host"}
    job = submit(sandbox, conf, example(TOY_DSL))
    assert wait_status(sandbox, job, {"failed", "success"}) == "failed"
    tasks = post(sandbox, "job/task/query", {"job_id": job})["data"]
    host = [t for t in tasks if t["f_role"] == "host"][0]
    assert host["f_status"] == "failed" and "boom" in host["f_error_report"]
    # the sandbox key is stripped from stored parameters
    assert "sandbox" not in json.dumps(post(sandbox, "job/query", {"job_id": job})["data"][0]["f_runtime_conf"])
    sandbox.behave("secure_add_example_0", fail="broken", jobs=1)
    assert wait_status(sandbox, toy(sandbox), {"failed", "success"}) == "failed"
    assert wait_status(sandbox, toy(sandbox), {"failed", "success"}) == "success"  # only the next job


def test_timeout_stop_queue_clean_rerun(sandbox: FateFlowSandbox) -> None:
    sandbox.behave("secure_add_example_0", seconds=30)
    job = toy(sandbox, timeout=1)
    assert wait_status(sandbox, job, {"timeout", "success"}, timeout=10) == "timeout"
    sandbox.behave("secure_add_example_0", seconds=30)
    job = toy(sandbox)
    wait_task(sandbox, job, "secure_add_example_0", "running")
    r = post(sandbox, "job/stop", {"job_id": job})
    assert r["retcode"] == 0
    rows = post(sandbox, "job/query", {"job_id": job})["data"]
    assert {r["f_status"] for r in rows} == {"canceled"}
    # rerun the canceled job: it runs again to success
    assert post(sandbox, "job/rerun", {"job_id": job})["retcode"] == 0
    assert wait_status(sandbox, job, {"success", "failed"}) == "success"
    # stopping a finished job: stays success, cancel signal set
    assert post(sandbox, "job/stop", {"job_id": job})["retcode"] == 0
    row = post(sandbox, "job/query", {"job_id": job, "role": "guest"})["data"][0]
    assert row["f_status"] == "success" and row["f_cancel_signal"] is True
    sandbox.hold(True)
    waiting = toy(sandbox)
    r = post(sandbox, "job/clean/queue")
    assert r["data"] == {waiting: 0}
    sandbox.hold(False)
    assert wait_status(sandbox, waiting, {"canceled"}) == "canceled"


def test_restart_keeps_state(tmp_path: Path) -> None:
    sb = FateFlowSandbox(state_dir=tmp_path, subprocess=True, pace=0)
    sb.start()
    try:
        job = lr(sb)
        wait_status(sb, job, "success")
        dep = post(sb, "model/deploy", {"model_id": "arbiter-10000#guest-9999#host-10000#model",
                                        "model_version": job})["data"]["model_version"]
        sb.behave("secure_add_example_0", seconds=1.5)
        running = toy(sb)
        wait_task(sb, running, "secure_add_example_0", "running")
        port = sb.port
        sb.kill()
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{sb.base_url}/v1/version/get", timeout=2)
        sb.start()
        assert sb.port == port
        assert sb.jobs_count() >= 4
        assert wait_status(sb, running, {"success", "failed"}, timeout=15) == "success"
        info = post(sb, "table/table_info", {"namespace": "experiment", "table_name": "breast_hetero_guest"})
        assert info["data"]["exist"] == 1 and info["data"]["count"] == 200
        assert post(sb, "model/query", {"model_version": dep})["retcode"] == 0
    finally:
        sb.stop()


def test_faults(sandbox: FateFlowSandbox) -> None:
    url = f"{sandbox.base_url}/v1/version/get"
    sandbox.set_faults(route="version/get", error_rate=0.5)
    codes = [requests.post(url, timeout=5).status_code for _ in range(10)]
    assert codes.count(503) == 5
    sandbox.set_faults(route="version/get", drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.post(url, timeout=5)
    sandbox.clear_faults()
    sandbox.set_faults(route="job/submit", lose_response=1)
    before = sandbox.jobs_count()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.base_url}/v1/job/submit",
                      json={"job_runtime_conf": example(TOY_CONF), "job_dsl": example(TOY_DSL)}, timeout=5)
    assert sandbox.jobs_count() == before + 1  # processed, answer lost
    toy(sandbox)  # next one answers
    sandbox.set_faults(route="*", latency=0.3)
    t0 = time.time()
    requests.post(url, timeout=5)
    assert time.time() - t0 >= 0.3
    sandbox.clear_faults()
    sandbox.outage(0.5)
    with pytest.raises(requests.ConnectionError):
        requests.post(url, timeout=5)
    time.sleep(0.6)
    assert requests.post(url, timeout=5).json()["retcode"] == 0


def test_auth_on_off() -> None:
    with FateFlowSandbox(auth=("k", "s")) as sb:
        url = f"{sb.base_url}/v1/job/query"
        body = b'{"job_id": "1"}'
        assert requests.post(url, data=body).json()["retcode"] == 109
        ts, nonce = str(int(time.time() * 1000)), "n1"
        sig = signature("s", ts, nonce, "k", "/v1/job/query", body, None)
        h = {"TIMESTAMP": ts, "NONCE": nonce, "APP_KEY": "k", "SIGNATURE": sig, "Content-Type": "application/json"}
        assert requests.post(url, data=body, headers=h).json()["retcode"] == 0
        h["SIGNATURE"] = "x"
        assert requests.post(url, data=body, headers=h).json()["retmsg"] == "signature authentication failed"
        # control API is exempt
        assert sb.jobs_count() == 0


def test_signatures_of_recordings() -> None:
    for path in sorted(RECORDINGS.glob("*.json")):
        q = json.loads(path.read_text())["request"]
        h = q.get("headers", {})
        if "SIGNATURE" not in h:
            continue
        full = q["path"] + (f"?{q['query']}" if q.get("query") else "")
        body = q.get("raw_body", "").encode() if q.get("body_kind") == "json" else b""
        sig = signature("s3cr3t-for-tests", h["TIMESTAMP"], h["NONCE"], h["APP_KEY"], full, body, q.get("form"))
        assert (sig == h["SIGNATURE"]) == q["signature_valid_with_test_secret"], path.name


def test_bad_input(sandbox: FateFlowSandbox) -> None:
    base = f"{sandbox.base_url}/v1"
    assert requests.post(f"{base}/job/submit", data=b"{oops").json()["retcode"] == 100
    r = requests.post(f"{base}/job/submit", json={"job_runtime_conf": {"initiator": 1, "role": "x"}})
    assert r.status_code == 200 and r.json()["retcode"] == 103
    assert requests.delete(f"{base}/job/query").json()["retmsg"] == "<MethodNotAllowed '405: Method Not Allowed'>"
    assert requests.post(f"{base}/job/list/job", json={"party_id": "abc"}).status_code == 400
    big = b'{"a": "' + b"x" * (65 * 1024 * 1024) + b'"}'
    r = requests.post(f"{base}/job/query", data=big)
    assert r.status_code == 200 and r.json()["retmsg"] == "<RequestEntityTooLarge '413: Request Entity Too Large'>"
    assert requests.post(f"{base}/version/get").json()["retcode"] == 0


def test_model_flow_working_serving(sandbox: FateFlowSandbox, tmp_path: Path) -> None:
    job = lr(sandbox)
    wait_status(sandbox, job, "success")
    mid = "arbiter-10000#guest-9999#host-10000#model"
    load = {"initiator": {"role": "guest", "party_id": 9999}, "role": {"guest": [9999], "host": [10000]},
            "job_parameters": {"model_id": mid, "model_version": job}}
    assert post(sandbox, "model/load", load)["retcode"] == 101  # parent version refused
    dep = post(sandbox, "model/deploy", {"model_id": mid, "model_version": job})["data"]["model_version"]
    assert dep != job
    load["job_parameters"]["model_version"] = dep
    assert post(sandbox, "model/load", load)["retcode"] == 0
    assert post(sandbox, "model/load", {"job_id": dep})["retcode"] == 0
    assert post(sandbox, "model/bind", dict(load, service_id="svc"))["retmsg"] == "service id is svc"
    key = {"model_id": mid, "model_version": dep, "role": "guest", "party_id": 9999}
    st = post(sandbox, "model/store", key)["jobId"]
    assert wait_status(sandbox, st, {"success", "failed"}) == "success"
    rs = post(sandbox, "model/restore", key)["jobId"]
    assert wait_status(sandbox, rs, {"success", "failed"}) == "success"
    z = requests.get(f"{sandbox.base_url}/v1/model/export", json=key)
    assert z.headers["content-type"] == "application/zip"
    r = requests.post(f"{sandbox.base_url}/v1/model/import", data={k: str(v) for k, v in key.items()},
                      files={"file": ("m.zip", z.content)}).json()
    assert r["retcode"] == 409 or r.get("retmsg") == "Model already exists."
    pconf = example("hetero_lr_predict_conf.json")
    pconf["job_parameters"]["common"]["model_version"] = dep
    assert wait_status(sandbox, submit(sandbox, pconf, None), {"success", "failed"}) == "success"
    t = requests.get(f"{sandbox.base_url}/v1/table/download", json={"name": "breast_hetero_guest",
                                                                     "namespace": "experiment"})
    assert t.headers["content-disposition"] == "attachment; filename=table_experiment_breast_hetero_guest.tar.gz"
