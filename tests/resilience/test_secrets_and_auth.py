"""Client authentication and secret hygiene, through real DAG runs against a sandbox that requires signed
requests (HMAC-SHA1, API.md section 2).

- Signed requests are accepted: a multipart upload, a submit, a sensor in poke mode and a deferrable sensor
  (whose trigger signs on the async path) all succeed.
- A wrong secret fails its task with an authentication error that says so; a worker clock more than 60 s off
  fails its task with an error that says that. Both on the async path too.
- The secret key (the right one and the wrong one) appears nowhere: not in the task logs, the rendered
  template fields, XCom, the exceptions, the trigger's serialized kwargs, nor the repr/str of the hook, its
  client and configuration, or the Airflow connection.

The client-level checks (signature vectors, every auth failure message) are in
``tests/client/test_client_units.py`` and ``tests/integration/test_integration_auth.py``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pendulum
import pytest
from _resilience_helpers import rendered_fields, set_conn, states, xcoms

from airflow_provider_fateflow.client import auth as client_auth
from airflow_provider_fateflow.client.errors import FateFlowAuthError
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.testing import FateFlowSandbox
from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger
from operators.helpers import EXAMPLES, make_context, toy_conf, toy_dsl

APP_KEY = "resilience-app"
SECRET = "S3cr3t-0f-the-resilience-suite"
WRONG_SECRET = "Wr0ng-s3cret-0f-the-resilience-suite"
SIGNED, WRONG = "fateflow_signed", "fateflow_wrong_secret"


@pytest.fixture(scope="module")
def flow() -> Iterator[FateFlowSandbox]:
    with FateFlowSandbox(pace=0.0, auth=(APP_KEY, SECRET)) as sb:
        yield sb


@pytest.fixture
def conns(flow: FateFlowSandbox, monkeypatch: pytest.MonkeyPatch) -> FateFlowSandbox:
    set_conn(monkeypatch, SIGNED, flow.port, login=APP_KEY, password=SECRET)
    set_conn(monkeypatch, WRONG, flow.port, login=APP_KEY, password=WRONG_SECRET)
    return flow


def _skewed_clock(seconds: float) -> Any:
    """This machine's clock runs ``seconds`` ahead of the server's: patch the signing's time source."""
    real = time.time
    return mock.patch.object(client_auth, "time", SimpleNamespace(time=lambda: real() + seconds))


class _SkewedClockSubmit(SubmitJobOperator):
    """A worker whose clock is two minutes fast."""

    def execute(self, context: Any) -> Any:
        with _skewed_clock(120):
            return super().execute(context)


def _dag() -> Any:
    from airflow.sdk import DAG

    from airflow_provider_fateflow.operators.data import UploadDataOperator
    from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor, TaskStatusSensor

    conf = toy_conf()
    conf["airflow"] = {"note": "run {{ run_id }} of {{ dag.dag_id }}"}  # a templated value in the conf
    job_id = "{{ ti.xcom_pull(task_ids='submit') }}"
    fast = {"poll_interval": 0.1, "deferrable": False}
    sense = {"poke_interval": 0.2, "timeout": 60}
    with DAG("resilience_secrets", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             catchup=False) as dag:
        upload = UploadDataOperator(task_id="upload", file=str(EXAMPLES / "guest.csv"), namespace="resilience",
                                    table_name="signed_{{ ds_nodash }}", drop=True, fateflow_conn_id=SIGNED, **fast)
        submit = SubmitJobOperator(task_id="submit", conf=conf, dsl=toy_dsl(), fateflow_conn_id=SIGNED, **fast)
        poke = TaskStatusSensor(task_id="poke_sensor", job_id=job_id, component_name="secure_add_example_0",
                                mode="poke", fateflow_conn_id=SIGNED, **sense)
        deferred = JobStatusSensor(task_id="deferred_sensor", job_id=job_id, deferrable=True,
                                   fateflow_conn_id=SIGNED, **sense)
        SubmitJobOperator(task_id="wrong_secret", conf=toy_conf(), dsl=toy_dsl(), fateflow_conn_id=WRONG, **fast)
        _SkewedClockSubmit(task_id="skewed_clock", conf=toy_conf(), dsl=toy_dsl(), fateflow_conn_id=SIGNED, **fast)
        upload >> submit >> [poke, deferred]
    return dag


def _files_under(root: str) -> str:
    texts = []
    for path in Path(root).rglob("*"):
        if path.is_file() and path.suffix in (".log", ".json", ".txt", ""):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def _assert_no_secret(where: str, text: str) -> None:
    for secret in (SECRET, WRONG_SECRET):
        assert secret not in text, f"the secret key appears in {where}"


def test_signed_dag_run_and_no_secret_anywhere(conns, run_dag, task_log, caplog):
    caplog.set_level(logging.DEBUG, logger="airflow_provider_fateflow")  # the client's debug lines too
    before = conns.jobs_count()
    dr = run_dag(_dag())
    log = task_log()

    assert states(dr) == {"upload": "success", "submit": "success", "poke_sensor": "success",
                          "deferred_sensor": "success", "wrong_secret": "failed", "skewed_clock": "failed"}
    assert conns.jobs_count() == before + 2, "the refused submits created nothing"
    # the failures say what is wrong
    assert "FateFlowAuthError" in log
    assert "wrong signature: check secret_key" in log and "signature authentication failed" in log
    assert "clock skew: this machine's clock and the server's differ by more than 60 s" in log
    assert "TIMESTAMP is more than 60 seconds away from the server time" in log

    # the secret is nowhere a user (or an attacker reading logs and the metadata DB) could look
    _assert_no_secret("the task logs", log)
    _assert_no_secret("the log files", _files_under(os.environ["AIRFLOW_HOME"]))
    rendered = rendered_fields(dr)
    assert "run manual__" in str(rendered["submit"]), rendered["submit"]  # the templates were rendered
    _assert_no_secret("the rendered template fields", repr(rendered))
    values = xcoms(dr)
    assert values[("submit", "return_value")]
    _assert_no_secret("XCom", repr(values))


def test_auth_errors_say_what_is_wrong_and_hide_the_secret(conns):
    # a wrong secret, on the sync path
    with pytest.raises(FateFlowAuthError) as wrong:
        SubmitJobOperator(task_id="t", conf=toy_conf(), dsl=toy_dsl(), fateflow_conn_id=WRONG,
                          deferrable=False).execute(make_context())
    assert wrong.value.reason == "bad_signature" and "wrong signature: check secret_key" in str(wrong.value)
    # a clock two minutes off, on the sync path (within the 60 s window it is fine)
    hook = FateFlowHook(SIGNED)
    with _skewed_clock(120), pytest.raises(FateFlowAuthError) as skew:
        hook.job.list()
    assert skew.value.reason == "clock_skew" and "more than 60 s" in str(skew.value)
    with _skewed_clock(-45):
        assert hook.job.list(limit=1) is not None

    # and on the async path (the trigger): one error event that says the same
    def event(conn_id: str, skew_seconds: float = 0.0) -> dict[str, Any]:
        trigger = JobStatusTrigger(job_id="202611281200000000000", role="guest", party_id=9999, poll_interval=0.05,
                                   fateflow_conn_id=conn_id, hook_params={"retry_limit": 1})

        async def run() -> list[Any]:
            return [e.payload async for e in trigger.run()]

        with _skewed_clock(skew_seconds):
            (payload,) = asyncio.run(run())
        return payload

    async_wrong, async_skew = event(WRONG), event(SIGNED, 120)
    assert async_wrong["outcome"] == "error" and async_wrong["error"]["type"] == "FateFlowAuthError"
    assert "wrong signature: check secret_key" in async_wrong["message"]
    assert "clock skew" in async_skew["message"] and "more than 60 s" in async_skew["message"]

    for err in (wrong.value, skew.value):
        _assert_no_secret("an exception", f"{err} {err!r} {vars(err)} {err.args}")
    _assert_no_secret("a trigger event", repr([async_wrong, async_skew]))
    trigger = JobStatusTrigger(job_id="1", fateflow_conn_id=SIGNED, hook_params={"read_timeout": 5})
    _assert_no_secret("the trigger's serialized kwargs", repr(trigger.serialize()))


def test_no_secret_in_the_repr_of_the_hook_its_client_or_the_connection(conns):
    from airflow.models.connection import Connection

    hook = FateFlowHook(SIGNED)
    assert hook.config.secret_key == SECRET and hook.config.signs_requests  # it is there, and used
    hook.version.get()  # a signed request went out
    for name, obj in (("hook", hook), ("client", hook.client), ("config", hook.config),
                      ("transport", hook.client.transport), ("session headers", hook.client.transport.session.headers)):
        _assert_no_secret(f"the repr/str of the {name}", f"{obj!r} {obj}")
    _assert_no_secret("the hook's attributes", repr(vars(hook)))
    conn = Connection.get_connection_from_secrets(SIGNED)
    assert conn.password == SECRET
    _assert_no_secret("the repr/str of the Airflow connection", f"{conn!r} {conn}")
    ok, message = FateFlowHook(WRONG).test_connection()
    assert not ok and "wrong signature" in message
    _assert_no_secret("the connection test's message", message)
