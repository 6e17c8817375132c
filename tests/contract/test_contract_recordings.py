"""Contract tests: one case per recorded exchange with FATE Flow 1.11.2.

For each recording the client method that makes the recorded request is called; the request the
client put on the wire is checked (method, path, query, JSON body, form fields, file part, auth
headers, timeouts); the recorded response is replayed and the typed result or typed error checked.

Deliberately not sent (the server ignores them): the SDK's ``local`` and ``output_path`` body keys,
and the SDK's ``file`` (local path string) and ``from_database`` form fields of ``model.import``.
Deliberately added: ``job_runtime_conf.airflow.marker`` on ``job.submit`` (lost-answer recovery).
``odd.*`` recordings and the raw-HTTP requests no client method makes are checked for parsing only.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from recording_adapter import ReplayAdapter, load, multipart_parts, recording_files, response_bytes

from airflow_provider_fateflow.client import (
    ClientConfig,
    FateFlowApiError,
    FateFlowAuthError,
    FateFlowClient,
    FateFlowInputError,
    FateFlowNotFoundError,
    JobStatus,
    RetryPolicy,
)
from airflow_provider_fateflow.client import results as R
from airflow_provider_fateflow.client.auth import sign

APP_KEY, SECRET = "airflow-test", "s3cr3t-for-tests"
SDK_EXTRAS = {"local", "output_path"}
IMPORT_FORM_EXTRAS = {"file", "from_database"}

FILES = recording_files()


def test_recordings_found() -> None:
    assert len(FILES) >= 100, "recordings directory not found; set FATEFLOW_SHARED_DIR"


# -- how to make each recorded request with the client --------------------------------------------

Invoke = Callable[[FateFlowClient, dict[str, Any], dict[str, Any], Path], Any]


def _j(rec: dict[str, Any]) -> dict[str, Any]:
    return rec["request"].get("json") or {}


def _trk(name: str) -> Invoke:
    def call(c: FateFlowClient, j: dict[str, Any], rec: dict[str, Any], tmp: Path) -> Any:
        return getattr(c.component, name)(j.get("job_id"), j.get("role"), j.get("party_id"), j.get("component_name"))
    return call


def _upload(c: FateFlowClient, j: dict[str, Any], rec: dict[str, Any], tmp: Path) -> Any:
    req = rec["request"]
    conf = dict(req.get("query_json") or j)
    if not conf and req.get("form"):
        conf = {k: (int(v) if v.isdigit() else v) for k, v in req["form"].items()}
    if not conf and req.get("query"):
        conf = {k: (int(v) if v.isdigit() else v) for k, v in (p.split("=", 1) for p in req["query"].split("&"))}
    drop = bool(conf.pop("drop", 0))
    verbose = conf.pop("verbose", 0)
    if req["body_kind"] in ("multipart", "form"):
        files = req.get("files") or [{"filename": "guest.csv", "size": 10}]
        local = tmp / "data" / files[0]["filename"]
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(b"id,x\n" + b"1,2\n" * (files[0]["size"] // 4))
        conf["file"] = str(local)
    return c.data.upload(conf, drop=drop, verbose=verbose)


def _submit(c: FateFlowClient, j: dict[str, Any], rec: dict[str, Any], tmp: Path) -> Any:
    return c.job.submit(j["job_runtime_conf"], j.get("job_dsl") or None)


def _imp(c: FateFlowClient, j: dict[str, Any], rec: dict[str, Any], tmp: Path) -> Any:
    form = dict(rec["request"].get("form") or {})
    files = rec["request"].get("files") or [{"filename": "model.zip", "size": 10}]
    zpath = tmp / files[0]["filename"]
    zpath.write_bytes(b"PK" + b"\0" * 20)
    conf = {k: v for k, v in form.items() if k not in IMPORT_FORM_EXTRAS}
    return c.model.imp(conf, zpath)


INVOKE: dict[str, Invoke] = {
    "component.list": lambda c, j, r, t: c.component.list(j.get("job_id")),
    "component.metric_all": _trk("metric_all"),
    "component.metrics": _trk("metrics"),
    "component.parameters": _trk("parameters"),
    "component.output_model": _trk("output_model"),
    "component.output_data_table": _trk("output_data_table"),
    "component.metric_delete": lambda c, j, r, t: c.component.metric_delete(date=j.get("model"), job_id=j.get("job_id")),
    "component.output_data": lambda c, j, r, t: c.component.output_data(
        j["job_id"], j["role"], j["party_id"], j["component_name"], t / "out", j.get("limit", -1)),
    "data.download": lambda c, j, r, t: c.data.download(j),
    "data.upload": _upload,
    "data.upload_history": lambda c, j, r, t: c.data.upload_history(j.get("limit", 10), j.get("job_id")),
    "job.clean": lambda c, j, r, t: c.job.clean(j["job_id"]),
    "job.config": lambda c, j, r, t: c.job.config(j["job_id"], j["role"], j["party_id"], t / "out"),
    "job.generate_dsl": lambda c, j, r, t: c.job.generate_dsl(json.loads(j["train_dsl"]), j["cpn_str"],
                                                              version=j.get("version", "2")),
    "job.list": lambda c, j, r, t: c.job.list(j.get("limit", 10), status=j.get("status")),
    "job.log": lambda c, j, r, t: c.job.log(j.get("job_id"), t / "out"),
    "job.query": lambda c, j, r, t: c.job.query(j.get("job_id"), j.get("role"), j.get("party_id"), j.get("status")),
    "job.stop": lambda c, j, r, t: c.job.stop(j["job_id"]),
    "job.submit": _submit,
    "job.view": lambda c, j, r, t: c.job.view(j["job_id"], j.get("role"), j.get("party_id")),
    "model.bind": lambda c, j, r, t: c.model.bind(j),
    "model.deploy": lambda c, j, r, t: c.model.deploy(j["model_id"], j.get("model_version"), j.get("cpn_list")),
    "model.export": lambda c, j, r, t: c.model.export({k: v for k, v in j.items() if k != "output_path"}, t / "out"),
    "model.import": _imp,
    "model.load": lambda c, j, r, t: c.model.load(job_id=j["job_id"]) if set(j) == {"job_id"} else c.model.load(j),
    "model.restore": lambda c, j, r, t: c.model.restore(j),
    "model.store": lambda c, j, r, t: c.model.store(j),
    "queue.clean": lambda c, j, r, t: c.queue.clean(),
    "table.delete": lambda c, j, r, t: c.table.delete(j["namespace"], j["table_name"]),
    "table.info": lambda c, j, r, t: c.table.info(j["namespace"], j["table_name"]),
    "task.list": lambda c, j, r, t: c.task.list(j.get("limit", 10)),
    "task.query": lambda c, j, r, t: c.task.query(j.get("job_id"), j.get("role"), j.get("party_id"),
                                                  j.get("component_name"), j.get("status")),
    "version.get": lambda c, j, r, t: c.version.get(j.get("module")),
}

# Recordings of requests no client method makes: the response is fed to the named operation.
PARSE_ONLY: dict[str, str] = {
    "odd.form_instead_of_json__job_query": "job.query",
    "odd.json_without_content_type__job_query": "job.query",
    "odd.method_not_allowed__get_on_post_route": "job.query",
    "odd.not_json_body__job_query": "job.query",
    "odd.not_json_body__job_submit": "job.submit",
    "odd.unknown_route__auth_without_headers": "job.query",
    "odd.unknown_route__post": "job.query",
    "odd.unknown_route__unknown_api_version": "job.query",
    "data.upload__missing_file_part": "data.upload",
    "model.import__missing_file_part": "model.import",
}
TOY_CONF = {"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999}, "role": {"guest": [9999]},
            "job_parameters": {}}
TOY_DSL = {"components": {"a_0": {"module": "SecureAddExample"}}}

# Recordings whose request the client refuses to send (bad input caught locally).
REFUSED = {
    "component.metric_delete__date_only_ignored",  # job_id required; date is ignored by 1.8+
    "component.metric_delete__missing_job_id",
    "job.log__missing_job_id",
    "job.submit__dsl_version_1",
    "job.submit__missing_initiator",
    "model.deploy__missing_model_version",
}

# Expected typed errors (anything else with retcode 0 must succeed).
EXPECT_ERROR: dict[str, type[Exception]] = {
    "component.list__unknown_job": FateFlowNotFoundError,
    "component.output_data__no_output_data": FateFlowNotFoundError,
    "component.output_data__unknown_task": FateFlowNotFoundError,
    "component.output_data_table__unknown_job": FateFlowNotFoundError,
    "component.output_model__unknown_job": FateFlowNotFoundError,
    "data.upload__missing_required_field": FateFlowApiError,
    "data.upload__missing_file_part": FateFlowApiError,
    "job.generate_dsl__unknown_component": FateFlowApiError,
    "job.list__invalid_status": FateFlowApiError,
    "job.submit__auth_wrong_secret_sdk": FateFlowAuthError,
    "job.submit__predict_model_not_deployed": FateFlowApiError,
    "job.submit__unknown_module": FateFlowApiError,
    "model.bind__missing_service_id": FateFlowApiError,
    "model.bind__no_serving": FateFlowApiError,
    "model.export__model_not_found": FateFlowNotFoundError,
    "model.import__missing_file_part": FateFlowApiError,
    "model.import__party_not_in_role": FateFlowApiError,
    "model.load__by_job_id_no_serving": FateFlowApiError,
    "model.load__no_serving": FateFlowApiError,
    "model.load__parent_version_not_deployed": FateFlowApiError,
    "model.store__missing_party_id": FateFlowApiError,
    "odd.form_instead_of_json__job_query": FateFlowApiError,
    "odd.method_not_allowed__get_on_post_route": FateFlowApiError,
    "odd.not_json_body__job_query": FateFlowApiError,
    "odd.not_json_body__job_submit": FateFlowApiError,
    "odd.unknown_route__auth_without_headers": FateFlowAuthError,
    "odd.unknown_route__post": FateFlowApiError,
    "odd.unknown_route__unknown_api_version": FateFlowApiError,
}
AUTH_REASON = {
    "job.query__auth_invalid_timestamp": "invalid_timestamp",
    "job.query__auth_missing_headers": "missing_headers",
    "job.query__auth_missing_signature": "missing_headers",
    "job.query__auth_timestamp_in_seconds": "clock_skew",
    "job.query__auth_unknown_app_key": "unknown_app_key",
    "job.query__auth_wrong_signature": "bad_signature",
    "job.submit__auth_wrong_secret_sdk": "bad_signature",
    "odd.unknown_route__auth_without_headers": "missing_headers",
}


def _client(rec: dict[str, Any], adapter: ReplayAdapter) -> FateFlowClient:
    headers = rec["request"].get("headers") or {}
    keys: dict[str, Any] = {}
    if "APP_KEY" in headers and "SIGNATURE" in headers:
        keys = {"app_key": headers["APP_KEY"], "secret_key": SECRET}
    config = ClientConfig("127.0.0.1", 9380, retry=RetryPolicy(attempts=1), board_url=None, **keys)
    client = FateFlowClient(config)
    client.transport.session.mount("http://", adapter)
    client.job.recovery_delays = ()
    return client


def _strip(d: Any, extras: set[str]) -> Any:
    return {k: v for k, v in d.items() if k not in extras} if isinstance(d, dict) else d


def _check_request(rec: dict[str, Any], sent: Any, stem: str) -> None:
    req = rec["request"]
    pr = sent.request
    url = urlsplit(pr.url)
    assert pr.method == req["method"]
    assert url.path == req["path"]
    # every request carries (connect, read) timeouts; a file answer waits for download_timeout
    file_answer = stem.split("__")[0] in ("component.output_data", "table.download", "job.log", "model.export")
    assert sent.timeout == ((10.0, 600.0) if file_answer else (10.0, 60.0)), "every request carries timeouts"
    ctype = pr.headers.get("Content-Type", "")
    # query: SDK-style JSON-in-query for client-file uploads
    if req.get("query_json") or (rec["operation"] == "data.upload" and req["body_kind"] in ("multipart",)):
        ours = json.loads(unquote(url.query))
        theirs = dict(req.get("query_json") or {})
        if not theirs:  # form-field / key=value variants: the same conf, as strings
            src = req.get("form") or dict(p.split("=", 1) for p in req["query"].split("&"))
            theirs = {k: (int(v) if v.isdigit() else v) for k, v in src.items()}
            theirs.setdefault("verbose", 0)
        ours_file = ours.pop("file")
        assert Path(ours_file).is_absolute(), "relative files are resolved against the CWD"
        if "file" in theirs:
            assert Path(ours_file).name == Path(theirs.pop("file")).name
        assert ours == theirs
    else:
        assert url.query == req.get("query", "")
    # body
    if req["body_kind"] == "json":
        assert ctype.startswith("application/json")
        ours = json.loads(sent.body)
        theirs = req["json"] if rec["operation"] == "data.download" else _strip(req["json"], SDK_EXTRAS)
        if rec["operation"] == "job.submit":
            marker = ours["job_runtime_conf"].pop("airflow")
            assert marker["marker"]
        assert ours == theirs
    elif req["body_kind"] == "none":
        assert not sent.body
    elif req["body_kind"] == "multipart":
        parts = multipart_parts(ctype, sent.body)
        files = [p for p in parts if p["filename"]]
        fields = {p["name"]: p["value"].decode() for p in parts if not p["filename"]}
        assert [(f["name"], f["filename"], f["content_type"]) for f in files] == [
            (f["name"], f["filename"], f["content_type"]) for f in req["files"]
        ] or rec["client"].startswith("python")
        if rec["operation"] == "model.import":
            assert fields == _strip(req.get("form") or {}, IMPORT_FORM_EXTRAS)
        else:  # uploads carry the conf in the query string (checked above), never as fields
            assert fields == {}
    # auth
    if "SIGNATURE" in (req.get("headers") or {}):
        h = pr.headers
        assert {"TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE"} <= set(h)
        assert len(h["TIMESTAMP"]) == 13, "milliseconds"
        form = None
        if req["body_kind"] == "multipart":
            form = {p["name"]: p["value"].decode() for p in multipart_parts(ctype, sent.body) if not p["filename"]}
        body = sent.body if ctype.startswith("application/json") else None
        expected = sign(h["APP_KEY"], SECRET, pr.path_url, body, form, timestamp_ms=int(h["TIMESTAMP"]), nonce=h["NONCE"])
        assert h["SIGNATURE"] == expected["SIGNATURE"]
    else:
        assert "SIGNATURE" not in pr.headers


def _check_result(stem: str, rec: dict[str, Any], result: Any, tmp: Path) -> None:
    op = rec["operation"]
    resp = rec["response"]
    data = (resp.get("json") or {}).get("data")
    if op == "job.query" or stem.startswith("odd.json_without"):
        assert all(isinstance(r, R.JobRecord) for r in result)
        assert [r.job_id for r in result] == [d["f_job_id"] for d in data]
        for r, d in zip(result, data):
            assert r.status is JobStatus(d["f_status"]) and r.party_id == int(d["f_party_id"])
    elif op == "task.query":
        assert [(t.component_name, t.status.value) for t in result] == [(d["f_component_name"], d["f_status"]) for d in data]
        if stem.endswith("failed_task"):
            assert result[0].error_report and result[0].status.is_failure
    elif op == "job.submit":
        assert isinstance(result, R.SubmitResult) and result.job_id == data["job_id"]
        assert result.model_version == data["model_info"]["model_version"] and result.board_url == data["board_url"]
    elif op == "data.upload":
        assert isinstance(result, R.UploadResult) and result.job_id == data["job_id"]
        assert result.table_name == data["table_name"]
    elif op in ("data.download", "model.store", "model.restore"):
        assert isinstance(result, R.LocalJobResult) and result.job_id == data["job_id"]
    elif op == "job.list":
        assert isinstance(result, R.JobList) and result.count == data["count"]
        assert [j.job_id for j in result.jobs] == [j["job_id"] for j in data["jobs"]]
        assert all(j.runtime_conf for j in result.jobs)
    elif op == "task.list":
        assert isinstance(result, R.TaskList) and len(result.tasks) == len(data["tasks"])
    elif op == "table.info":
        assert isinstance(result, R.TableInfo) and result.exists == bool(data["exist"])
        assert result.count == data["count"]
    elif op == "model.deploy":
        assert isinstance(result, R.DeployResult)
        assert result.model_version == data["model_version"] != rec["request"]["json"]["model_version"]
        assert result.parties == {"arbiter": {10000: 0}, "guest": {9999: 0}, "host": {10000: 0}}
    elif op == "model.import":
        assert isinstance(result, R.ModelImportResult) and result.job_id == data["job_id"] and result.party_id == 9999
    elif op == "model.export":
        name = resp["headers"]["Content-Disposition"].split("filename=", 1)[1]
        assert result == tmp / "out" / name and result.is_file()
    elif op in ("job.log", "component.output_data"):
        members = [m["name"] for m in resp["archive"]["members"] if m["type"] == "file"]
        assert sorted(str(p.relative_to(result)) for p in result.rglob("*") if p.is_file()) == sorted(members)
    elif op == "job.config":
        assert sorted(result.files) == sorted(k for k in data if k != "job_id")
        assert json.loads(result.files["dsl"].read_text()) == data["dsl"]
    elif op == "component.list":
        assert result == data["components"]
    elif op == "component.metric_delete":
        assert result == data
    elif op in ("component.output_model",):
        assert result["data"] == data
    elif op == "job.stop":
        assert "success" in result
    elif op == "job.clean":
        assert result == "success"
    else:
        assert result == (data if data is not None else {}) or result == data


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_recording(path: Path, tmp_path: Path) -> None:
    rec = load(path)
    stem = path.stem
    resp = rec["response"]
    adapter = ReplayAdapter(resp["status"], dict(resp.get("headers") or {}), response_bytes(rec))
    client = _client(rec, adapter)
    op = PARSE_ONLY.get(stem, rec["operation"])
    invoke = INVOKE[op]
    j = _j(rec)
    if stem in PARSE_ONLY:
        if op == "job.query":
            j = {"job_id": "202611281256331565470"}
        elif op == "job.submit":
            j = {"job_runtime_conf": TOY_CONF, "job_dsl": TOY_DSL}
    if stem in REFUSED:
        with pytest.raises(FateFlowInputError), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # metric_delete(date=...) warns: date is ignored
            invoke(client, j, rec, tmp_path)
        assert adapter.sent == [], "refused before any request"
        return
    expected_error = EXPECT_ERROR.get(stem)
    if expected_error is None and resp.get("json", {}).get("retcode", 0) == 109:
        expected_error = FateFlowAuthError
    if expected_error is not None:
        with pytest.raises(expected_error) as info:
            invoke(client, j, rec, tmp_path)
        err = info.value
        assert type(err) is expected_error, f"{type(err).__name__} is too broad/narrow"
        retcode = resp["json"]["retcode"]
        assert err.retcode == retcode and err.http_status == resp["status"]
        assert str(retcode) in str(err) and err.operation == op
        assert not err.transient
        if stem in AUTH_REASON:
            assert err.reason == AUTH_REASON[stem]
        if stem.startswith("model.load"):
            assert err.data["detail"]["guest"]["9999"]["retcode"] == 100
        result = None
    else:
        result = invoke(client, j, rec, tmp_path)
        _check_result(stem, rec, result, tmp_path)
    assert len(adapter.sent) == 1, "exactly one request, never repeated"
    if stem not in PARSE_ONLY:
        _check_request(rec, adapter.sent[0], stem)
