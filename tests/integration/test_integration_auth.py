"""Client authentication failures and ``hook.test_connection()`` over real HTTP."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from _integration_helpers import (
    APP_KEY,
    SECRET_KEY,
    UNKNOWN_JOB,
    Server,
    assert_fate_error,
    count_requests,
    example,
    upload_conf,
)

from airflow_provider_fateflow.client import FateFlowAuthError
from airflow_provider_fateflow.client import auth as client_auth
from airflow_provider_fateflow.testing import FateFlowSandbox, free_port


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """This module's sandbox requires signed requests."""
    with FateFlowSandbox(pace=0.0, auth=(APP_KEY, SECRET_KEY)) as sb:
        yield Server(sb, (APP_KEY, SECRET_KEY))


@pytest.fixture(scope="module")
def html_server() -> Iterator[int]:
    """An HTTP server that answers every request with an HTML page (a web server, a proxy's login page...)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            page = b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>It works</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


# -- authentication failures ---------------------------------------------------------------------------------------


def test_wrong_secret_on_a_json_call(make_hook, monkeypatch):
    hook = make_hook(password=SECRET_KEY + "-wrong")
    sent = count_requests(monkeypatch, hook)
    with pytest.raises(FateFlowAuthError) as err:
        hook.job.query(job_id=UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowAuthError, 109, "signature authentication failed", "job.query")
    assert err.value.reason == "bad_signature"
    assert "wrong signature: check secret_key" in str(err.value)
    assert not err.value.transient and len(sent) == 1  # never retried
    assert SECRET_KEY not in str(err.value) and SECRET_KEY not in repr(err.value)


def test_wrong_secret_on_submit_creates_no_job(make_hook, server: Server):
    hook = make_hook(password="not-the-secret")
    before = server.sandbox.jobs_count()
    with pytest.raises(FateFlowAuthError) as err:
        hook.job.submit(example("toy_example_conf.json"), example("toy_example_dsl.json"))
    assert err.value.reason == "bad_signature" and err.value.retcode == 109
    assert server.sandbox.jobs_count() == before


@pytest.mark.parametrize("kind", ["multipart upload", "GET with a JSON body (download)"])
def test_wrong_secret_on_multipart_and_download(make_hook, tmp_path: Path, kind: str):
    hook = make_hook(password="not-the-secret")
    with pytest.raises(FateFlowAuthError) as err:
        if kind == "multipart upload":
            hook.data.upload(upload_conf("auth_wrong"), drop=True)
        else:
            hook.table.download("experiment", "whatever", tmp_path)
    assert err.value.reason == "bad_signature" and err.value.retcode == 109
    assert not any(tmp_path.iterdir())


def test_unknown_app_key(make_hook):
    with pytest.raises(FateFlowAuthError) as err:
        make_hook(login="someone-else").version.get()
    assert_fate_error(err.value, FateFlowAuthError, 109, "Unknown APP_KEY", "version.get")
    assert err.value.reason == "unknown_app_key"


def test_no_credentials(make_hook):
    with pytest.raises(FateFlowAuthError) as err:
        make_hook(login="", password="").job.list()
    assert_fate_error(err.value, FateFlowAuthError, 109, "requirement headers parameters", "job.list")
    assert err.value.reason == "missing_headers"
    assert "set app_key and secret_key" in str(err.value)


def test_clock_skew(make_hook, monkeypatch: pytest.MonkeyPatch):
    hook = make_hook()
    real = time.time
    # this machine's clock runs 2 minutes ahead of the server's (the server keeps the real clock)
    monkeypatch.setattr(client_auth, "time", SimpleNamespace(time=lambda: real() + 120))
    with pytest.raises(FateFlowAuthError) as err:
        hook.job.query(job_id=UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowAuthError, 109, "TIMESTAMP is more than 60 seconds away from the server time",
                      "job.query")
    assert err.value.reason == "clock_skew"
    assert "clock skew" in str(err.value)
    monkeypatch.setattr(client_auth, "time", SimpleNamespace(time=lambda: real() + 30))  # within the window
    assert hook.job.query(job_id=UNKNOWN_JOB) == []


def test_credentials_are_ignored_when_the_server_has_auth_off(make_hook, server: Server):
    server.sandbox.configure(auth=None)
    try:
        assert make_hook(password="anything").version.get()["API"] == "v1"
        assert make_hook(login="", password="").version.get()["API"] == "v1"
    finally:
        server.sandbox.configure(auth=(APP_KEY, SECRET_KEY))


# -- test_connection -----------------------------------------------------------------------------------------------


def test_test_connection_success(make_hook, server: Server):
    ok, message = make_hook().test_connection()
    assert ok, message
    assert message == f"Connected to FATE Flow at http://127.0.0.1:{server.port}/v1/ (FATE 1.11.4, API v1)."


def test_test_connection_wrong_secret(make_hook):
    ok, message = make_hook(password="not-the-secret").test_connection()
    assert not ok
    assert message.startswith("FATE Flow at http://127.0.0.1:") and " refused the credentials: " in message
    assert message.endswith("Check App key and Secret key.")
    assert "wrong signature: check secret_key" in message and "signature authentication failed" in message
    assert "retcode 109" in message
    assert "not-the-secret" not in message


def test_test_connection_not_a_fate_flow(html_server: int, monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    monkeypatch.setenv("AIRFLOW_CONN_FATEFLOW_WEB",
                       f'{{"conn_type": "fateflow", "host": "127.0.0.1", "port": {html_server}}}')
    ok, message = FateFlowHook("fateflow_web").test_connection()
    assert not ok
    assert message.startswith(f"The server at 127.0.0.1:{html_server} answered, but it is not a FATE Flow v1 server (")
    assert "an HTML page" in message and "Welcome to nginx!" in message


def test_test_connection_unreachable(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_fateflow.client.transport import Transport
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    attempts = []
    real_attempt = Transport._attempt

    def counting(self, call):  # noqa: ANN001, ANN202
        attempts.append(call.operation)
        return real_attempt(self, call)

    monkeypatch.setattr(Transport, "_attempt", counting)
    port = free_port()  # nothing listens there
    # The default retry policy (5 tries with backoff) is in force: the Test button still tries only once.
    monkeypatch.setenv("AIRFLOW_CONN_FATEFLOW_DOWN", f'{{"conn_type": "fateflow", "host": "127.0.0.1", "port": {port}}}')
    ok, message = FateFlowHook("fateflow_down").test_connection()
    assert not ok
    assert message.startswith(f"Nothing listens at 127.0.0.1:{port} (connection refused). Check Host and Port")
    assert attempts == ["version.get"]


def test_test_connection_bad_settings(monkeypatch: pytest.MonkeyPatch):
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    monkeypatch.setenv("AIRFLOW_CONN_FATEFLOW_BAD",
                       '{"conn_type": "fateflow", "host": "127.0.0.1", "extra": {"initiator_party_id": "abc"}}')
    ok, message = FateFlowHook("fateflow_bad").test_connection()
    assert not ok
    assert message.startswith("Bad connection settings: Default party id: 'abc' is not an integer.")
