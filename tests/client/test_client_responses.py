"""Envelope parsing and every error path, over real loopback HTTP."""
from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_fateflow.client import (
    FateFlowApiError,
    FateFlowAuthError,
    FateFlowConnectionError,
    FateFlowNotFoundError,
    FateFlowResponseError,
    FateFlowTimeoutError,
    RetryPolicy,
)
from airflow_provider_fateflow.client.calls import ApiCall
from airflow_provider_fateflow.client.responses import parse_response
from airflow_provider_fateflow.client.errors import summarize_retmsg

JSON = {"Content-Type": "application/json"}
JOB = {"f_job_id": "1", "f_role": "guest", "f_party_id": "9999", "f_status": "running"}


def test_query_success_and_keepalive(responder, make_client):
    client = make_client()
    for _ in range(3):
        responder.json({"retcode": 0, "retmsg": "success", "data": [JOB]})
        [job] = client.job.query("1", "guest", 9999)
        assert job.status.value == "running" and job.party_id == 9999
    assert len(responder.connections) == 1, "one keep-alive connection"
    seen = responder.seen[0]
    assert json.loads(seen["body"]) == {"job_id": "1", "role": "guest", "party_id": 9999}
    assert seen["headers"]["User-Agent"].startswith("airflow-provider-fateflow/")


def test_unknown_job_is_empty_list(responder, make_client):
    responder.json({"retcode": 0, "retmsg": "no job could be found", "data": []})
    assert make_client().job.query("x") == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"<!DOCTYPE html><html><body>Login</body></html>", "HTML page"),
        (b"", "empty answer"),
        (b'{"retcode": 0, "data": [', "truncated or invalid JSON"),
        (b"Internal error", "not JSON"),
    ],
)
def test_not_an_envelope(responder, make_client, body, fragment):
    responder.queue((200, {"Content-Type": "text/html"}, body))
    with pytest.raises(FateFlowResponseError) as info:
        make_client().job.query("1")
    err = info.value
    assert fragment in str(err) and err.http_status == 200 and err.operation == "job.query"
    assert not err.transient


@pytest.mark.parametrize("payload", [[1, 2], {"retmsg": "x"}, {"retcode": 0, "data": {"not": "a list"}},
                                     {"retcode": 0, "data": [{"no_job_id": 1}]}])
def test_wrong_shape(responder, make_client, payload):
    responder.json(payload)
    with pytest.raises(FateFlowResponseError):
        make_client().job.query("1")


@pytest.mark.parametrize("retcode", [10, 100, 101, 102, 103, 104, 105, 106, 107, 108, 500])
def test_every_nonzero_retcode_is_an_api_error(responder, make_client, retcode):
    msg = "Traceback (most recent call last):\n  File \"x.py\", line 1\nException: boom\n"
    responder.json({"retcode": retcode, "retmsg": msg})
    with pytest.raises(FateFlowApiError) as info:
        make_client().job.query("1")
    err = info.value
    assert err.retcode == retcode and err.http_status == 200
    text = str(err)
    assert "\n" not in text and "job.query" in text and f"retcode {retcode}" in text and "HTTP 200" in text
    assert "Traceback (most recent call last):" in text and "Exception: boom" in text


def test_retcode_109_is_auth_error(responder, make_client):
    responder.json({"retcode": 109, "retmsg": "TIMESTAMP is more than 60 seconds away from the server time"})
    with pytest.raises(FateFlowAuthError) as info:
        make_client().job.query("1")
    assert info.value.reason == "clock_skew" and "clock" in str(info.value)


def test_http_210_is_an_error(responder, make_client):
    responder.json({"retcode": 210, "retmsg": "DSL generating failed."}, status=210)
    with pytest.raises(FateFlowApiError) as info:
        make_client().job.generate_dsl({"components": {"a": {"module": "Reader"}}}, ["a"])
    assert info.value.http_status == 210 and not isinstance(info.value, FateFlowNotFoundError)


def test_http_404_json_is_not_found(responder, make_client):
    responder.json({"retcode": 404, "retmsg": "Log file path not found"}, status=404)
    with pytest.raises(FateFlowNotFoundError):
        make_client().version.get("NOPE")


def test_huge_body_refused_without_buffering(responder, make_client):
    size = 50 * 1024 * 1024

    def huge(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        try:
            handler.wfile.write(b"[" + b" " * (1024 * 1024))
        except OSError:
            pass

    responder.queue(huge)
    with pytest.raises(FateFlowResponseError) as info:
        make_client(retry=RetryPolicy(attempts=1)).job.query("1")
    assert "limit" in str(info.value)


def test_huge_chunked_body_refused(responder, make_client):
    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(20):
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    responder.queue(chunked)
    client = make_client()
    client.transport._max_json_bytes = 256 * 1024
    with pytest.raises(FateFlowResponseError):
        client.job.query("1")


def test_connection_refused_is_transient():
    from airflow_provider_fateflow.client import ClientConfig, FateFlowClient, RetryPolicy

    client = FateFlowClient(ClientConfig("127.0.0.1", 1, retry=RetryPolicy(attempts=1)))
    with pytest.raises(FateFlowConnectionError) as info:
        client.job.query("1")
    assert info.value.transient and info.value.request_sent is False


def test_read_timeout(responder, make_client):
    import time

    responder.queue(lambda h: time.sleep(0.6))
    client = make_client(read_timeout=0.2, retry=RetryPolicy(attempts=1))
    with pytest.raises(FateFlowTimeoutError) as info:
        client.job.query("1")
    assert info.value.transient and info.value.request_sent


def test_data_code_checked(responder, make_client, tmp_path):
    responder.json({"retcode": 0, "retmsg": "success", "jobId": "9",
                    "data": {"code": 103, "message": "Traceback (most recent call last):\nValueError: bad", "job_id": "9"}})
    with pytest.raises(FateFlowApiError) as info:
        make_client().data.upload({"namespace": "n", "table_name": "t", "file": "/srv/x.csv", "head": 1,
                                   "partition": 1, "use_local_data": 0})
    assert info.value.retcode == 103 and "ValueError: bad" in str(info.value)


def test_summarize_retmsg():
    assert summarize_retmsg("a\nb\nc") == "a b c"
    assert summarize_retmsg("Traceback (most recent call last):\n x\nKeyError: 'y'\n") == (
        "Traceback (most recent call last): ... KeyError: 'y'")
    assert len(summarize_retmsg("x" * 5000)) == 500


def test_parser_errors_never_leak():
    call = ApiCall("job.list", "job/list/job", parse=lambda env: env["data"]["jobs"][0])
    with pytest.raises(FateFlowResponseError):
        parse_response(call, 200, {}, b'{"retcode": 0, "data": {}}')


def test_debug_log_has_no_body_or_signature(responder, make_client, caplog):
    responder.json({"retcode": 0, "data": []})
    client = make_client(app_key="k", secret_key="top-secret-value")
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_fateflow.client"):
        client.job.query("1")
    sig = responder.seen[0]["headers"]["SIGNATURE"]
    assert "POST /v1/job/query -> 200" in caplog.text
    assert "top-secret-value" not in caplog.text and sig not in caplog.text


def test_environment_resolved_once(monkeypatch):
    from airflow_provider_fateflow.client import ClientConfig
    from airflow_provider_fateflow.client.transport import Transport

    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    t = Transport(ClientConfig("flow"))
    assert t.session.proxies["http"] == "http://proxy:3128" and t.session.verify == "/etc/ssl/bundle.pem"
    assert t.session.trust_env is False
    t2 = Transport(ClientConfig("flow", verify=False, proxies={"http": "http://other:1"}))
    assert t2.session.verify is False and t2.session.proxies["http"] == "http://other:1"


def test_import_is_cheap():
    import subprocess
    import sys

    code = ("import sys, airflow_provider_fateflow.client; "
            "print(sorted(m for m in ('aiohttp', 'httpx', 'tenacity', 'tarfile', 'airflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_uploads_are_sent_in_large_blocks():
    """urllib3 sends a streamed body 16 KiB at a time unless told otherwise (a 3x slower 1 GiB upload)."""
    from airflow_provider_fateflow.client import ClientConfig
    from airflow_provider_fateflow.client.transport import Transport

    t = Transport(ClientConfig("flow"))
    for url in ("http://flow:9380/v1/", "https://flow:9380/v1/"):
        assert t.session.get_adapter(url).poolmanager.connection_pool_kw["blocksize"] == 1 << 20


@pytest.mark.parametrize("body", [
    b'{"retcode": 0, "data": [{"f_job_id": "1", "f_progress": 100}]}',
    b'{"retcode": 0, "data": {"auc": NaN, "ks": Infinity}}',  # FATE's json.dumps writes NaN metrics like this
    b'{"retcode": 0, "data": 123456789012345678901234567890}',
    b'{"retcode": 0, "data": 1e400}',
    b'{"retcode": 0, "retmsg": "\\ud800"}',
    b'{"retcode": 0, "retcode": 100}',
])
def test_json_answers_decode_as_the_json_module_does(body):
    import json

    from airflow_provider_fateflow.client.responses import decode_json

    assert repr(decode_json(body)) == repr(json.loads(body))
