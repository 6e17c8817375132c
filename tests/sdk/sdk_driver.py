#!/usr/bin/env python3
"""Drive the official FATE Flow v1 SDK (``flow_sdk`` from fate-client 1.11.2) against a FATE Flow server.

Run it with the interpreter of the SDK's own virtual environment (see requirements-fate-client.txt); it
needs nothing but ``flow_sdk`` and the standard library: no pytest, no Airflow, no provider code::

    .venv-fate-client/bin/python tests/sdk/sdk_driver.py --port 9380 --workdir /tmp/sdk [--auth KEY:SECRET]

It takes ``FlowClient`` through a full cycle (upload, train, inspect, deploy, predict, serve, export and
import, store and restore, tables, queue, stop) and through the error cases, and checks every outcome
against what a real FATE Flow 1.11.2 answers (shared/fateflow-v1/recordings and API.md). So against the
sandbox it measures the sandbox's fidelity through the official client.

Output: one JSON line per step on stdout, ``{"step", "ok", "retcode", "detail"}``. Exit status 0 when every
step had the expected outcome, 1 otherwise, 2 when the driver could not start.

``--serving off`` / ``--model-store off`` switch the expectations to those of the recorded server (no
FATE-Serving, ``enable_model_store: false``). ``job.stop`` of a running job needs jobs that take a
moment, as on a real server: the sandbox's default timing (no options) gives them.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import traceback
import zipfile
from collections import deque
from pathlib import Path
from typing import Any, Callable

try:
    from flow_sdk.client import FlowClient
except Exception as _exc:  # pragma: no cover - reported as a setup failure
    print(json.dumps({"step": "setup.import_flow_sdk", "ok": False, "retcode": None,
                      "detail": f"cannot import flow_sdk: {_exc!r}"}), flush=True)
    sys.exit(2)

GUEST, HOST, ARBITER = 9999, 10000, 10000
MODEL_ID = "arbiter-10000#guest-9999#host-10000#model"
UNKNOWN_JOB = "202601010000000000000"  # the made-up id of the recordings' "unknown job" cases
END = {"success", "failed", "canceled", "timeout"}
LR_COMPONENTS = ["reader_0", "data_transform_0", "hetero_lr_0", "evaluation_0"]
DEPLOY_COMPONENTS = ["reader_0", "data_transform_0", "hetero_lr_0"]
AUTH_HEADERS_MSG = "requirement headers parameters: ['TIMESTAMP', 'NONCE', 'APP_KEY', 'SIGNATURE']"
SUBMIT_OK_KEYS = {"board_url", "code", "dsl_path", "job_id", "logs_directory", "message", "model_info",
                  "pipeline_dsl_path", "runtime_conf_on_party_path", "runtime_conf_path", "train_runtime_conf_path"}
# What the real server's generate_dsl / deploy give for the example DSL and cpn list (recorded).
PREDICT_DSL = {"components": {
    "data_transform_0": {"input": {"data": {"data": ["reader_0.data"]}, "model": ["pipeline.data_transform_0.model"]},
                         "module": "DataTransform", "output": {"data": ["data"]}},
    "hetero_lr_0": {"input": {"data": {"test_data": ["data_transform_0.data"]},
                              "model": ["pipeline.hetero_lr_0.model"]},
                    "module": "HeteroLR", "output": {"data": ["data"]}},
    "reader_0": {"module": "Reader", "output": {"data": ["data"]}}}}
LR_OUTPUT_HEADER = ["id", "label", "predict_result", "predict_score", "predict_detail", "type"]
# Record keys the real server returns (recordings job.query__by_job_id, task.query__by_component, job.view__success).
JOB_KEYS = set("""apply_resource_time cancel_signal cancel_time cores create_date create_time description dsl elapsed
    end_date end_scheduling_updates end_time engine_name engine_type inheritance_info inheritance_status
    initiator_party_id initiator_role is_initiator job_id memory name party_id progress ready_signal ready_time
    remaining_cores remaining_memory rerun_signal resource_in_use return_resource_time role roles runtime_conf
    runtime_conf_on_party start_date start_time status status_code tag train_runtime_conf update_date update_time
    user user_id""".split())
TASK_KEYS = set("""auto_retries auto_retry_delay cmd component_module component_name component_parameters create_date
    create_time deepspeed_id elapsed end_date end_time engine_conf error_report federated_mode
    federated_status_collect_type initiator_party_id initiator_role is_deepspeed job_id kill_status party_id
    party_status provider_info role run_ip run_on_this_party run_pid run_port start_date start_time status
    status_code task_id task_version update_date update_time worker_id""".split())
VIEW_KEYS = set("""component_name create_date create_time data_name description job_id party_id role table_name
    table_namespace task_id task_version update_date update_time""".split())
TABLE_INFO_KEYS = {"address", "count", "enable", "exist", "extend_sid", "namespace", "origin", "partition", "schema",
                   "table_name"}


class Mismatch(Exception):
    """The server's answer differs from the real server's."""


class NotRun(Exception):
    """A step that depends on an earlier one that failed."""


def short(obj: Any, n: int = 400) -> str:
    """A compact, truncated JSON rendering for details."""
    try:
        s = json.dumps(obj, sort_keys=True, default=str)
    except Exception:  # noqa: BLE001
        s = repr(obj)
    return s if len(s) <= n else s[:n] + "..."


class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.host, self.port = args.host, args.port
        self.auth = tuple(args.auth.split(":", 1)) if args.auth else None
        self.serving = args.serving == "on"
        self.model_store = args.model_store == "on"
        self.examples = Path(args.examples).resolve()
        self.work = Path(args.workdir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        os.chdir(self.work)  # the SDK writes its downloaded tars into the current directory
        self.http: deque[dict[str, Any]] = deque(maxlen=64)  # the latest exchanges on the wire
        self.client = self.new_client(*(self.auth or (None, None)))
        self.ctx: dict[str, Any] = {}
        self.results: list[dict[str, Any]] = []
        self.last: Any = None
        self.first: Any = None

    # -- plumbing -------------------------------------------------------------------------------------------------
    def new_client(self, app_key: str | None = None, secret_key: str | None = None) -> FlowClient:
        client = FlowClient(self.host, self.port, "v1", app_key=app_key, secret_key=secret_key)
        send = client._http.send

        def recording_send(prepped: Any, **kw: Any) -> Any:
            # Note what came back on the wire (status, headers) without changing what the SDK does with it.
            resp = send(prepped, **kw)
            self.http.append({"method": prepped.method, "path": prepped.path_url.split("?")[0],
                              "status": resp.status_code, "type": resp.headers.get("Content-Type"),
                              "disposition": resp.headers.get("Content-Disposition")})
            return resp
        client._http.send = recording_send
        return client

    def call(self, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        """Call an SDK method and remember its answer (for the step's retcode)."""
        self.last = None
        self.last = fn(*a, **kw)
        if self.first is None and isinstance(self.last, dict):
            self.first = self.last
        return self.last

    def step(self, name: str, fn: Callable[[], str | None], needs: tuple[str, ...] = ()) -> bool:
        missing = [k for k in needs if k not in self.ctx]
        self.last = self.first = None
        t0 = time.monotonic()
        try:
            if missing:
                raise NotRun(f"not run: needs {', '.join(missing)} from an earlier step")
            detail = fn() or ""
            ok = True
        except (Mismatch, NotRun) as exc:
            ok, detail = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - an SDK crash is an outcome too
            ok = False
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            detail = f"unexpected {exc!r}{where}"
        # the retcode of the step's main call: its first JSON answer (later calls check side effects)
        main = self.first if self.first is not None else self.last
        retcode = main.get("retcode") if isinstance(main, dict) else None
        rec = {"step": name, "ok": ok, "retcode": retcode, "detail": detail,
               "seconds": round(time.monotonic() - t0, 3)}
        self.results.append(rec)
        print(json.dumps(rec, default=str), flush=True)
        return ok

    def expect(self, cond: Any, what: str, resp: Any = None) -> None:
        if not cond:
            got = self.last if resp is None else resp
            raise Mismatch(f"expected {what}; got {short(got)}")

    def keys(self, obj: Any, want: set[str], what: str) -> None:
        """The exact key set of a record (missing and extra keys are both fidelity gaps)."""
        got = set(obj) if isinstance(obj, dict) else set()
        missing, extra = sorted(want - got), sorted(got - want)
        if missing or extra:
            raise Mismatch(f"{what}: keys as on the real server; missing {missing}, extra {extra}")

    def rc(self, resp: Any, retcode: int, retmsg: str | None = None, contains: str | None = None,
           http: bool = True) -> None:
        self.expect(isinstance(resp, dict), "a JSON object", resp)
        self.expect(resp.get("retcode") == retcode, f"retcode {retcode}", resp)
        if http and self.http:
            # error_response() answers carry their code as the HTTP status (210, 400, 404, 409); all else is 200
            ex = self.http[-1]
            want = retcode if retcode in (210, 400, 404, 409, 500) else 200
            self.expect(ex["status"] == want, f"HTTP {want} for retcode {retcode}", ex)
            if "directory" not in resp and "file" not in resp:
                self.expect(str(ex["type"]).split(";")[0] == "application/json", "Content-Type application/json", ex)
        if retmsg is not None:
            self.expect(resp.get("retmsg") == retmsg, f"retmsg {retmsg!r}", resp)
        if contains is not None:
            self.expect(contains in str(resp.get("retmsg")), f"retmsg containing {contains!r}", resp)

    def download_headers(self, content_type: str, filename: str) -> None:
        """A file answer as the real server sends it: HTTP 200, its Content-Type, an unquoted file name."""
        ex = self.http[-1] if self.http else {}
        self.expect(ex.get("status") == 200 and ex.get("type") == content_type
                    and ex.get("disposition") == f"attachment; filename={filename}",
                    f"HTTP 200, Content-Type {content_type}, Content-Disposition attachment; filename={filename}", ex)

    def conf(self, name: str) -> dict[str, Any]:
        return json.loads((self.examples / name).read_text())

    def wait_job(self, job_id: str, role: str, party_id: int, timeout: float | None = None,
                 until: set[str] = END) -> tuple[str, list[str], dict[str, Any]]:
        """Poll ``job.query`` (as the pipeline client does) until the status is in ``until``."""
        deadline = time.monotonic() + (timeout or self.args.job_timeout)
        seen: list[str] = []
        while True:
            resp = self.call(self.client.job.query, job_id=job_id, role=role, party_id=party_id)
            self.rc(resp, 0)
            rows = resp.get("data") or []
            self.expect(len(rows) == 1, f"one job row for {role} {party_id}", resp)
            status = rows[0].get("f_status")
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in until:
                return status, seen, rows[0]
            if time.monotonic() > deadline:
                raise Mismatch(f"job {job_id} still {status} after {timeout or self.args.job_timeout}s ({seen})")
            time.sleep(self.args.poll)

    def submit_ok(self, resp: Any, model_id: str, model_version: str | None, initiator: tuple[str, int]) -> str:
        """Check a successful submit answer (job/submit, data/upload, model/store ...); return the job id."""
        self.rc(resp, 0, "success")
        data = resp.get("data") or {}
        job_id = resp.get("jobId")
        self.expect(isinstance(job_id, str) and job_id.isdigit() and len(job_id) >= 20,
                    "a numeric jobId of about 21 digits", resp)
        self.expect(data.get("job_id") == job_id, "data.job_id == jobId", resp)
        self.expect(data.get("code") == 0 and data.get("message") == "success", "data.code 0 / message success", resp)
        self.expect(SUBMIT_OK_KEYS <= set(data), f"data keys {sorted(SUBMIT_OK_KEYS)}", resp)
        role, party = initiator
        self.expect(f"job_id={job_id}&role={role}&party_id={party}" in str(data.get("board_url")),
                    f"board_url for the initiator {role} {party}", resp)
        self.expect(data.get("model_info") == {"model_id": model_id, "model_version": model_version or job_id},
                    f"model_info {model_id} / {model_version or job_id}", resp)
        return job_id

    # -- scenario -------------------------------------------------------------------------------------------------
    def run(self) -> int:
        c = self.client
        s = self.step

        # ---- version and authentication ----
        def version() -> str:
            api, flow, fate = (self.call(c.remote_version.api), self.call(c.remote_version.fate_flow),
                               self.call(c.remote_version.fate))
            self.expect((api, flow, fate) == ("v1", "1.11.2", "1.11.4"),
                        "API v1, FATEFlow 1.11.2, FATE 1.11.4", (api, flow, fate))
            raw = self.call(c.remote_version._post, url="version/get")
            self.rc(raw, 0, "success")
            self.expect(raw.get("data") == {"API": "v1", "FATE": "1.11.4"}, "data {API: v1, FATE: 1.11.4} (no body)")
            raw = self.call(c.remote_version._post, url="version/get", json={"module": "FATEFlow"})
            self.expect(raw.get("data") == {"API": "v1", "FATEFlow": "1.11.2"}, "data {API: v1, FATEFlow: 1.11.2}")
            return f"API {api}, FATEFlow {flow}, FATE {fate}"
        s("version.get", version)
        if self.auth:
            key, secret = self.auth

            def wrong_secret() -> str:
                bad = self.new_client(key, secret + "-wrong")
                self.rc(self.call(bad.job.submit, self.conf("toy_example_conf.json"),
                                  self.conf("toy_example_dsl.json")), 109, "signature authentication failed")
                return "109 signature authentication failed"
            s("auth.wrong_secret.job.submit", wrong_secret)

            def unknown_key() -> str:
                bad = self.new_client(key + "-unknown", secret)
                self.rc(self.call(bad.job.query, job_id=UNKNOWN_JOB), 109, "Unknown APP_KEY")
                return "109 Unknown APP_KEY"
            s("auth.unknown_app_key.job.query", unknown_key)

            def unsigned() -> str:
                self.rc(self.call(self.new_client().job.query, job_id=UNKNOWN_JOB), 109, AUTH_HEADERS_MSG)
                return "109 missing headers"
            s("auth.unsigned.job.query", unsigned)
        else:
            def ignored() -> str:
                r = self.call(self.new_client("someone", "not-checked").job.query, job_id=UNKNOWN_JOB)
                self.rc(r, 0)
                return "auth headers ignored while the switch is off"
            s("auth.headers_ignored_when_off", ignored)

        def clean_empty() -> str:
            r = self.call(c.queue.clean)
            self.rc(r, 0, "success")
            self.expect(r.get("data") == {}, "data {} (nothing waiting)")
            return "empty queue"
        s("queue.clean.empty", clean_empty)

        # ---- data ----
        guest_csv, host_csv = self.examples / "guest.csv", self.examples / "host.csv"

        def upload_missing() -> str:
            r = self.call(c.data.upload, {"file": str(guest_csv), "id_delimiter": ",", "namespace": "experiment",
                                          "table_name": "breast_hetero_guest", "use_local_data": 0})
            self.rc(r, 100, "KeyError('required parameters are missing: head,partition; ')")
            return "100 KeyError head,partition"
        s("data.upload.missing_required_field", upload_missing)

        def upload(key: str, conf: dict[str, Any], drop: int) -> Callable[[], str]:
            def run() -> str:
                r = self.call(c.data.upload, conf, drop=drop)
                job_id = self.submit_ok(r, "local-0#model", None, ("local", 0))
                d = r["data"]
                self.keys(d, SUBMIT_OK_KEYS | {"table_name", "namespace"}, "upload data")
                self.expect((d.get("table_name"), d.get("namespace")) == (conf["table_name"], conf["namespace"]),
                            "data.table_name / namespace echoed")
                status, seen, _ = self.wait_job(job_id, "local", 0)
                self.expect(status == "success", "the upload job to succeed", {"status": status, "seen": seen})
                self.ctx[key] = job_id
                return f"job {job_id} {'>'.join(seen)}"
            return run
        guest_conf = {"file": str(guest_csv), "head": 1, "partition": 4, "id_delimiter": ",",
                      "namespace": "experiment", "table_name": "breast_hetero_guest"}
        host_conf = {"file": str(host_csv), "head": 1, "partition": 4, "id_delimiter": ",",
                     "namespace": "experiment", "table_name": "breast_hetero_host", "use_local_data": 0}
        s("data.upload.client_file.drop", upload("guest_upload", guest_conf, 1))
        s("data.upload.server_file.drop", upload("host_upload", host_conf, 1))

        def upload_exists() -> str:
            r = self.call(c.data.upload, guest_conf, drop=0)
            self.rc(r, 100, "The data table already exists.If you still want to continue uploading, "
                            "please add the parameter --drop")
            self.expect("jobId" not in r, "no jobId")
            return "100 table exists without drop"
        s("data.upload.exists_without_drop", upload_exists, needs=("guest_upload",))

        def upload_history() -> str:
            r = self.call(c.data.upload_history, limit=10)
            self.rc(r, 0, "success")
            entries = {k: v for item in r.get("data") or [] for k, v in item.items()}
            for key, table, header in (("guest_upload", "breast_hetero_guest", "y,x0,x1,x2,x3"),
                                       ("host_upload", "breast_hetero_host", "x4,x5,x6,x7,x8,x9")):
                e = entries.get(self.ctx[key])
                self.expect(e is not None, f"upload job {self.ctx[key]} listed")
                self.expect(e.get("upload_info") == {"table_name": table, "namespace": "experiment", "partition": 4,
                                                     "upload_count": 200}, f"upload_info of {table}", e)
                self.expect((e.get("schema") or {}).get("header") == header and e["schema"].get("sid") == "id",
                            f"schema header {header}, sid id", e)
            return f"{len(entries)} uploads listed"
        s("data.upload_history", upload_history, needs=("guest_upload", "host_upload"))

        def upload_history_unknown() -> str:
            r = self.call(c.data.upload_history, limit=10, job_id=UNKNOWN_JOB)
            self.rc(r, 0, "success")
            self.expect(r.get("data") == [], "data [] for an unknown job")
            return "retcode 0, data []"
        s("data.upload_history.unknown_job", upload_history_unknown)

        def table_info() -> str:
            for table, header in (("breast_hetero_guest", "y,x0,x1,x2,x3"),
                                  ("breast_hetero_host", "x4,x5,x6,x7,x8,x9")):
                r = self.call(c.table.info, namespace="experiment", table_name=table)
                self.rc(r, 0, "success")
                d = r.get("data") or {}
                self.expect(d.get("exist") == 1 and d.get("count") == 200 and d.get("partition") == 4,
                            f"{table}: exist 1, count 200, partition 4")
                self.expect((d.get("table_name"), d.get("namespace")) == (table, "experiment"), "name echoed")
                self.expect(d.get("schema", {}).get("header") == header and d["schema"].get("sid") == "id",
                            f"schema header {header!r}, sid 'id'")
                self.keys(d, TABLE_INFO_KEYS, "table.info data")
                self.expect(d.get("extend_sid") is False and d.get("enable") is True and d.get("origin") == "upload",
                            "extend_sid false, enable true, origin upload")
                addr = d.get("address") or {}
                self.expect(addr.get("name") == table and addr.get("namespace") == "experiment",
                            "an address object naming the table", addr)
            return "both tables: exist 1, count 200"
        s("table.info.existing", table_info, needs=("guest_upload", "host_upload"))

        def table_info_missing() -> str:
            r = self.call(c.table.info, namespace="experiment", table_name="no_such_table")
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            want = {"address": None, "count": 0, "exist": 0, "extend_sid": False, "namespace": "experiment",
                    "partition": None, "schema": None, "table_name": "no_such_table"}
            self.expect({k: d.get(k) for k in want} == want, f"data {want}")
            self.keys(d, TABLE_INFO_KEYS, "table.info data")
            return "retcode 0, exist 0"
        s("table.info.missing", table_info_missing)

        def download() -> str:
            out = self.work / "download" / "breast_hetero_guest.csv"
            r = self.call(c.data.download, {"namespace": "experiment", "table_name": "breast_hetero_guest",
                                            "output_path": str(out), "delimiter": ","})
            job_id = self.submit_ok(r, "local-0#model", None, ("local", 0))
            self.keys(r["data"], SUBMIT_OK_KEYS, "download data (no table_name/namespace)")
            status, seen, _ = self.wait_job(job_id, "local", 0)
            self.expect(status == "success", "the download job to succeed", {"status": status})
            self.expect(out.is_file(), f"the table written to {out} (server and client share this host)", {})
            lines = out.read_text().splitlines()
            self.expect(len(lines) >= 200, "200 rows in the downloaded file", {"lines": len(lines)})
            return f"job {job_id} wrote {len(lines)} lines"
        s("data.download", download, needs=("guest_upload",))

        def download_missing() -> str:
            r = self.call(c.data.download, {"namespace": "experiment", "table_name": "no_such_table",
                                            "output_path": str(self.work / "download" / "x.csv")})
            job_id = self.submit_ok(r, "local-0#model", None, ("local", 0))
            status, seen, _ = self.wait_job(job_id, "local", 0)
            self.expect(status == "failed", "retcode 0 on submit, then the job fails", {"status": status})
            t = self.call(c.task.query, job_id=job_id, role="local", party_id=0)
            self.rc(t, 0, "success")
            task = (t.get("data") or [{}])[0]
            self.expect(task.get("f_component_name") == "download_0" and task.get("f_status") == "failed"
                        and task.get("f_error_report"), "task download_0 failed with an f_error_report", task)
            return f"job {job_id} {'>'.join(seen)}"
        s("data.download.missing_table", download_missing)

        # ---- training ----
        train_conf, train_dsl = self.conf("hetero_lr_conf.json"), self.conf("hetero_lr_dsl.json")

        def submit_train() -> str:
            r = self.call(c.job.submit, train_conf, train_dsl)
            job_id = self.submit_ok(r, MODEL_ID, None, ("guest", GUEST))
            self.ctx["train_submitted"] = job_id
            return f"job {job_id}"
        s("job.submit.hetero_lr", submit_train, needs=("guest_upload", "host_upload"))

        def wait_train() -> str:
            job_id = self.ctx["train_submitted"]
            status, seen, row = self.wait_job(job_id, "guest", GUEST)
            self.expect(status == "success", "the training job to succeed", {"status": status, "seen": seen})
            self.expect(set(seen) <= {"ready", "waiting", "running", "success"}, "waiting/running/success only",
                        {"seen": seen})
            self.expect(row.get("f_progress") == 100 and row.get("f_is_initiator") is True,
                        "f_progress 100 and f_is_initiator true", row)
            self.ctx["train"] = job_id
            return f"job {job_id} {'>'.join(seen)}"
        s("job.query.poll_until_success", wait_train, needs=("train_submitted",))

        def query_by_job() -> str:
            r = self.call(c.job.query, job_id=self.ctx["train"])
            self.rc(r, 0, "success")
            rows = r.get("data") or []
            parties = sorted((x.get("f_role"), x.get("f_party_id")) for x in rows)
            self.expect(parties == [("arbiter", "10000"), ("guest", "9999"), ("host", "10000")],
                        "one row per party, f_party_id as strings", parties)
            self.expect(all(x.get("f_status") == "success" for x in rows), "all rows success")
            for x in rows:
                self.keys(x, {f"f_{k}" for k in JOB_KEYS}, f"job row ({x.get('f_role')})")
            self.expect(all(x.get("f_dsl") == train_dsl for x in rows), "f_dsl is the submitted DSL")
            self.expect(all(x.get("f_roles") == {"arbiter": [10000], "guest": [9999], "host": [10000]} for x in rows),
                        "f_roles")
            return "3 rows, all success"
        s("job.query.by_job_id", query_by_job, needs=("train",))

        def query_filters() -> str:
            r = self.call(c.job.query, job_id=self.ctx["train"], status="success")
            self.rc(r, 0, "success")
            self.expect(len(r.get("data") or []) == 3, "3 rows with status success")
            r = self.call(c.job.query, job_id=self.ctx["train"], status="failed")
            self.rc(r, 0, "no job could be found")
            self.expect(r.get("data") == [], "data []")
            return "status is an exact column filter"
        s("job.query.status_filter", query_filters, needs=("train",))

        def query_unknown() -> str:
            r = self.call(c.job.query, job_id=UNKNOWN_JOB)
            self.rc(r, 0, "no job could be found")
            self.expect(r.get("data") == [], "data [] (not an error code)")
            return "retcode 0, data []"
        s("job.query.unknown_job", query_unknown)

        def job_list() -> str:
            r = self.call(c.job.list, limit=3)
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            jobs = d.get("jobs") or []
            self.expect(isinstance(d.get("count"), int) and d["count"] >= 7, "count of (job, role, party) rows >= 7")
            self.expect(len(jobs) == 3, "3 jobs (limit 3)")
            self.expect({j.get("job_id") for j in jobs} == {self.ctx["train"]},
                        "newest first: the 3 rows of the training job")
            for j in jobs:
                self.keys(j, JOB_KEYS | {"partners"}, "job.list job")
            g = next((j for j in jobs if j.get("role") == "guest"), {})
            self.expect(g.get("party_id") == 9999 and g.get("partners") == [10000], "party_id int, partners [10000]", g)
            a = next((j for j in jobs if j.get("role") == "arbiter"), {})
            self.expect(a.get("partners") == [9999], "arbiter partners [9999]", a)
            return f"count {d['count']}"
        s("job.list", job_list, needs=("train",))

        def task_query() -> str:
            r = self.call(c.task.query, job_id=self.ctx["train"], role="guest", party_id=GUEST)
            self.rc(r, 0, "success")
            rows = r.get("data") or []
            self.expect(sorted(x.get("f_component_name") for x in rows) == sorted(LR_COMPONENTS),
                        f"the 4 guest tasks {LR_COMPONENTS}")
            self.expect(all(x.get("f_status") == "success" and x.get("f_party_status") == "success" for x in rows),
                        "all guest tasks success")
            self.expect(all(x.get("f_task_id") == f"{self.ctx['train']}_{x.get('f_component_name')}" for x in rows),
                        "f_task_id = <job>_<component>")
            for x in rows:
                self.keys(x, {f"f_{k}" for k in TASK_KEYS}, "task row")
            r = self.call(c.task.query, job_id=self.ctx["train"], role="guest", party_id=GUEST,
                          component_name="hetero_lr_0")
            self.rc(r, 0, "success")
            rows = r.get("data") or []
            self.expect(len(rows) == 1 and rows[0].get("f_component_module") == "HeteroLR",
                        "one HeteroLR task for component_name hetero_lr_0")
            return "4 guest tasks, each with the real record keys; by component_name: one"
        s("task.query", task_query, needs=("train",))

        def task_query_unknown() -> str:
            self.rc(self.call(c.task.query, job_id=UNKNOWN_JOB), 101, "find task failed")
            return "101 find task failed"
        s("task.query.unknown_job", task_query_unknown)

        def task_list() -> str:
            r = self.call(c.task.list, limit=3)
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            tasks = d.get("tasks") or []
            self.expect(len(tasks) == 3 and isinstance(d.get("count"), int) and d["count"] >= 12,
                        "3 tasks and a count >= 12")
            for t in tasks:
                self.keys(t, TASK_KEYS, "task.list task")
            self.expect(all(t.get("component_name") for t in tasks), "component_name on each task")
            return f"count {d['count']}, oldest first: {[t.get('component_name') for t in tasks]}"
        s("task.list", task_list, needs=("train",))

        # ---- component tracking ----
        def comp(method: Callable[..., Any], cpn: str, role: str = "guest", party: int = GUEST,
                 job: str | None = None, **kw: Any) -> Any:
            return self.call(method, job_id=job or self.ctx["train"], role=role, party_id=party,
                             component_name=cpn, **kw)

        def component_list() -> str:
            r = self.call(c.component.list, job_id=self.ctx["train"])
            self.rc(r, 0, "success")
            self.expect(r.get("data") == {"components": LR_COMPONENTS}, f"components {LR_COMPONENTS} in DSL order")
            return f"{LR_COMPONENTS}"
        s("component.list", component_list, needs=("train",))

        def component_list_unknown() -> str:
            r = self.call(c.component.list, job_id=UNKNOWN_JOB)
            self.rc(r, 100, "No job matched, please make sure the job id is valid.")
            return "100 No job matched"
        s("component.list.unknown_job", component_list_unknown)

        def parameters() -> str:
            r = comp(c.component.parameters, "hetero_lr_0")
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            self.expect(d.get("module") == "HeteroLR", "data.module HeteroLR")
            p = d.get("ComponentParam") or {}
            want = {"penalty": "L2", "max_iter": 3, "alpha": 0.01, "batch_size": 320, "optimizer": "rmsprop",
                    "learning_rate": 0.15, "tol": 0.0001, "early_stop": "diff"}
            self.expect({k: p.get(k) for k in want} == want, f"ComponentParam carries the conf values {want}")
            self.expect(p.get("_name") == "HeteroLR#hetero_lr_0", "ComponentParam._name HeteroLR#hetero_lr_0")
            return "HeteroLR ComponentParam"
        s("component.parameters", parameters, needs=("train",))

        def metrics() -> str:
            r = comp(c.component.metrics, "evaluation_0")
            self.rc(r, 0, "success")
            names = (r.get("data") or {}).get("train") or []
            want = {"hetero_lr_0", "hetero_lr_0_ks_fpr", "hetero_lr_0_ks_tpr", "hetero_lr_0_lift", "hetero_lr_0_gain",
                    "hetero_lr_0_accuracy", "hetero_lr_0_precision", "hetero_lr_0_recall", "hetero_lr_0_roc",
                    "hetero_lr_0_confusion_mat", "hetero_lr_0_f1_score", "hetero_lr_0_quantile_pr"}
            self.expect(set(r.get("data") or {}) == {"train"} and set(names) == want,
                        f"namespace train with the 12 evaluation metrics {sorted(want)}")
            r = comp(c.component.metrics, "reader_0")
            self.rc(r, 0, "success")
            self.expect(r.get("data") == {"reader_namespace": ["reader_name"]}, "reader data_info metric")
            r = comp(c.component.metrics, "hetero_lr_0")
            self.rc(r, 0, "no data")
            self.expect(r.get("data") == {}, "data {} for hetero_lr_0 (no metrics)")
            return "evaluation 12 metrics; reader data_info; hetero_lr_0 no data"
        s("component.metrics", metrics, needs=("train",))

        def metric_all() -> str:
            r = comp(c.component.metric_all, "evaluation_0")
            self.rc(r, 0, "success")
            train = (r.get("data") or {}).get("train") or {}
            summary = train.get("hetero_lr_0") or {}
            self.expect(summary.get("meta") == {"metric_type": "EVALUATION_SUMMARY", "name": "hetero_lr_0"},
                        "summary meta EVALUATION_SUMMARY", summary)
            keys = [k for k, _ in summary.get("data") or []]
            self.expect(keys == ["auc", "ks"], "summary data [[auc, x], [ks, y]] sorted by key", summary)
            auc = dict(summary["data"])["auc"]
            self.expect(0.5 < auc <= 1.0, "a plausible AUC on the breast-cancer data", summary)
            self.expect((train.get("hetero_lr_0_roc") or {}).get("meta", {}).get("metric_type") == "ROC_EVALUATION",
                        "hetero_lr_0_roc with metric_type ROC_EVALUATION")
            r = comp(c.component.metric_all, "reader_0")
            self.rc(r, 0, "success")
            rn = ((r.get("data") or {}).get("reader_namespace") or {}).get("reader_name") or {}
            meta = rn.get("meta") or {}
            self.expect(rn.get("data") == [] and meta.get("metric_type") == "data_info" and meta.get("count") == 200
                        and meta.get("table_name") == "breast_hetero_guest" and meta.get("namespace") == "experiment",
                        "reader data_info meta: count 200, table breast_hetero_guest", rn)
            return f"auc {auc}"
        s("component.metric_all", metric_all, needs=("train",))

        def output_model() -> str:
            r = comp(c.component.output_model, "hetero_lr_0")
            self.rc(r, 0, "success")
            d, meta = r.get("data") or {}, r.get("meta") or {}
            self.expect(d.get("header") == ["x0", "x1", "x2", "x3"]
                        and set(d.get("weight") or {}) == {"x0", "x1", "x2", "x3"},
                        "guest weights for x0..x3")
            self.expect(d.get("iters") == 3 and isinstance(d.get("intercept"), float), "iters 3 and an intercept")
            self.expect(meta.get("module_name") == "HeteroLR", "meta.module_name HeteroLR", meta)
            md = meta.get("meta_data") or {}
            self.expect(md.get("penalty") == "L2" and md.get("maxIter") == "3" and md.get("optimizer") == "rmsprop",
                        "meta_data camelCase protobuf JSON (maxIter '3' as a string)", md)
            return "HeteroLR weights x0..x3, meta_data"
        s("component.output_model", output_model, needs=("train",))

        def output_model_none() -> str:
            r = comp(c.component.output_model, "evaluation_0")
            self.rc(r, 0, "no define_meta")
            self.expect(r.get("data") == {}, "data {}")
            return "evaluation_0: retcode 0, no define_meta, data {}"
        s("component.output_model.no_model_output", output_model_none, needs=("train",))

        def output_model_unknown() -> str:
            r = comp(c.component.output_model, "hetero_lr_0", job=UNKNOWN_JOB)
            self.rc(r, 100, contains="AttributeError")
            return "100 AttributeError repr"
        s("component.output_model.unknown_job", output_model_unknown)

        def output_data() -> str:
            out = self.work / "output"
            r = comp(c.component.output_data, "hetero_lr_0", output_path=str(out))
            self.rc(r, 0)
            d = Path(r.get("directory", ""))
            want_dir = out / f"job_{self.ctx['train']}_hetero_lr_0_guest_9999_output_data"
            self.expect(d == want_dir and d.is_dir(), f"extracted into {want_dir}")
            self.expect(sorted(p.name for p in d.iterdir()) == ["data.csv", "data.meta"], "data.csv and data.meta",
                        sorted(p.name for p in d.iterdir()))
            with open(d / "data.csv", newline="") as fh:
                rows = list(csv.reader(fh))
            self.expect(rows[0] == LR_OUTPUT_HEADER, f"header {LR_OUTPUT_HEADER}", rows[0])
            self.expect(len(rows) == 201 and all(x[-1] == "train" for x in rows[1:]), "200 rows of type train",
                        {"rows": len(rows)})
            self.download_headers("application/x-tar", f"{want_dir.name}.tar.gz")
            meta = json.loads((d / "data.meta").read_text())
            self.expect(meta == {"header": LR_OUTPUT_HEADER}, "data.meta {header: [...]}", meta)
            self.expect(not list(self.work.glob("*.tar.gz")), "the SDK removed its tar from the cwd")
            r = comp(c.component.output_data, "data_transform_0", output_path=str(out), limit=5)
            self.rc(r, 0)
            with open(Path(r["directory"]) / "data.csv", newline="") as fh:
                rows = list(csv.reader(fh))
            self.expect(rows[0] == ["id", "y", "x0", "x1", "x2", "x3"] and len(rows) == 6,
                        "limit 5: header id,y,x0..x3 and 5 rows", rows[:2])
            self.expect(rows[1] == ["id0", "0", "17.99", "10.38", "122.8", "1001.0"], "the first guest row", rows[1])
            return "hetero_lr_0: 200 rows; data_transform_0 limit 5"
        s("component.output_data.tar", output_data, needs=("train",))

        def output_data_no_data() -> str:
            r = comp(c.component.output_data, "hetero_lr_0", role="arbiter", party=ARBITER,
                     output_path=str(self.work / "output"))
            self.rc(r, 210, "no data")  # HTTP 210 with a JSON body; the SDK returns that JSON
            return "arbiter hetero_lr_0: HTTP 210 no data"
        s("component.output_data.no_output_data", output_data_no_data, needs=("train",))

        def output_data_unknown() -> str:
            r = comp(c.component.output_data, "hetero_lr_0", job=UNKNOWN_JOB, output_path=str(self.work / "output"))
            # HTTP 200 with a JSON body (retcode 100): the SDK tries to untar it and makes up its own answer
            self.rc(r, 100, "download failed, please check if the parameters are correct")
            for leftover in self.work.glob("*.tar.gz"):
                leftover.unlink()
            return "HTTP 200 JSON retcode 100 -> flow_sdk's own 'download failed'"
        s("component.output_data.unknown_task", output_data_unknown)

        def output_data_table() -> str:
            r = comp(c.component.output_data_table, "hetero_lr_0")
            self.rc(r, 0, "success")
            rows = r.get("data") or []
            self.expect(len(rows) == 1 and rows[0].get("data_name") == "data"
                        and rows[0].get("table_namespace") == f"output_data_{self.ctx['train']}_hetero_lr_0_0"
                        and rows[0].get("table_name"),
                        "[{data_name: data, table_namespace: output_data_<job>_hetero_lr_0_0}]")
            return "one output table"
        s("component.output_data_table", output_data_table, needs=("train",))

        def output_data_table_unknown() -> str:
            r = comp(c.component.output_data_table, "hetero_lr_0", job=UNKNOWN_JOB)
            self.rc(r, 100, "No found job")
            return "100 No found job"
        s("component.output_data_table.unknown_job", output_data_table_unknown)

        def job_config() -> str:
            out = self.work / "config"
            r = self.call(c.job.config, job_id=self.ctx["train"], role="guest", party_id=GUEST, output_path=str(out))
            self.rc(r, 0)
            d = Path(r.get("directory", ""))
            self.expect(d == out / f"job_{self.ctx['train']}_config", "directory job_<id>_config")
            files = sorted(p.name for p in d.iterdir())
            self.expect(files == ["dsl.json", "model_info.json", "runtime_conf.json", "train_runtime_conf.json"],
                        "dsl, runtime_conf, train_runtime_conf and model_info written", files)
            self.expect(json.loads((d / "dsl.json").read_text()) == train_dsl, "dsl.json is the submitted DSL")
            self.expect(json.loads((d / "model_info.json").read_text()) ==
                        {"model_id": MODEL_ID, "model_version": self.ctx["train"]}, "model_info.json")
            self.expect(json.loads((d / "train_runtime_conf.json").read_text()) == {},
                        "train_runtime_conf {} (a training job)")
            rc = json.loads((d / "runtime_conf.json").read_text())
            self.expect(rc.get("component_parameters") == train_conf["component_parameters"]
                        and rc.get("initiator") == train_conf["initiator"], "runtime_conf keeps the submitted parts")
            return "dsl, runtime_conf, train_runtime_conf, model_info written"
        s("job.config", job_config, needs=("train",))

        def job_config_unknown() -> str:
            r = self.call(c.job.config, job_id=UNKNOWN_JOB, role="guest", party_id=GUEST,
                          output_path=str(self.work / "config"))
            self.rc(r, 101, "find job failed")
            return "101 find job failed"
        s("job.config.unknown_job", job_config_unknown)

        def job_log() -> str:
            out = self.work / "logs"
            r = self.call(c.job.log, job_id=self.ctx["train"], output_path=str(out))
            self.rc(r, 0)
            d = Path(r.get("directory", ""))
            self.expect(d == out / f"job_{self.ctx['train']}_log" and d.is_dir(), "directory job_<id>_log")
            self.download_headers("application/x-tar", f"job_{self.ctx['train']}_log.tar.gz")
            files = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
            self.expect(files, "log files", files)
            self.expect("fate_flow_schedule.log" in files, "the job's fate_flow_schedule.log at the top", files)
            for role, party in (("guest", GUEST), ("host", HOST)):
                self.expect(any(f.startswith(f"{role}/{party}/") for f in files), f"{role}/{party}/ party logs", files)
            self.expect(not list(self.work.glob("*.tar.gz")), "the SDK removed its tar from the cwd")
            return f"{len(files)} log files extracted"
        s("job.log.tar", job_log, needs=("train",))

        def job_log_unknown() -> str:
            r = self.call(c.job.log, job_id=UNKNOWN_JOB, output_path=str(self.work / "logs"))
            self.rc(r, 404, contains="not found. Please check if the job id is valid.")
            return "HTTP 404 JSON returned by the SDK"
        s("job.log.unknown_job", job_log_unknown)

        def job_view() -> str:
            r = self.call(c.job.view, job_id=self.ctx["train"], role="guest", party_id=GUEST)
            self.rc(r, 0, "success")
            rows = r.get("data") or []
            got = sorted((x.get("f_component_name"), x.get("f_data_name")) for x in rows)
            self.expect(got == [("data_transform_0", "data"), ("hetero_lr_0", "data"), ("reader_0", "data")],
                        "one output-data record per data-producing component (not the evaluation)", got)
            self.expect(all(x.get("f_table_namespace") == f"output_data_{self.ctx['train']}_{x['f_component_name']}_0"
                            and x.get("f_task_version") == 0 and x.get("f_party_id") == "9999" for x in rows),
                        "f_table_namespace output_data_<job>_<cpn>_0, f_task_version 0, f_party_id '9999'")
            for x in rows:
                self.keys(x, {f"f_{k}" for k in VIEW_KEYS}, "job.view record")
            return "3 output-data records"
        s("job.view", job_view, needs=("train",))

        def job_view_unknown() -> str:
            self.rc(self.call(c.job.view, job_id=UNKNOWN_JOB), 101, "find data view failed")
            return "101 find data view failed"
        s("job.view.unknown_job", job_view_unknown)

        def generate_dsl() -> str:
            r = self.call(c.job.generate_dsl, train_dsl, DEPLOY_COMPONENTS)
            self.rc(r, 0, "success")
            self.expect(r.get("data") == PREDICT_DSL, "the recorded predict DSL")
            return "the recorded predict DSL"
        s("job.generate_dsl", generate_dsl)

        def generate_dsl_str() -> str:
            r = self.call(c.job.generate_dsl, train_dsl, "reader_0, data_transform_0, hetero_lr_0")
            self.rc(r, 0, "success")
            self.expect(r.get("data") == PREDICT_DSL, "the same DSL from a cpn string")
            return "the same DSL"
        s("job.generate_dsl.cpn_string", generate_dsl_str)

        def generate_dsl_unknown() -> str:
            r = self.call(c.job.generate_dsl, train_dsl, ["reader_0", "no_such_cpn"])
            self.rc(r, 210, "DSL generating failed. For more details, please check logs/fate_flow/fate_flow_stat.log.")
            self.expect(r.get("data") == {}, "data {} (the SDK fills it in)")
            return "HTTP 210 DSL generating failed"
        s("job.generate_dsl.unknown_component", generate_dsl_unknown)

        # ---- deploy and predict ----
        def deploy() -> str:
            r = self.call(c.model.deploy, model_id=MODEL_ID, model_version=self.ctx["train"],
                          cpn_list=DEPLOY_COMPONENTS)
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            v = d.get("model_version")
            self.expect(d.get("model_id") == MODEL_ID and isinstance(v, str) and v.isdigit() and v != self.ctx["train"],
                        "a NEW model_version (a fresh job id)")
            self.keys(d, {"arbiter", "detail", "guest", "host", "model_id", "model_version"}, "deploy data")
            self.expect(d.get("guest") == {"9999": 0} and d.get("host") == {"10000": 0}
                        and d.get("arbiter") == {"10000": 0},
                        "per-party 0 for guest, host and arbiter")
            det = d.get("detail") or {}
            self.expect(det.get("guest", {}).get("9999") ==
                        {"retcode": 0, "retmsg": "deploy model of role guest 9999 success"},
                        "detail per party", det)
            self.ctx["deployed"] = v
            return f"new version {v}"
        s("model.deploy", deploy, needs=("train",))

        def predict_dsl() -> str:
            r = self.call(c.model.get_predict_dsl, model_id=MODEL_ID, model_version=self.ctx["deployed"])
            self.rc(r, 0, "success")
            self.expect(r.get("data") == PREDICT_DSL, "the deployed inference DSL")
            return "the inference DSL"
        s("model.get_predict_dsl", predict_dsl, needs=("deployed",))

        def predict_conf() -> str:
            r = self.call(c.model.get_predict_conf, model_id=MODEL_ID, model_version=self.ctx["deployed"])
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            common = (d.get("job_parameters") or {}).get("common") or {}
            self.expect(d.get("dsl_version") == 2 and d.get("initiator") == train_conf["initiator"]
                        and d.get("role") == train_conf["role"],
                        "dsl_version 2, initiator and role of the training conf")
            self.expect(common.get("job_type") == "predict" and common.get("model_id") == MODEL_ID
                        and common.get("model_version") == self.ctx["deployed"], "job_parameters.common predict/model")
            tmpl = {"reader_0": {"table": {"name": "name_to_be_filled_0", "namespace": "namespace_to_be_filled_0"}}}
            self.expect(d.get("component_parameters") == {"role": {"guest": {"0": tmpl}, "host": {"0": tmpl}}},
                        "reader placeholders name_to_be_filled_0 / namespace_to_be_filled_0 for guest and host "
                        "(FATE-Flow RuntimeConfParserV2.generate_predict_conf_template)")
            return "the predict conf template"
        s("model.get_predict_conf", predict_conf, needs=("deployed",))

        def predict_dsl_unknown() -> str:
            r = self.call(c.model.get_predict_dsl, model_id=MODEL_ID, model_version=UNKNOWN_JOB)
            self.rc(r, 210, contains="No model found")
            return "HTTP 210 No model found"
        s("model.get_predict_dsl.unknown_version", predict_dsl_unknown)

        def model_info() -> str:
            r = self.call(c.model.get_model_info, model_id=MODEL_ID, model_version=self.ctx["deployed"], role="guest",
                          party_id=GUEST)
            self.rc(r, 0)
            rows = r.get("data") or []
            self.expect(rows and all(x.get("f_model_id") == MODEL_ID
                                     and x.get("f_model_version") == self.ctx["deployed"]
                                     and x.get("f_role") == "guest" for x in rows),
                        "f_-prefixed model records of the deployed version")
            return f"{len(rows)} record(s)"
        s("model.get_model_info", model_info, needs=("deployed",))

        def model_info_unknown() -> str:
            r = self.call(c.model.get_model_info, model_id=MODEL_ID, model_version=UNKNOWN_JOB, role="guest",
                          party_id=GUEST)
            self.rc(r, 100)
            return "retcode 100"
        s("model.get_model_info.unknown_version", model_info_unknown)

        def summary_missing() -> str:
            r = self.call(c.component.get_summary, job_id=UNKNOWN_JOB, role="guest", party_id=GUEST,
                          component_name="hetero_lr_0")
            self.rc(r, 210, "No component summary found, please check if arguments are specified correctly.")
            self.expect(r.get("data") == {}, "data {} (the SDK fills it in)")
            return "210 no summary"
        s("component.get_summary.missing", summary_missing)

        def predict_not_deployed() -> str:
            pc = self.conf("hetero_lr_predict_conf.json")
            pc["job_parameters"]["common"]["model_version"] = self.ctx["train"]
            r = self.call(c.job.submit, pc)
            self.rc(r, 103, contains="model has not been deployed yet")
            self.expect(r.get("jobId") and "data" not in r, "a fresh jobId and no data")
            return "103 model has not been deployed yet"
        s("job.submit.predict_parent_version", predict_not_deployed, needs=("train",))

        def predict() -> str:
            pc = self.conf("hetero_lr_predict_conf.json")
            pc["job_parameters"]["common"]["model_version"] = self.ctx["deployed"]
            r = self.call(c.job.submit, pc)  # no DSL: the SDK sends {} and the server uses the deployed one
            job_id = self.submit_ok(r, MODEL_ID, self.ctx["deployed"], ("guest", GUEST))
            status, seen, row = self.wait_job(job_id, "guest", GUEST)
            self.expect(status == "success", "the predict job to succeed", {"status": status, "seen": seen})
            self.expect(row.get("f_dsl") == PREDICT_DSL, "f_dsl is the deployed inference DSL", row.get("f_dsl"))
            self.ctx["predict"] = job_id
            out = self.work / "output"
            r = comp(c.component.output_data, "hetero_lr_0", job=job_id, output_path=str(out))
            self.rc(r, 0)
            with open(Path(r["directory"]) / "data.csv", newline="") as fh:
                rows = list(csv.reader(fh))
            self.expect(rows[0] == LR_OUTPUT_HEADER and len(rows) == 201, "200 scored rows", rows[:1])
            return f"job {job_id} {'>'.join(seen)}, 200 rows scored"
        s("job.submit.predict", predict, needs=("deployed",))

        def metric_delete() -> str:
            r = self.call(c.component.metric_delete, job_id=self.ctx["predict"])
            self.rc(r, 0, "success")
            self.expect(r.get("data") == "delete status: True", "data 'delete status: True'")
            return "delete status: True"
        s("component.metric_delete", metric_delete, needs=("predict",))

        def metric_delete_again() -> str:
            r = self.call(c.component.metric_delete, job_id=self.ctx["predict"])
            self.rc(r, 0, "success")
            self.expect(r.get("data") == "delete status: False", "data 'delete status: False' (nothing left)")
            return "delete status: False"
        s("component.metric_delete.job_without_metrics", metric_delete_again, needs=("predict",))

        def metric_delete_no_job() -> str:
            r = self.call(c.component.metric_delete)
            self.rc(r, 100, "TypeError(\"'NoneType' object is not subscriptable\")")
            return "100 TypeError repr"
        s("component.metric_delete.missing_job_id", metric_delete_no_job)

        # ---- FATE-Serving: load and bind ----
        load_conf = self.conf("publish_load_conf.json")

        def load_answer(r: dict[str, Any], party_msg: str | None) -> None:
            d = r.get("data") or {}
            if party_msg is None:
                self.rc(r, 0, "success")
                self.expect(d.get("guest") == {"9999": 0} and d.get("host") == {"10000": 0} and "arbiter" not in d,
                            "guest and host loaded (the arbiter is skipped)")
                self.expect((d.get("detail") or {}).get("guest", {}).get("9999", {}).get("retcode") == 0,
                            "detail.guest.9999.retcode 0")
            else:
                self.rc(r, 101, "failed")
                self.expect(d.get("guest") == {"9999": 100} and d.get("host") == {"10000": 100} and "arbiter" not in d,
                            "per-party 100 for guest and host (arbiter skipped)")
                det = d.get("detail") or {}
                self.expect(party_msg in str(det.get("guest", {}).get("9999", {}).get("retmsg")),
                            f"per-party retmsg containing {party_msg!r}", det)
            self.expect(str(r.get("jobId", "")).isdigit(), "a generated jobId")

        def load() -> str:
            conf = json.loads(json.dumps(load_conf))
            conf["job_parameters"]["model_version"] = self.ctx["deployed"]
            r = self.call(c.model.load, config_data=conf)
            load_answer(r, None if self.serving else "StatusCode.UNAVAILABLE")
            return "loaded" if self.serving else "101 failed: no FATE-Serving"
        s("model.load.config_data", load, needs=("deployed",))

        def load_parent() -> str:
            conf = json.loads(json.dumps(load_conf))
            conf["job_parameters"]["model_version"] = self.ctx["train"]
            r = self.call(c.model.load, config_data=conf)
            load_answer(r, "Only deployed models could be used to execute process of loading. "
                           "Please deploy model before loading.")
            return "101: parent version refused"
        s("model.load.parent_version", load_parent, needs=("train",))

        def load_job_id_bug() -> str:
            try:
                self.call(c.model.load, job_id=self.ctx["deployed"])
            except AttributeError as exc:
                self.expect("'NoneType' object has no attribute 'pop'" in str(exc), "the known AttributeError",
                            repr(exc))
                return f"documented SDK bug (API.md 8.1), raised client-side before sending: {exc!r}"
            raise Mismatch(f"expected flow_sdk 1.11.2 to raise AttributeError client-side; got {short(self.last)}")
        s("model.load.job_id.sdk_bug", load_job_id_bug, needs=("deployed",))

        def load_job_id_body() -> str:
            # The body the SDK should have sent ({"job_id": <deployed version>}), over the SDK's own transport.
            r = self.call(c.model._post, url="model/load", json={"job_id": self.ctx["deployed"]})
            load_answer(r, None if self.serving else "StatusCode.UNAVAILABLE")
            return "load by job_id accepted" + ("" if self.serving else " (101 failed: no FATE-Serving)")
        s("model.load.job_id.workaround_body", load_job_id_body, needs=("deployed",))

        def bind() -> str:
            conf = self.conf("bind_conf.json")
            conf["job_parameters"]["model_version"] = self.ctx["deployed"]
            r = self.call(c.model.bind, conf)
            if self.serving:
                self.rc(r, 0, "service id is airflow-test-service")
                return "bound airflow-test-service"
            self.rc(r, 100, contains="StatusCode.UNAVAILABLE")
            return "100: no FATE-Serving"
        s("model.bind", bind, needs=("deployed",))

        def bind_missing_service() -> str:
            conf = self.conf("bind_conf.json")
            conf.pop("service_id")
            conf["job_parameters"]["model_version"] = self.ctx["deployed"]
            self.rc(self.call(c.model.bind, conf), 101, "no service id")
            return "101 no service id"
        s("model.bind.missing_service_id", bind_missing_service, needs=("deployed",))

        # ---- export and import ----
        def export() -> str:
            out = self.work / "models"
            conf = {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": self.ctx["deployed"],
                    "output_path": str(out)}
            r = self.call(c.model.export_model, conf)
            self.rc(r, 0)
            f = Path(r.get("file", ""))
            name = f"guest#9999#{MODEL_ID}_{self.ctx['deployed']}.zip"
            self.expect(f == out / name and f.is_file(), f"the zip saved as {name} (from Content-Disposition)")
            self.download_headers("application/zip", name)
            with zipfile.ZipFile(f) as z:
                names = set(z.namelist())
                bad = z.testzip()
            self.expect(bad is None, "a valid zip")
            want = {"define/define_meta.yaml", "import_model.json", "variables/data/pipeline/pipeline/Pipeline"}
            self.expect(want <= names, f"the pipelined-model layout {sorted(want)}", sorted(names))
            self.ctx["zip"] = str(f)
            return f"{name}, {len(names)} members"
        s("model.export_model.zip", export, needs=("deployed",))

        def export_missing() -> str:
            conf = {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": UNKNOWN_JOB,
                    "output_path": str(self.work / "models")}
            r = self.call(c.model.export_model, conf)
            # HTTP 404 with a JSON body: flow_sdk returns that JSON as its answer
            self.rc(r, 404, f"Model guest#9999#{MODEL_ID} {UNKNOWN_JOB} does not exist.")
            return "404 JSON returned by the SDK"
        s("model.export_model.missing", export_missing)

        def import_conf(**over: Any) -> dict[str, Any]:
            conf = {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": self.ctx["deployed"],
                    "file": self.ctx["zip"]}
            conf.update(over)
            return conf

        def import_exists() -> str:
            r = self.call(c.model.import_model, import_conf(force_update=0))
            self.rc(r, 409, "Model already exists.")
            return "409 without force_update"
        s("model.import_model.exists", import_exists, needs=("zip",))

        def import_force() -> str:
            r = self.call(c.model.import_model, import_conf(force_update=1))
            self.rc(r, 0, "success")
            d = r.get("data") or {}
            self.expect(d.get("model_id") == MODEL_ID and d.get("model_version") == self.ctx["deployed"]
                        and d.get("role") == "guest" and d.get("party_id") == "9999"
                        and str(d.get("job_id", "")).isdigit(),
                        "data {job_id, model_id, model_version, role, party_id '9999'}")
            return f"imported (job {d.get('job_id')})"
        s("model.import_model.force_update", import_force, needs=("zip",))

        def import_bad_party() -> str:
            r = self.call(c.model.import_model, import_conf(party_id=8888, force_update=1))
            self.rc(r, 400, 'Party id "8888" is not in role "guest", please check if the party id and role is valid.')
            return "400 party not in role"
        s("model.import_model.party_not_in_role", import_bad_party, needs=("zip",))

        def model_op(kind: str) -> Callable[[], str]:
            def run() -> str:
                conf = {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": self.ctx["deployed"]}
                if kind == "store":
                    conf["force_update"] = False
                    r = self.call(c.model.export_model, conf, to_database=True)
                else:
                    r = self.call(c.model.import_model, conf, from_database=True)
                job_id = self.submit_ok(r, "local-0#model", None, ("local", 0))
                status, seen, row = self.wait_job(job_id, "local", 0)
                cpn = f"modeloperation_{kind}_0"
                module = "ModelStore" if kind == "store" else "ModelRestore"
                self.expect(row.get("f_dsl") == {"components": {cpn: {"module": module}}},
                            f"a local job with the single component {cpn}", row.get("f_dsl"))
                want = "success" if self.model_store else "failed"
                self.expect(status == want, f"the {kind} job to end {want}", {"status": status, "seen": seen})
                self.expect(row.get("f_progress") == 100, "f_progress 100 once the single task ended", row)
                if not self.model_store:
                    t = self.call(c.task.query, job_id=job_id, role="local", party_id=0)
                    self.rc(t, 0, "success")
                    task = (t.get("data") or [{}])[0]
                    self.expect(task.get("f_status") == "failed" and task.get("f_error_report"),
                                "a failed task with an f_error_report", task)
                self.ctx[kind] = job_id
                return f"retcode 0, job {job_id} {'>'.join(seen)}"
            return run
        s("model.store.export_model_to_database", model_op("store"), needs=("deployed",))
        s("model.restore.import_model_from_database", model_op("restore"), needs=("deployed",))

        # ---- tables ----
        def table_delete() -> str:
            conf = dict(host_conf, table_name="sdk_to_delete")
            r = self.call(c.data.upload, conf, drop=1)
            job_id = self.submit_ok(r, "local-0#model", None, ("local", 0))
            status, _, _ = self.wait_job(job_id, "local", 0)
            self.expect(status == "success", "the upload of sdk_to_delete to succeed", {"status": status})
            r = self.call(c.table.delete, namespace="experiment", table_name="sdk_to_delete")
            self.rc(r, 0, "success")
            self.expect(r.get("data") == {"namespace": "experiment", "table_name": "sdk_to_delete"},
                        "data echoes the table")
            r = self.call(c.table.info, namespace="experiment", table_name="sdk_to_delete")
            self.rc(r, 0)
            self.expect((r.get("data") or {}).get("exist") == 0, "exist 0 after delete")
            return "deleted; table.info then says exist 0"
        s("table.delete", table_delete)

        def table_delete_missing() -> str:
            r = self.call(c.table.delete, namespace="experiment", table_name="no_such_table")
            self.rc(r, 101, "no find table")
            return "101 no find table"
        s("table.delete.missing_table", table_delete_missing)

        # ---- submit errors ----
        toy_conf, toy_dsl = self.conf("toy_example_conf.json"), self.conf("toy_example_dsl.json")

        def missing_initiator() -> str:
            conf = dict(toy_conf)
            conf.pop("initiator")
            r = self.call(c.job.submit, conf, toy_dsl)
            self.rc(r, 103, contains="KeyError: 'required parameters are missing: initiator; '")
            self.expect(str(r.get("jobId", "")).isdigit() and "data" not in r, "a fresh jobId and no data")
            self.expect(str(r.get("retmsg", "")).startswith("Traceback (most recent call last):"), "a traceback retmsg")
            return "103 traceback"
        s("job.submit.missing_initiator", missing_initiator)

        def dsl_v1() -> str:
            r = self.call(c.job.submit, dict(toy_conf, dsl_version=1), toy_dsl)
            self.rc(r, 103, contains="Exception: only the v2 version runtime conf is supported")
            self.expect(str(r.get("jobId", "")).isdigit() and "data" not in r, "a fresh jobId and no data")
            return "103 only v2"
        s("job.submit.dsl_version_1", dsl_v1)

        def unknown_module() -> str:
            r = self.call(c.job.submit, toy_conf, {"components": {"secure_add_example_0": {"module": "NoSuchModule"}}})
            self.rc(r, 103, contains="module NoSuchModule\\'s provider does not exist")
            self.expect(str(r.get("jobId", "")).isdigit() and "data" not in r, "a fresh jobId and no data")
            self.ctx["submit_failed"] = r["jobId"]
            return "103 create job failed"
        s("job.submit.unknown_module", unknown_module)

        def submit_failed_job() -> str:
            job_id = self.ctx["submit_failed"]
            q = self.call(c.job.query, job_id=job_id)
            self.rc(q, 0, "success")
            rows = q.get("data") or []
            self.expect(rows and all(x.get("f_status") == "failed" and x.get("f_tag") == "submit_failed" for x in rows),
                        "the job stored as failed with f_tag submit_failed", q)
            return f"job {job_id}: failed, f_tag submit_failed"
        s("job.query.submit_failed_job", submit_failed_job, needs=("submit_failed",))

        def list_no_submit_failed() -> str:
            job_id = self.ctx["submit_failed"]
            lst = self.call(c.job.list, limit=0)
            self.rc(lst, 0)
            self.expect(job_id not in {j.get("job_id") for j in (lst.get("data") or {}).get("jobs", [])},
                        "job.list leaves submit_failed jobs out")
            return f"{(lst.get('data') or {}).get('count')} rows listed, not the submit_failed job"
        s("job.list.excludes_submit_failed", list_no_submit_failed, needs=("submit_failed",))

        # ---- queue and stop ----
        def queue_clean() -> str:
            r = self.call(c.job.submit, toy_conf, toy_dsl)
            job_id = self.submit_ok(r, "guest-9999#host-10000#model", None, ("guest", GUEST))
            w = self.call(c.job.query, job_id=job_id, role="guest", party_id=GUEST)
            wrow = (w.get("data") or [{}])[0]
            if wrow.get("f_status") == "waiting":  # as recorded right after a submit: no resources yet
                self.expect(wrow.get("f_cores") == 0 and wrow.get("f_apply_resource_time") is None
                            and wrow.get("f_start_time") is None and wrow.get("f_progress") == 0,
                            "a waiting job: f_cores 0, no f_apply_resource_time / f_start_time, progress 0", wrow)
            r = self.call(c.queue.clean)
            self.rc(r, 0, "success")
            data = r.get("data")
            q = self.call(c.job.query, job_id=job_id, role="guest", party_id=GUEST)
            row = (q.get("data") or [{}])[0]
            if data == {job_id: 0}:
                self.expect(row.get("f_status") == "canceled" and row.get("f_cancel_signal") is True
                            and row.get("f_progress") == 0,
                            "the waiting job canceled (f_cancel_signal, progress 0)", row)
                self.expect(row.get("f_apply_resource_time") is None and row.get("f_end_time") is None
                            and row.get("f_elapsed") is None and row.get("f_cores") == 0,
                            "never started: no resources, f_end_time/f_elapsed null, f_cores 0", row)
                return f"waiting job {job_id} canceled: data {data}"
            # The job left the queue before the clean arrived (a fast server): nothing to cancel then.
            self.expect(data == {} and row.get("f_status") != "waiting",
                        f"data {{{job_id}: 0}} for the job still waiting", r)
            self.wait_job(job_id, "guest", GUEST)
            return f"job {job_id} had already left the queue ({row.get('f_status')}); data {{}}"
        s("queue.clean.waiting_job", queue_clean, needs=("guest_upload",))

        def stop_running() -> str:
            r = self.call(c.job.submit, self.conf("hetero_lr_long_conf.json"), train_dsl)
            job_id = self.submit_ok(r, MODEL_ID, None, ("guest", GUEST))
            status, seen, run_row = self.wait_job(job_id, "guest", GUEST, until=END | {"running"})
            self.expect(status == "running", "to catch the long job running (run the server with a pace > 0)",
                        {"seen": seen})
            self.expect(run_row.get("f_resource_in_use") is True and run_row.get("f_end_time") is None
                        and run_row.get("f_start_time"), "a running job holds resources, has a start and no end",
                        run_row)
            running: list[str] = []
            for _ in range(50):  # what the pipeline client asks while a job runs; a poll may fall between two tasks
                t = self.call(c.task.query, job_id=job_id, role="guest", party_id=GUEST, status="running")
                if t.get("retcode") == 0:
                    running = [x.get("f_component_name") for x in t.get("data") or []]
                    if running:
                        break
                else:
                    self.rc(t, 101, "find task failed")  # none running at this instant
                time.sleep(0.01)
            self.expect(len(running) == 1, "exactly one running guest task", running)
            r = self.call(c.job.stop, job_id=job_id)
            self.rc(r, 0, "stop job on this party success; stop job on all party success")
            q = self.call(c.job.query, job_id=job_id, role="guest", party_id=GUEST)
            row = (q.get("data") or [{}])[0]
            self.expect(row.get("f_status") == "canceled" and row.get("f_cancel_signal") is True,
                        "the job canceled with f_cancel_signal true", row)
            t = self.call(c.task.query, job_id=job_id, role="guest", party_id=GUEST)
            statuses = {x.get("f_component_name"): x.get("f_status") for x in t.get("data") or []}
            self.expect("canceled" in statuses.values() and "running" not in statuses.values(),
                        "the running task canceled, none left running", statuses)
            ended = sum(1 for v in statuses.values() if v in END)
            self.expect(row.get("f_progress") == int(100 * ended / len(statuses)),
                        f"f_progress counting ended tasks ({ended} of {len(statuses)})", row)
            self.ctx["stopped"] = job_id
            return f"job {job_id} stopped while running; tasks {statuses}"
        s("job.stop.running_job", stop_running, needs=("guest_upload", "host_upload"))

        def clean_stopped() -> str:
            # the SDK's job.clean is commented out (API.md 4.4): the client's own signed POST, as recorded
            job_id = self.ctx["stopped"]
            r = self.call(c.job._post, url="job/clean", json={"job_id": job_id})
            self.rc(r, 0, "success")
            q = self.call(c.job.query, job_id=job_id, role="guest", party_id=GUEST)
            row = (q.get("data") or [{}])[0]
            self.expect(row.get("f_status") == "canceled", "a cleaned job keeps its rows and status", row)
            return f"stopped job {job_id} cleaned; still {row.get('f_status')}"
        s("job.clean.stopped_job", clean_stopped, needs=("stopped",))

        def stop_finished() -> str:
            r = self.call(c.job.stop, job_id=self.ctx["train"])
            self.rc(r, 0, "stop job on this party success; stop job on all party success")
            q = self.call(c.job.query, job_id=self.ctx["train"], role="guest", party_id=GUEST)
            row = (q.get("data") or [{}])[0]
            self.expect(row.get("f_status") == "success" and row.get("f_cancel_signal") is True,
                        "the job stays success, f_cancel_signal becomes true", row)
            return "retcode 0; stays success"
        s("job.stop.finished_job", stop_finished, needs=("train",))

        def stop_unknown() -> str:
            self.rc(self.call(c.job.stop, job_id=UNKNOWN_JOB), 102, "can not found job")
            return "102 can not found job"
        s("job.stop.unknown_job", stop_unknown)

        failed = [r["step"] for r in self.results if not r["ok"]]
        print(f"sdk_driver: {len(self.results) - len(failed)} steps as on the real server, {len(failed)} differ"
              + (f" ({', '.join(failed)})" if failed else ""), file=sys.stderr)
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve()
    shared = Path(os.environ.get("FATEFLOW_SHARED_DIR") or here.parents[2].parent / "shared")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--auth", metavar="KEY:SECRET", help="the server's client-authentication app key and secret")
    p.add_argument("--workdir", required=True, help="scratch directory for the SDK's downloads")
    p.add_argument("--examples", default=str(shared / "fateflow-v1" / "examples"),
                   help="folder with guest.csv, host.csv and the job confs (default: %(default)s)")
    p.add_argument("--serving", choices=("on", "off"), default="on", help="a FATE-Serving is reachable")
    p.add_argument("--model-store", choices=("on", "off"), default="on", help="a model store is configured")
    p.add_argument("--job-timeout", type=float, default=60.0, help="seconds to wait for one job")
    p.add_argument("--poll", type=float, default=0.05, help="seconds between job.query polls")
    args = p.parse_args(argv)
    if args.auth and ":" not in args.auth:
        p.error("--auth takes KEY:SECRET")
    if not (Path(args.examples) / "hetero_lr_conf.json").is_file():
        p.error(f"no examples in {args.examples}")
    return Driver(args).run()


if __name__ == "__main__":
    sys.exit(main())
