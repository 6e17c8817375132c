"""Replay every recorded exchange of a real FATE Flow 1.11.2 against the sandbox and compare.

Compared: HTTP status, envelope keys, retcode, retmsg (ids normalised; for tracebacks the last
line, i.e. exception class and message; for gRPC errors the text without its timestamp), the JSON
shape of ``data`` and ``meta`` recursively (key sets and JSON types; an array by the merged shape of
its elements, so ``f_cmd`` being a list for started tasks and ``{}`` for waiting ones must match; null
goes with any type), the (role, party, status, party status, component, data name) of record lists in
order, Content-Type / Content-Disposition and archive member names. Ids, times and paths may differ.

The sandbox runs in its default timing (the model of the real server) with the recorded server's
configuration (no FATE-Serving, no model store);
authentication is switched on over the control API for the ``auth_*`` cases. The state each
recording needs (uploaded tables, finished, running, waiting, stopped and failed jobs, a
deployed model) is built first by driving the sandbox over HTTP.

The summary table is printed at the end of the session when a recording differs (or with ``-rA``).
"""
from __future__ import annotations

import io
import json
import re
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_fateflow.testing import FateFlowSandbox
from airflow_provider_fateflow.testing.auth import signature

from _sandbox_helpers import EXAMPLES, RECORDINGS, example, post, submit, upload_file, wait_status, wait_task

FILES = sorted(p.name for p in RECORDINGS.glob("*.json"))
APP_KEY, SECRET = "airflow-test", "s3cr3t-for-tests"
RESULTS: dict[str, tuple[bool, str]] = {}

R = {  # recorded ids -> role in the setup
    "202611281255591026580": "UP_GUEST", "202611281256086482120": "UP_GUEST2", "202611281255593549110": "UP_HOST",
    "202611281256331565470": "TOY", "202611281256432570940": "CANCELED", "202611281256437211420": "SUBMIT_FAILED",
    "202611281256440056930": "LR", "202611281258544015110": "DEPLOYED", "202611281258546542020": "PREDICT",
    "202611281258197706430": "DOWNLOAD", "202611281258259929930": "DOWNLOAD_FAILED", "202611281259258936920": "STORE",
    "202611281259323170440": "RESTORE", "202611281300227554870": "STOPPED",
}
#: list cases narrowed by a filter to the records the recording shows (values: ids of the setup or literals)
NARROW = {"job.list__limit": {"job_id": "LR"}, "job.list__auth_signed_success": {"job_id": "STOPPED"},
          "task.list__limit": {"component_name": "upload_0"}}
ID = re.compile(r"(?<!\d)20\d{19}(?!\d)")
HEX = re.compile(r"[0-9a-f]{32}")


def norm(s: str) -> str:
    """Normalise ids, worker ids and gRPC timestamps in a text."""
    s = ID.sub("<ID>", s)
    s = HEX.sub("<HEX>", s)
    s = re.sub(r'created_time:"[^"]*"', 'created_time:"<T>"', s)
    return s


def retmsg_key(msg: str) -> str:
    """What of a retmsg must match: the last line of a traceback, the whole text otherwise."""
    if msg.startswith("Traceback"):
        lines = [ln for ln in msg.strip().splitlines() if ln.strip()]
        return norm(lines[-1])
    return norm(msg)


def kind(v: Any) -> str:
    """The JSON type of a value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(v), type(v).__name__)


def shape(v: Any) -> dict[str, Any]:
    """The JSON shape of a value: its types, the shapes of an object's keys (ids normalised), and the merged
    shape of an array's elements (so ``[[...], {}]`` is an array of "array or object")."""
    out: dict[str, Any] = {"types": {kind(v)}}
    if isinstance(v, dict):
        out["keys"] = {norm(k): shape(x) for k, x in v.items()}
    elif isinstance(v, list):
        items: dict[str, Any] | None = None
        for x in v:
            items = shape(x) if items is None else merge(items, shape(x))
        out["items"] = items
    return out


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Union of two shapes."""
    out: dict[str, Any] = {"types": a["types"] | b["types"]}
    if "keys" in a or "keys" in b:
        ka, kb = a.get("keys", {}), b.get("keys", {})
        out["keys"] = {k: merge(ka[k], kb[k]) if k in ka and k in kb else (ka.get(k) or kb[k])
                       for k in set(ka) | set(kb)}
    if "items" in a or "items" in b:
        ia, ib = a.get("items"), b.get("items")
        out["items"] = merge(ia, ib) if ia and ib else (ia or ib)
    return out


def compare_shapes(rec: dict[str, Any], act: dict[str, Any], path: str, diffs: list[str]) -> None:
    """Differences of two shapes: types (null is compatible with any type: a time or a count not set yet),
    key sets of objects, recursively; arrays by the merged shape of their elements."""
    if len(diffs) > 12:
        return
    rt, at = rec["types"] - {"null"}, act["types"] - {"null"}
    if rt and at and rt != at:
        diffs.append(f"{path}: recorded {'|'.join(sorted(rt))} vs sandbox {'|'.join(sorted(at))}")
        return
    if "keys" in rec and "keys" in act:
        rk, ak = set(rec["keys"]), set(act["keys"])
        if rk != ak:
            diffs.append(f"{path}: keys missing {sorted(rk - ak)[:8]} extra {sorted(ak - rk)[:8]}")
        for k in sorted(rk & ak):
            compare_shapes(rec["keys"][k], act["keys"][k], f"{path}.{k}", diffs)
    if rec.get("items") and act.get("items"):
        compare_shapes(rec["items"], act["items"], f"{path}[]", diffs)
    elif rec.get("items") and "items" in act and not act["items"]:
        diffs.append(f"{path}: recorded a non-empty array, sandbox an empty one")


def compare(rec: Any, act: Any, path: str, diffs: list[str]) -> None:
    """Recursive comparison of JSON shapes, then the status values of record lists."""
    compare_shapes(shape(rec), shape(act), path, diffs)
    if isinstance(rec, list) and rec and isinstance(rec[0], dict) and ("f_role" in rec[0]
                                                                       or "f_component_name" in rec[0]):
        sem = ("f_role", "f_party_id", "f_status", "f_party_status", "f_component_name", "f_data_name")
        rs = [tuple(r.get(k) for k in sem) for r in rec]
        as_ = [tuple(a.get(k) for k in sem) for a in act] if isinstance(act, list) else []
        if rs != as_:
            diffs.append(f"{path}: records (role, party, status, party status, component, data) recorded {rs} "
                         f"vs sandbox {as_}")


class World:
    """The sandbox and the ids of the jobs the setup created."""

    def __init__(self, sb: FateFlowSandbox, tmp: Path) -> None:
        self.sb = sb
        self.tmp = tmp
        self.ids: dict[str, str] = {}
        self.model_zip: bytes = b""


def _setup(sb: FateFlowSandbox, tmp: Path) -> World:
    w = World(sb, tmp)
    ids = w.ids
    r = post(sb, "data/upload", dict(example("upload_guest_server_file.json"), file=str(EXAMPLES / "guest.csv")))
    ids["UP_GUEST"] = r["jobId"]
    ids["UP_HOST"] = upload_file(sb, EXAMPLES / "host.csv", "experiment", "breast_hetero_host")
    for k in ("UP_GUEST", "UP_HOST"):
        wait_status(sb, ids[k], "success")
    # the recorded drop=1 re-upload of the guest table (the third upload task, as on the recorded server)
    ids["UP_GUEST2"] = upload_file(sb, EXAMPLES / "guest.csv", "experiment", "breast_hetero_guest", drop=1)
    wait_status(sb, ids["UP_GUEST2"], "success")
    ids["TOY"] = submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
    ids["TOY_STOPPED"] = submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
    ids["LR"] = submit(sb, example("hetero_lr_conf.json"), example("hetero_lr_dsl.json"))
    # stopped while hetero_lr_0 runs (30 iterations: about half a minute in the default timing model); the
    # jobs of the setup run side by side, as they would on the real server
    ids["STOPPED"] = submit(sb, example("hetero_lr_long_conf.json"), example("hetero_lr_dsl.json"))
    r = post(sb, "data/download", {"namespace": "experiment", "table_name": "breast_hetero_guest",
                                   "output_path": str(tmp / "dl.csv")})
    ids["DOWNLOAD"] = r["jobId"]
    r = post(sb, "data/download", {"namespace": "experiment", "table_name": "no_such_table",
                                   "output_path": str(tmp / "x.csv")})
    ids["DOWNLOAD_FAILED"] = r["jobId"]
    for k in ("TOY", "TOY_STOPPED", "LR"):
        wait_status(sb, ids[k], "success")
    wait_task(sb, ids["STOPPED"], "hetero_lr_0", "running")
    post(sb, "job/stop", {"job_id": ids["STOPPED"]})
    post(sb, "job/stop", {"job_id": ids["TOY_STOPPED"]})
    dep = post(sb, "model/deploy", {"model_id": "arbiter-10000#guest-9999#host-10000#model", "model_version": ids["LR"],
                                    "cpn_list": ["reader_0", "data_transform_0", "hetero_lr_0"]})
    assert dep["retcode"] == 0, dep
    ids["DEPLOYED"] = dep["data"]["model_version"]
    pconf = example("hetero_lr_predict_conf.json")
    pconf["job_parameters"]["common"]["model_version"] = ids["DEPLOYED"]
    ids["PREDICT"] = submit(sb, pconf, None)
    wait_status(sb, ids["PREDICT"], "success")
    store_body = {"model_id": "arbiter-10000#guest-9999#host-10000#model", "model_version": ids["DEPLOYED"],
                  "role": "guest", "party_id": 9999}
    ids["STORE"] = post(sb, "model/store", store_body)["jobId"]
    ids["RESTORE"] = post(sb, "model/restore", store_body)["jobId"]
    for k in ("DOWNLOAD", "DOWNLOAD_FAILED", "STORE", "RESTORE"):
        wait_status(sb, ids[k], {"success", "failed"})
    # canceled while waiting (queue clean), and a submit that failed
    sb.hold(True)
    ids["CANCELED"] = submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
    post(sb, "job/clean/queue")
    sb.hold(False)
    bad = example("toy_example_dsl.json")
    bad["components"]["secure_add_example_0"]["module"] = "NoSuchModule"
    ids["SUBMIT_FAILED"] = post(sb, "job/submit", {"job_runtime_conf": example("toy_example_conf.json"),
                                                   "job_dsl": bad})["jobId"]
    # a running toy job (stopped at teardown)
    sb.behave("secure_add_example_0", seconds=120)
    ids["RUNNING"] = submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
    wait_task(sb, ids["RUNNING"], "secure_add_example_0", "running")
    # the exported model zip, for the import cases
    w.model_zip = requests.get(f"{sb.base_url}/v1/model/export", json={
        "role": "guest", "party_id": 9999, "model_id": "arbiter-10000#guest-9999#host-10000#model",
        "model_version": ids["DEPLOYED"]}, timeout=30).content
    return w


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("conformance")
    with FateFlowSandbox(serving=False, model_store=False) as sb:
        w = _setup(sb, tmp)
        yield w
        post(sb, "job/stop", {"job_id": w.ids["RUNNING"]})


def _id_map(w: World, name: str, rec: dict[str, Any]) -> dict[str, str]:
    m = {rid: w.ids[role] for rid, role in R.items() if role in w.ids}
    toy = "202611281256331565470"
    resp = json.dumps(rec["response"].get("json", {}))
    if '"f_cancel_signal": true' in resp and '"f_status": "success"' in resp:
        m[toy] = w.ids["TOY_STOPPED"]
    if name in ("job.stop__finished_job", "job.query__auth_signed_success", "job.query__auth_headers_when_switch_off",
                "odd.json_without_content_type__job_query"):
        m[toy] = w.ids["TOY_STOPPED"]
    if name in ("job.query__running_job", "task.query__running_job"):
        m[toy] = w.ids["RUNNING"]
    if name == "job.query__waiting_job":
        m[toy] = w.ids["WAITING"]
    return m


def _subst(text: str, m: dict[str, str]) -> str:
    for a, b in m.items():
        text = text.replace(a, b)
    text = text.replace("/data/projects/fate/examples/data/", str(EXAMPLES) + "/")
    return text


def _pre(w: World, name: str) -> None:
    sb = w.sb
    if name == "data.upload__server_file":
        post(sb, "table/delete", {"namespace": "experiment", "table_name": "breast_hetero_guest"})
    if name == "data.upload__client_file_multipart":
        post(sb, "table/delete", {"namespace": "experiment", "table_name": "breast_hetero_host"})
    if name == "table.delete__existing_table":
        if post(sb, "table/table_info", {"namespace": "experiment", "table_name": "to_delete"})["data"]["exist"] == 0:
            wait_status(sb, upload_file(sb, EXAMPLES / "guest.csv", "experiment", "to_delete"), "success")
    if name.startswith("queue.clean__"):  # jobs the earlier cases submitted leave the queue first
        deadline = time.time() + 60
        while post(sb, "job/query", {"status": "waiting"})["data"] and time.time() < deadline:
            time.sleep(0.05)
    if name == "queue.clean__one_waiting_job":
        sb.hold(True)
        submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
    if name == "job.query__waiting_job":
        sb.hold(True)
        w.ids["WAITING"] = submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
    auth_on = ("auth_" in name and "auth_headers_when_switch_off" not in name)
    sb.configure(auth=(APP_KEY, SECRET) if auth_on else None)


def _post(w: World, name: str, resp: requests.Response) -> None:
    sb = w.sb
    sb.configure(auth=None)
    if name in ("queue.clean__one_waiting_job", "job.query__waiting_job"):
        sb.hold(False)
        if name == "job.query__waiting_job":
            wait_status(sb, w.ids["WAITING"], "success")
    if name.startswith("data.upload__") and resp.headers.get("content-type", "").startswith("application/json"):
        body = resp.json()
        if body.get("retcode") == 0 and body.get("jobId"):
            wait_status(sb, body["jobId"], {"success", "failed"})


def replay(w: World, name: str, rec: dict[str, Any]) -> requests.Response:
    """Send the recorded request (ids substituted; signatures recomputed with the current time)."""
    q = rec["request"]
    m = _id_map(w, name, rec)
    url = f"{w.sb.base_url}{q['path']}" + (f"?{q['query']}" if q.get("query") else "")
    headers = {k: v for k, v in q.get("headers", {}).items() if k in ("Content-Type",)}
    kw: dict[str, Any] = {}
    body_bytes = b""
    form: dict[str, str] | None = None
    bk = q.get("body_kind")
    if bk == "json":
        raw = q.get("raw_body") if "SIGNATURE" in q.get("headers", {}) else json.dumps(q["json"])
        if name in NARROW:  # the sandbox's history is not the recorded server's: list the recorded job's rows
            raw = json.dumps(dict(json.loads(raw), **{k: w.ids.get(v, v) for k, v in NARROW[name].items()}))
        body_bytes = _subst(raw, m).encode()
        kw["data"] = body_bytes
    elif bk == "text":
        body_bytes = q["raw_body"].encode()
        kw["data"] = body_bytes
    elif bk == "form":
        form = {k: _subst(v, m) for k, v in q["form"].items()}
        kw["data"] = form
    elif bk == "multipart":
        headers.pop("Content-Type", None)
        form = {k: _subst(v, m) for k, v in (q.get("form") or {}).items()}
        files = {}
        for f in q.get("files", []):
            if f["filename"].endswith(".zip"):
                content = w.model_zip
            else:
                content = (EXAMPLES / f["filename"]).read_bytes()
            files[f["name"]] = (f["filename"], content, f["content_type"]) if f["content_type"] else (f["filename"], content)
        kw["data"] = form
        kw["files"] = files
    h = q.get("headers", {})
    if "APP_KEY" in h or "TIMESTAMP" in h or "NONCE" in h:
        ts = h.get("TIMESTAMP")
        if ts and ts.isdigit() and len(ts) == 13:
            ts = str(int(time.time() * 1000))
        for k in ("TIMESTAMP", "NONCE", "APP_KEY"):
            if k in h:
                headers[k] = ts if k == "TIMESTAMP" else h[k]
        if "SIGNATURE" in h:
            secret = SECRET if q.get("signature_valid_with_test_secret") else "some-other-secret"
            full = q["path"] + (f"?{q['query']}" if q.get("query") else "")
            headers["SIGNATURE"] = signature(secret, ts or "", h.get("NONCE", ""), h.get("APP_KEY", ""), full,
                                             body_bytes if bk == "json" else b"", form or None)
    return requests.request(q["method"], url, headers=headers, timeout=60, **kw)


def check(name: str, rec: dict[str, Any], resp: requests.Response) -> list[str]:
    """Differences between a recorded response and the sandbox's."""
    diffs: list[str] = []
    exp = rec["response"]
    if resp.status_code != exp["status"]:
        diffs.append(f"HTTP {exp['status']} recorded vs {resp.status_code}")
    if "archive" in exp:
        ct, cd = resp.headers.get("content-type", ""), resp.headers.get("content-disposition", "")
        if ct.split(";")[0] != exp["headers"]["Content-Type"]:
            diffs.append(f"Content-Type {exp['headers']['Content-Type']} vs {ct}")
            return diffs
        if norm(cd) != norm(exp["headers"]["Content-Disposition"]):
            diffs.append(f"Content-Disposition {exp['headers']['Content-Disposition']} vs {cd}")
        arch = exp["archive"]
        if arch["format"] == "zip":
            with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
                names = zf.namelist()
        else:
            with tarfile.open(fileobj=io.BytesIO(resp.content), mode="r:gz") as tf:
                names = tf.getnames()
        want = sorted(norm(mb["name"]) for mb in arch["members"])
        got = sorted(norm(n) for n in names)
        if want != got:
            diffs.append(f"members missing {sorted(set(want) - set(got))} extra {sorted(set(got) - set(want))}")
        return diffs
    try:
        act = resp.json()
    except ValueError:
        diffs.append(f"not JSON: {resp.headers.get('content-type')}")
        return diffs
    ej = exp["json"]
    if set(ej) != set(act):
        diffs.append(f"envelope keys {sorted(ej)} vs {sorted(act)}")
    if ej.get("retcode") != act.get("retcode"):
        diffs.append(f"retcode {ej.get('retcode')} vs {act.get('retcode')}: {str(act.get('retmsg'))[:200]}")
    if "retmsg" in ej and retmsg_key(str(ej["retmsg"])) != retmsg_key(str(act.get("retmsg"))):
        diffs.append(f"retmsg {retmsg_key(str(ej['retmsg']))[:160]!r} vs {retmsg_key(str(act.get('retmsg')))[:160]!r}")
    for key in ("data", "meta"):
        if key in ej:
            compare(ej[key], act.get(key), key, diffs)
    return diffs


@pytest.mark.parametrize("name", FILES)
def test_recording(world: World, name: str) -> None:
    rec = json.loads((RECORDINGS / name).read_text())
    case = name[:-5]
    _pre(world, case)
    try:
        resp = replay(world, case, rec)
    finally:
        pass
    _post(world, case, resp)
    diffs = check(case, rec, resp)
    RESULTS[case] = (not diffs, "; ".join(diffs))
    assert not diffs, "\n".join(diffs)


def summary_lines() -> list[str]:
    """The conformance table of the recordings replayed in this session (printed by conftest.py's
    ``pytest_terminal_summary``, visible with ``-rA`` or whenever a recording differs)."""
    if not RESULTS:
        return []
    width = max(len(k) for k in RESULTS)
    lines = [f"{'recording'.ljust(width)} | conforms | differences", "-" * (width + 40)]
    for k in sorted(RESULTS):
        ok, why = RESULTS[k]
        lines.append(f"{k.ljust(width)} | {'yes' if ok else 'NO '}      | {why[:200]}")
    n_ok = sum(1 for ok, _ in RESULTS.values() if ok)
    lines.append(f"{n_ok}/{len(RESULTS)} recordings conform")
    return lines
