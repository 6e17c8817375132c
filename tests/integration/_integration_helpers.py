"""Helpers of the integration tier (connection JSON, polling, error assertions, request counting)."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fateflow.client import FateFlowError, JobStatus
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.testing import FateFlowSandbox

APP_KEY, SECRET_KEY = "airflow-integration", "s3cr3t-integration-key"
GUEST, HOST, ARBITER = 9999, 10000, 10000  # the example confs' parties
MODEL_ID = "arbiter-10000#guest-9999#host-10000#model"
UNKNOWN_JOB = "202601010000000000000"
BOARD = "http://board.example:8080"
DEPLOY_COMPONENTS = ["reader_0", "data_transform_0", "hetero_lr_0"]
LR_COMPONENTS = ["reader_0", "data_transform_0", "hetero_lr_0", "evaluation_0"]
_REPO = Path(__file__).resolve().parents[2]
EXAMPLES = Path(os.environ.get("FATEFLOW_SHARED_DIR") or _REPO.parent / "shared") / "fateflow-v1" / "examples"


@dataclass
class Server:
    """A started sandbox and the credentials it requires (``None``: authentication off)."""

    sandbox: FateFlowSandbox
    auth: tuple[str, str] | None

    @property
    def port(self) -> int:
        return self.sandbox.port

    def conn_json(self, *, login: str | None = None, password: str | None = None, **extra: Any) -> str:
        """The ``fateflow_default`` connection as Airflow reads it from the environment."""
        key, secret = self.auth or (None, None)
        conn: dict[str, Any] = {
            "conn_type": "fateflow",
            "host": "127.0.0.1",
            "port": self.port,
            "extra": {
                "initiator_role": "guest",
                "initiator_party_id": str(GUEST),
                "board_url": BOARD,
                # quick backoff: the fault tests retry without sleeping for seconds
                "retry_delay": "0.01",
                "retry_max_delay": "0.05",
                **extra,
            },
        }
        login = key if login is None else login
        password = secret if password is None else password
        if login:
            conn["login"] = login
        if password:
            conn["password"] = password
        return json.dumps(conn)


def new_hook(mp: pytest.MonkeyPatch, server: Server, conn_id: str = "fateflow_default", **conn: Any) -> FateFlowHook:
    """A hook reading ``conn_id`` from ``AIRFLOW_CONN_<ID>``; its client is built while the variable is set."""
    mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", server.conn_json(**conn))
    hook = FateFlowHook(conn_id) if conn_id != "fateflow_default" else FateFlowHook()
    hook.client  # noqa: B018 - read the connection now
    hook.job.recovery_delays = (0.0, 0.05, 0.1)
    return hook


def local_board(job_id: str) -> str:
    """The connection's FATE-Board link of a local job (FATE runs them as party 0)."""
    return f"{BOARD}/index.html#/dashboard?job_id={job_id}&role=local&party_id=0"


def example(name: str) -> dict[str, Any]:
    """A JSON example file (a fresh copy)."""
    return json.loads((EXAMPLES / name).read_text())


def wait_job(hook: FateFlowHook, job_id: str, role: str = "guest", party_id: int = GUEST,
             until: Callable[[JobStatus], bool] = lambda s: s.is_terminal, timeout: float = 20.0) -> JobStatus:
    """Poll ``hook.job.query`` until ``until(status)``; return the status."""
    deadline = time.monotonic() + timeout
    while True:
        rows = hook.job.query(job_id=job_id, role=role, party_id=party_id)
        assert len(rows) == 1, rows
        if until(rows[0].status):
            return rows[0].status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {rows[0].status_raw} after {timeout}s")
        time.sleep(0.01)


def upload_conf(table: str, csv: str = "guest.csv", *, server_file: bool = False) -> dict[str, Any]:
    """An upload conf for one of the example CSVs (client file by default)."""
    conf = {"file": str(EXAMPLES / csv), "head": 1, "partition": 4, "id_delimiter": ",",
            "namespace": "experiment", "table_name": table}
    if server_file:
        conf["use_local_data"] = 0
    return conf


def assert_fate_error(exc: BaseException, cls: type[FateFlowError], retcode: int, fragment: str,
                      operation: str | None = None, http_status: int | None = None) -> None:
    """The exact error class; ``retcode`` and FATE's message both in the message (and as attributes)."""
    assert type(exc) is cls, f"{type(exc).__name__} is not {cls.__name__}: {exc}"
    text = str(exc)
    assert f"retcode {retcode}" in text, text
    assert fragment in text, text
    assert getattr(exc, "retcode", None) == retcode
    if operation is not None:
        assert exc.operation == operation
        assert text.startswith(f"{operation}: ")
    if http_status is not None:
        assert exc.http_status == http_status  # type: ignore[attr-defined]


@dataclass
class RequestCounter:
    """Counts the HTTP requests a hook's session sends (every attempt, retries included)."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)

    def paths(self) -> list[str]:
        return [url.split("/v1/", 1)[-1].split("?", 1)[0] for _, url in self.calls]


def count_requests(monkeypatch: pytest.MonkeyPatch, hook: FateFlowHook) -> RequestCounter:
    """Wrap the hook's ``requests.Session.request`` to count what goes on the wire."""
    counter = RequestCounter()
    session = hook.client.transport.session
    original = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        counter.calls.append((method, url))
        return original(method, url, *args, **kwargs)

    monkeypatch.setattr(session, "request", request)
    return counter


@dataclass
class Trained:
    """Shared state of a module: uploaded tables, one trained and deployed model."""

    guest_upload: str
    host_upload: str
    train_job: str
    model_version: str  # the training job's (parent) version
    deployed_version: str = ""


def upload_and_train(hook: FateFlowHook, deploy: bool = False) -> Trained:
    """Upload guest (client file) and host (server file) tables, train hetero LR, optionally deploy it."""
    g = hook.data.upload(upload_conf("breast_hetero_guest"), drop=True)
    h = hook.data.upload(upload_conf("breast_hetero_host", "host.csv", server_file=True), drop=True)
    assert wait_job(hook, g.job_id, "local", 0) is JobStatus.SUCCESS
    assert wait_job(hook, h.job_id, "local", 0) is JobStatus.SUCCESS
    s = hook.job.submit(example("hetero_lr_conf.json"), example("hetero_lr_dsl.json"))
    assert wait_job(hook, s.job_id) is JobStatus.SUCCESS
    trained = Trained(g.job_id, h.job_id, s.job_id, str(s.model_version))
    if deploy:
        trained.deployed_version = hook.model.deploy(MODEL_ID, s.job_id, cpn_list=DEPLOY_COMPONENTS).model_version
    return trained

