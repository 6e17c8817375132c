"""Helpers shared by the sandbox tests (HTTP shortcuts, polling)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import requests

from airflow_provider_fateflow.testing import FateFlowSandbox

#: ../shared beside the repository, or FATEFLOW_SHARED_DIR (as tests/conftest.py finds it).
_SHARED = Path(os.environ.get("FATEFLOW_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared")
SHARED = _SHARED / "fateflow-v1"
RECORDINGS = SHARED / "recordings"
EXAMPLES = SHARED / "examples"


def example(name: str) -> Any:
    """A JSON example file."""
    return json.loads((EXAMPLES / name).read_text())


def post(sb: FateFlowSandbox, route: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    """POST a JSON body to ``/v1/<route>`` and return the envelope."""
    r = requests.post(f"{sb.base_url}/v1/{route}", json=body, timeout=30, **kw)
    return r.json()


def submit(sb: FateFlowSandbox, conf: dict[str, Any], dsl: dict[str, Any] | None) -> str:
    """Submit a job; return its id (asserts success)."""
    r = post(sb, "job/submit", {"job_runtime_conf": conf, "job_dsl": dsl or {}})
    assert r["retcode"] == 0, r
    return r["jobId"]


def status(sb: FateFlowSandbox, job_id: str) -> str:
    """The initiator's f_status of a job."""
    rows = post(sb, "job/query", {"job_id": job_id, "is_initiator": 1})["data"]
    return rows[0]["f_status"] if rows else "missing"


def wait_status(sb: FateFlowSandbox, job_id: str, want: set[str] | str, timeout: float = 20) -> str:
    """Poll until the job reaches one of ``want``."""
    want = {want} if isinstance(want, str) else want
    deadline = time.time() + timeout
    st = ""
    while time.time() < deadline:
        st = status(sb, job_id)
        if st in want:
            return st
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} stuck in {st}, wanted {want}")


def wait_task(sb: FateFlowSandbox, job_id: str, component: str, want: str, timeout: float = 20) -> None:
    """Poll until a component's task (at the initiator) reaches ``want``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = post(sb, "job/task/query", {"job_id": job_id, "component_name": component})
        if r["retcode"] == 0 and any(t["f_status"] == want for t in r["data"]):
            return
        time.sleep(0.02)
    raise AssertionError(f"{component} of {job_id} never reached {want}")


def upload_file(sb: FateFlowSandbox, path: Path, namespace: str, name: str, drop: int = 1) -> str:
    """Upload a CSV the SDK way (JSON config in the query string); return the job id."""
    conf = {"file": str(path), "head": 1, "partition": 4, "namespace": namespace, "table_name": name,
            "id_delimiter": ",", "drop": drop}
    with open(path, "rb") as fh:
        r = requests.post(f"{sb.base_url}/v1/data/upload", params=json.dumps(conf),
                          files={"file": (path.name, fh, "application/octet-stream")}, timeout=60).json()
    assert r["retcode"] == 0 and r["data"]["code"] == 0, r
    return r["jobId"]


