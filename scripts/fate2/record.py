"""Record real exchanges with a running FATE Flow 2.2.0 (standalone) into JSON files, one per exchange.

    python scripts/fate2/record.py --url http://127.0.0.1:PORT --out tests/v2/recordings [--home FATE_HOME]

Stdlib only, independent of the provider's client: the recordings are facts about the server that the
client's builders and parsers are then tested against (tests/v2/test_recordings.py). Each file holds
``name, method, path, query, json, form, status, headers (file answers), response`` (the decoded JSON answer,
or for a file answer ``{"file": {"size", "names"}}``). Job ids and times are whatever the server said.

It runs: error answers, a toy job, two uploads (server file and multipart), table query/bind/delete/download,
a reader -> psi -> coordinated_lr -> evaluation job and its outputs, model export/import/delete and the no-op
model routes, a failing job, a stop and a rerun, notes, and a submit marker experiment (dag.conf.extra).
About 5-8 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

TERMINAL = {"success", "failed", "canceled", "timeout"}
GUEST, HOST = "9999", "10000"


class Recorder:
    def __init__(self, url: str, out: str) -> None:
        self.base = url.rstrip("/")
        self.out = out
        os.makedirs(out, exist_ok=True)

    def call(self, name: str | None, method: str, path: str, params: dict | None = None, body: dict | None = None,
             form: dict | None = None, file: tuple[str, str] | None = None) -> dict:
        query = urllib.parse.urlencode(params or {}, doseq=True)
        url = self.base + path + ("?" + query if query else "")
        headers = {}
        data = None
        if file is not None:
            boundary = uuid.uuid4().hex
            buf = io.BytesIO()
            for k, v in (form or {}).items():
                buf.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
            field, fpath = file
            buf.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                      f'filename="{os.path.basename(fpath)}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
            with open(fpath, "rb") as fh:
                buf.write(fh.read())
            buf.write(f"\r\n--{boundary}--\r\n".encode())
            data = buf.getvalue()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                status, rheaders, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, rheaders, raw = err.code, dict(err.headers), err.read()
        disposition = rheaders.get("Content-Disposition", "")
        if "attachment" in disposition:
            names = []
            try:
                with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                    names = sorted(m.name for m in tar.getmembers())
            except tarfile.TarError:
                pass
            response: object = {"file": {"size": len(raw), "names": names}}
            kept = {k: v for k, v in rheaders.items() if k.lower() in ("content-type", "content-disposition")}
        else:
            try:
                response = json.loads(raw)
            except ValueError:
                response = {"text": raw.decode("utf-8", "replace")[:2000]}
            kept = {k: v for k, v in rheaders.items() if k.lower() == "content-type"}
        if name:
            record = {"name": name, "method": method, "path": path, "query": params or {}, "json": body,
                      "form": form, "file_field": file[0] if file else None, "status": status, "headers": kept,
                      "response": response}
            with open(os.path.join(self.out, f"{name}.json"), "w") as fh:
                json.dump(record, fh, indent=1, sort_keys=False, default=str)
                fh.write("\n")
            print(f"{name}: {status} {str(response)[:140]}", flush=True)
        return response if isinstance(response, dict) else {"data": response}

    def wait(self, job_id: str, until: set[str] = TERMINAL, timeout: float = 900) -> dict[str, str]:
        t0 = time.time()
        while time.time() - t0 < timeout:
            rows = self.call(None, "GET", "/v2/job/query", {"job_id": job_id}).get("data") or []
            st = {f"{r['role']}:{r['party_id']}": r["status"] for r in rows}
            if st and all(s in until for s in st.values()):
                return st
            time.sleep(2)
        raise TimeoutError(job_id)


def make_data(folder: str) -> tuple[str, str]:
    random.seed(0)
    guest, host = os.path.join(folder, "guest.csv"), os.path.join(folder, "host.csv")
    with open(guest, "w") as g, open(host, "w") as h:
        g.write("id,y,x0,x1,x2\n")
        h.write("id,x3,x4,x5\n")
        for i in range(100):
            xs = [round(random.gauss(0, 1), 4) for _ in range(6)]
            g.write(f"id{i},{int(sum(xs) > 0)},{xs[0]},{xs[1]},{xs[2]}\n")
            h.write(f"id{i},{xs[3]},{xs[4]},{xs[5]}\n")
    return guest, host


def P(role: str, pid: str) -> dict:
    return {"role": role, "party_id": [pid]}


def toy_dag(conf: dict | None = None) -> dict:
    dag = {"parties": [P("guest", GUEST), P("host", HOST)], "stage": "default",
           "tasks": {"toy_example_0": {"component_ref": "toy_example", "parameters": {"data_num": 100, "partition": 4}}}}
    if conf:
        dag["conf"] = conf
    return {"schema_version": "2.0.0.alpha", "dag": dag}


def lr_dag(epochs: int, namespace: str, guest_name: str, host_name: str) -> dict:
    gh = [P("guest", GUEST), P("host", HOST)]

    def out(task: str, key: str, parties: list) -> dict:
        return {"task_output_artifact": {"producer_task": task, "output_artifact_key": key, "parties": parties}}

    return {"schema_version": "2.2.0", "dag": {
        "parties": [P("guest", GUEST), P("host", HOST), P("arbiter", GUEST)],
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
                             "parameters": {"default_eval_setting": "binary"}, "parties": [P("guest", GUEST)],
                             "inputs": {"data": {"input_datas": {"task_output_artifact": [
                                 {"producer_task": "lr_0", "output_artifact_key": "train_output_data",
                                  "parties": [P("guest", GUEST)]}]}}}},
        },
        "party_tasks": {
            f"guest_{GUEST}": {"parties": [P("guest", GUEST)],
                               "tasks": {"reader_0": {"parameters": {"namespace": namespace, "name": guest_name}}}},
            f"host_{HOST}": {"parties": [P("host", HOST)],
                             "tasks": {"reader_0": {"parameters": {"namespace": namespace, "name": host_name}}}},
        }}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    r = Recorder(args.url, args.out)
    work = tempfile.mkdtemp(prefix="fate2-record-")
    ns = "rec"
    gq = {"role": "guest", "party_id": GUEST}

    # -- service, site, error answers -----------------------------------------------------------------
    r.call("server_fateflow", "GET", "/v2/server/fateflow")
    r.call("site_info_standalone", "GET", "/v2/site/info/query")
    r.call("v1_route_on_v2_server", "POST", "/v1/version/get", body={})
    r.call("job_query_unknown", "GET", "/v2/job/query", {"job_id": "nonexistent123"})
    r.call("job_stop_unknown", "POST", "/v2/job/stop", body={"job_id": "nonexistent123"})
    r.call("job_rerun_unknown", "POST", "/v2/job/rerun", body={"job_id": "nonexistent123"})
    r.call("job_submit_invalid", "POST", "/v2/job/submit", body={"dag_schema": {"dag": {}}})
    r.call("job_dag_dependency_unknown", "GET", "/v2/job/dag/dependency", {"job_id": "nonexistent123", **gq})
    r.call("task_query_unknown", "GET", "/v2/job/task/query", {"job_id": "nonexistent123"})
    r.call("table_query_missing", "GET", "/v2/table/query", {"namespace": ns, "name": "missing"})
    r.call("table_delete_missing", "POST", "/v2/table/delete", body={"namespace": ns, "name": "missing"})
    r.call("output_metric_query_unknown", "GET", "/v2/output/metric/query",
           {"job_id": "nonexistent123", **gq, "task_name": "lr_0"})
    r.call("job_log_download_unknown", "POST", "/v2/job/log/download", body={"job_id": "nonexistent123"})

    # -- a toy job, with a marker in dag.conf.extra (item 4 of issue 12) ---------------------------------
    marker = f"airflow-{uuid.uuid4().hex[:12]}"
    toy = r.call("job_submit_toy", "POST", "/v2/job/submit", body={"dag_schema": toy_dag({"extra": {"airflow_marker": marker}})})
    toy_id = toy["job_id"]
    r.call("job_query_toy_waiting", "GET", "/v2/job/query", {"job_id": toy_id})
    print("toy", r.wait(toy_id), flush=True)
    r.call("job_query_toy", "GET", "/v2/job/query", {"job_id": toy_id})
    r.call("job_query_toy_guest", "GET", "/v2/job/query", {"job_id": toy_id, **gq})
    r.call("job_list_query", "GET", "/v2/job/list/query", {"limit": 2})
    r.call("job_list_query_by_job", "GET", "/v2/job/list/query", {"job_id": toy_id, "limit": 10})
    r.call("task_query_toy", "GET", "/v2/job/task/query", {"job_id": toy_id, **gq})
    r.call("task_query_toy_by_name", "GET", "/v2/job/task/query", {"job_id": toy_id, **gq, "task_name": "toy_example_0"})
    r.call("task_list_query", "GET", "/v2/job/task/list/query", {"job_id": toy_id, "limit": 3})
    r.call("job_dag_dependency_toy", "GET", "/v2/job/dag/dependency", {"job_id": toy_id, **gq})
    r.call("log_count_schedule", "GET", "/v2/log/count", {"job_id": toy_id, "log_type": "schedule_info"})
    r.call("log_query_missing_role", "GET", "/v2/log/query", {"job_id": toy_id, "log_type": "schedule_info"})
    r.call("log_query_task_info", "GET", "/v2/log/query",
           {"job_id": toy_id, "log_type": "task_info", **gq, "task_name": "toy_example_0", "begin": 0, "end": 3})
    r.call("job_log_download_toy", "POST", "/v2/job/log/download", body={"job_id": toy_id})
    r.call("job_notes_add", "POST", "/v2/job/notes/add", body={"job_id": toy_id, **gq, "notes": f"note {marker}"})
    r.call("job_list_query_by_description", "GET", "/v2/job/list/query", {"description": marker, "limit": 10})

    # -- uploads: a server file and a multipart file ---------------------------------------------------
    guest_csv, host_csv = make_data(work)
    up_g = r.call("data_upload_guest", "POST", "/v2/data/component/upload", body={
        "file": guest_csv, "head": True, "partitions": 4, "extend_sid": True,
        "meta": {"delimiter": ",", "label_name": "y", "match_id_name": "id"}, "namespace": ns, "name": "guest"})
    up_h = r.call("data_upload_file_host", "POST", "/v2/data/component/upload/file", form={
        "head": "true", "partitions": "4", "extend_sid": "true",
        "meta": json.dumps({"delimiter": ",", "match_id_name": "id"}), "namespace": ns, "name": "host"},
        file=("file", host_csv))
    r.call("data_upload_missing_file", "POST", "/v2/data/component/upload", body={
        "file": "/nonexistent/x.csv", "head": True, "partitions": 4, "meta": {"delimiter": ","},
        "namespace": ns, "name": "never"})
    for j in (up_g["job_id"], up_h["job_id"]):
        print("upload", j, r.wait(j), flush=True)
    r.call("job_query_upload", "GET", "/v2/job/query", {"job_id": up_g["job_id"]})
    r.call("table_query_guest", "GET", "/v2/table/query", {"namespace": ns, "name": "guest"})
    r.call("table_query_guest_display", "GET", "/v2/table/query", {"namespace": ns, "name": "guest", "display": "true"})
    r.call("data_download_guest", "GET", "/v2/data/download", {"namespace": ns, "name": "guest"})
    r.call("data_download_missing", "GET", "/v2/data/download", {"namespace": ns, "name": "missing"})
    dl = r.call("data_component_download", "POST", "/v2/data/component/download",
                body={"namespace": ns, "name": "guest", "path": os.path.join(work, "downloaded")})
    if dl.get("job_id"):
        print("download job", r.wait(dl["job_id"]), flush=True)
        r.call("job_query_download", "GET", "/v2/job/query", {"job_id": dl["job_id"]})
    bind_dir = os.path.join(work, "bound")
    os.makedirs(bind_dir)
    with open(os.path.join(bind_dir, "part-0"), "w") as fh:
        fh.write("a,b\n1,2\n")
    r.call("table_bind_path", "POST", "/v2/table/bind/path", body={"namespace": ns, "name": "bound", "path": bind_dir})
    r.call("table_query_bound", "GET", "/v2/table/query", {"namespace": ns, "name": "bound"})
    tr = r.call("data_dataframe_transformer", "POST", "/v2/data/component/dataframe/transformer",
                body={"namespace": ns, "name": "guest_df", "data_warehouse": {"namespace": ns, "name": "guest"}, "drop": True})
    if tr.get("job_id"):
        print("transformer job", r.wait(tr["job_id"]), flush=True)
        r.call("job_query_transformer", "GET", "/v2/job/query", {"job_id": tr["job_id"]})
    r.call("table_delete_bound", "POST", "/v2/table/delete", body={"namespace": ns, "name": "bound"})

    # -- the LR job and its outputs ---------------------------------------------------------------------
    lr = r.call("job_submit_lr", "POST", "/v2/job/submit", body={"dag_schema": lr_dag(2, ns, "guest", "host")})
    lr_id = lr["job_id"]
    # a failing job while LR runs: the reader asks for a table that does not exist
    bad = r.call("job_submit_failing", "POST", "/v2/job/submit",
                 body={"dag_schema": lr_dag(2, ns, "no_such_table", "host")})
    print("failing", r.wait(bad["job_id"]), flush=True)
    r.call("job_query_failed", "GET", "/v2/job/query", {"job_id": bad["job_id"]})
    r.call("task_query_failed", "GET", "/v2/job/task/query", {"job_id": bad["job_id"]})
    r.call("log_query_failed_task_error", "GET", "/v2/log/query",
           {"job_id": bad["job_id"], "log_type": "task_error", **gq, "task_name": "reader_0"})
    r.call("log_count_failed_task_error", "GET", "/v2/log/count",
           {"job_id": bad["job_id"], "log_type": "task_error", **gq, "task_name": "reader_0"})
    r.call("log_query_failed_schedule_error", "GET", "/v2/log/query",
           {"job_id": bad["job_id"], "log_type": "schedule_error", **gq})
    print("lr", r.wait(lr_id), flush=True)
    r.call("job_query_lr", "GET", "/v2/job/query", {"job_id": lr_id, **gq})
    r.call("task_query_lr", "GET", "/v2/job/task/query", {"job_id": lr_id, **gq})
    r.call("job_dag_dependency_lr", "GET", "/v2/job/dag/dependency", {"job_id": lr_id, **gq})
    ev = {"job_id": lr_id, **gq, "task_name": "evaluation_0"}
    lr0 = {"job_id": lr_id, **gq, "task_name": "lr_0"}
    r.call("output_metric_key_query", "GET", "/v2/output/metric/key/query", ev)
    r.call("output_metric_query", "GET", "/v2/output/metric/query", ev)
    r.call("output_model_query", "GET", "/v2/output/model/query", lr0)
    r.call("output_model_query_no_model", "GET", "/v2/output/model/query", ev)
    r.call("output_model_download", "GET", "/v2/output/model/download", lr0)
    r.call("output_data_download", "GET", "/v2/output/data/download", lr0)
    r.call("output_data_table", "GET", "/v2/output/data/table", lr0)
    r.call("output_data_display", "GET", "/v2/output/data/display", {"job_id": lr_id, **gq, "task_name": "psi_0"})

    # -- models -----------------------------------------------------------------------------------------
    mid, mver = lr["data"]["model_id"], lr["data"]["model_version"]
    export_dir = os.path.join(work, "export")
    exp = r.call("model_export", "POST", "/v2/model/export",
                 body={"model_id": mid, "model_version": mver, **gq, "path": export_dir})
    files = exp.get("data") or []
    if files:
        first = files[0] if isinstance(files[0], str) else None
        if first and os.path.isfile(first):
            r.call("model_import", "POST", "/v2/model/import", form={"model_id": "imported_" + mid, "model_version": "0"},
                   file=("file", first))
    r.call("model_delete_imported", "POST", "/v2/model/delete", body={"model_id": "imported_" + mid, "model_version": "0"})
    r.call("model_delete_missing", "POST", "/v2/model/delete", body={"model_id": "nonexistent", "model_version": "0"})
    for op in ("load", "store", "restore", "migrate"):
        r.call(f"model_{op}", "POST", f"/v2/model/{op}", body={"model_id": mid, "model_version": mver})

    # -- stop and rerun ---------------------------------------------------------------------------------
    long = r.call("job_submit_long", "POST", "/v2/job/submit", body={"dag_schema": lr_dag(30, ns, "guest", "host")})
    long_id = long["job_id"]
    r.wait(long_id, until={"running"} | TERMINAL)
    time.sleep(5)
    r.call("job_stop", "POST", "/v2/job/stop", body={"job_id": long_id})
    print("stopped", r.wait(long_id), flush=True)
    r.call("job_query_canceled", "GET", "/v2/job/query", {"job_id": long_id})
    r.call("task_query_canceled", "GET", "/v2/job/task/query", {"job_id": long_id, **gq})
    r.call("job_stop_again", "POST", "/v2/job/stop", body={"job_id": long_id})
    r.call("job_rerun", "POST", "/v2/job/rerun", body={"job_id": long_id})
    time.sleep(3)
    r.call("job_query_rerun", "GET", "/v2/job/query", {"job_id": long_id})
    r.call("job_stop_rerun", "POST", "/v2/job/stop", body={"job_id": long_id})
    print("stopped rerun", r.wait(long_id), flush=True)
    r.call("table_delete_guest_df", "POST", "/v2/table/delete", body={"namespace": ns, "name": "guest_df"})
    print("RECORDED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
