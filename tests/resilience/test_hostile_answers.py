"""Hostile answers reach a task: each fails it with a typed error whose message is one readable line (the
operation, what was wrong, the HTTP status, FATE's retcode and message or a short excerpt of the body).

Tasks here: ``TableInfoOperator`` (one idempotent call), ``JobStatusSensor`` in poke mode and
``JobStatusTrigger`` (whose error event fails the resumed task). A sensor or trigger must not take a hostile
answer for a transient failure and wait on forever.

The same answers at the client level (over loopback, with the retry counts and ``Retry-After``) are in
``tests/client/test_client_responses.py`` and ``tests/client/test_client_retry_recovery.py``.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from _resilience_helpers import set_conn

from airflow_provider_fateflow.client.errors import (
    FateFlowApiError,
    FateFlowAuthError,
    FateFlowError,
    FateFlowNotFoundError,
    FateFlowResponseError,
)
from airflow_provider_fateflow.operators.data import TableInfoOperator
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor
from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger
from operators.helpers import make_context

CONN_ID = "fateflow_hostile"
HOOK = {"retry_limit": 2, "retry_delay": 0.01, "retry_max_delay": 0.01}
FIFTY_MB = 50 * 1024 * 1024
TRACEBACK = 'Traceback (most recent call last):\n  File "fate_flow/apps/table_app.py", line 9\nKeyError: \'namespace\'\n'


def _big(chunked: bool) -> Any:
    def write(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(FIFTY_MB))
        handler.end_headers()
        chunk = b'{"retcode": 0, "data": [' + b" " * (1024 * 1024 - 24)
        try:
            for _ in range(50):
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                chunk = b" " * (1024 * 1024)
        except OSError:  # the client hung up, as it should
            pass

    return write


#: Answers that are not a usable envelope: (body or writer, content type, status, message fragment).
NOT_AN_ENVELOPE = {
    "html_error_page": ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                        "text/html", 200, "an HTML page instead of a JSON envelope"),
    "empty_body": ("", "application/json", 200, "empty answer where a JSON envelope was expected"),
    "truncated_json": ('{"retcode": 0, "retmsg": "success", "data": [{"f_job_id": "2026', "application/json", 200,
                       "truncated or invalid JSON"),
    "json_list_not_object": ("[1, 2, 3]", "application/json", 200, "expected a JSON object envelope, got list"),
    "json_without_retcode": ('{"code": 0, "message": "ok"}', "application/json", 200, "JSON envelope without retcode"),
    "json_data_of_wrong_type": ('{"retcode": 0, "retmsg": "success", "data": "yes"}', "application/json", 200,
                                "unexpected answer shape"),
    "body_50_mb": (_big(chunked=False), None, 200, "exceeds the 16777216 byte limit for JSON answers"),
    "body_50_mb_chunked": (_big(chunked=True), None, 200, "exceeds the 16777216 byte limit for JSON answers"),
}

#: Every non-zero retcode in API.md: (HTTP status, retcode, retmsg, error class).
RETCODES = {
    # RetCode (FATE Flow 1.11 entity/types.py), in an HTTP 200 envelope
    "10_not_effective": (200, 10, "not effective", FateFlowApiError),
    "100_exception": (200, 100, TRACEBACK, FateFlowApiError),
    "101_argument": (200, 101, "required argument are missing: namespace; ", FateFlowApiError),
    "102_data": (200, 102, "data error", FateFlowApiError),
    "103_operating": (200, 103, "operating error", FateFlowApiError),
    "104_federated": (200, 104, "federated error", FateFlowApiError),
    "105_connection": (200, 105, "connection error", FateFlowApiError),
    "106_running": (200, 106, "running", FateFlowApiError),
    "107_incompatible_fate_version": (200, 107, "incompatible FATE version", FateFlowApiError),
    "108_permission": (200, 108, "permission error", FateFlowApiError),
    "109_authentication": (200, 109, "signature authentication failed", FateFlowAuthError),
    "500_server_error": (200, 500, "server error", FateFlowApiError),
    # error_response(code, msg): HTTP status = retcode
    "http_400": (400, 400, "Invalid parameter 'status'.", FateFlowApiError),
    "http_404": (404, 404, "Log file path not found", FateFlowNotFoundError),
    "http_409": (409, 409, "conflict", FateFlowApiError),
    "http_500": (500, 500, "Internal Server Error", FateFlowApiError),
    "http_210": (210, 210, "DSL generating failed.", FateFlowApiError),
    # FATE Flow 1.7/1.8 client authentication
    "http_401_auth": (401, 401, "Unknown APP_KEY", FateFlowAuthError),
    "http_403_auth": (403, 403, "signature authentication failed", FateFlowAuthError),
    "http_425_auth": (425, 425, "TIMESTAMP is more than 60 seconds away from the server time", FateFlowAuthError),
    # the SDK's legacy "start a standalone server" code
    "999_legacy": (200, 999, "standalone node not started", FateFlowApiError),
}


@pytest.fixture
def server(hostile: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    set_conn(monkeypatch, CONN_ID, hostile.port)
    return hostile


def _serve(server: Any, answer: tuple[Any, str | None, int, str]) -> str:
    body, content_type, status, fragment = answer
    if callable(body):
        server.answer_with(body)
    else:
        server.answer(status, body, content_type=content_type)
    return fragment


def _readable(err: BaseException, operation: str, *fragments: str) -> str:
    text = str(err)
    assert "\n" not in text and len(text) <= 800, text
    assert text.startswith(f"{operation}: "), text
    for fragment in fragments:
        assert fragment in text, text
    return text


def _table_info() -> TableInfoOperator:
    return TableInfoOperator(task_id="info", namespace="experiment", table_name="t", fateflow_conn_id=CONN_ID,
                             hook_params=HOOK)


@pytest.mark.parametrize("case", list(NOT_AN_ENVELOPE))
def test_a_task_fails_clearly_on_an_answer_that_is_not_an_envelope(server, case: str):
    fragment = _serve(server, NOT_AN_ENVELOPE[case])
    with pytest.raises(FateFlowResponseError) as err:
        _table_info().execute(make_context())
    _readable(err.value, "table.info", fragment, "[HTTP 200]")
    assert not err.value.transient and len(server.paths) == 1, "a bad answer is not retried"


def _exactly(err: BaseException, cls: type) -> bool:
    """``err`` is a ``cls``, not a subclass of it (beyond Airflow's no-retry marker, which keeps the type)."""
    from airflow_provider_fateflow.common import AirflowFailException

    kind = type(err)
    return kind is cls or (kind.__bases__ == (cls, AirflowFailException))


@pytest.mark.parametrize("case", list(RETCODES))
def test_a_task_fails_clearly_on_every_error_retcode(server, case: str):
    status, retcode, retmsg, cls = RETCODES[case]
    server.answer(status, {"retcode": retcode, "retmsg": retmsg})
    with pytest.raises(FateFlowError) as err:
        _table_info().execute(make_context())
    assert _exactly(err.value, cls), repr(err.value)
    first_line = retmsg.strip().splitlines()[0]
    text = _readable(err.value, "table.info", first_line, f"retcode {retcode}", f"HTTP {status}")
    if retcode == 100:
        assert "KeyError: 'namespace'" in text  # a traceback keeps its first and last lines
    assert (err.value.retcode, err.value.http_status) == (retcode, status)
    # only 5xx (and 429) are transient: retried up to retry_limit, everything else fails at once
    assert len(server.paths) == (2 if status >= 500 else 1)


@pytest.mark.parametrize("case", ["html_error_page", "truncated_json", "json_data_of_wrong_type", "body_50_mb",
                                  "http_210", "109_authentication"])
def test_waits_do_not_wait_on_after_a_hostile_answer(server, case: str):
    """The poke-mode sensor raises at once; the trigger sends one error event and the resumed task fails."""
    if case in RETCODES:
        status, retcode, retmsg, cls = RETCODES[case]
        server.answer(status, json.dumps({"retcode": retcode, "retmsg": retmsg}))
        fragment = retmsg
    else:
        cls = FateFlowResponseError
        fragment = _serve(server, NOT_AN_ENVELOPE[case])
    sensor = JobStatusSensor(task_id="sense", job_id="202611281200000000000", role="guest", party_id=9999,
                             poke_interval=0.05, timeout=30, fateflow_conn_id=CONN_ID, hook_params=HOOK,
                             deferrable=False)
    with pytest.raises(FateFlowError) as err:
        sensor.execute(make_context())
    assert _exactly(err.value, cls)
    _readable(err.value, "job.query", fragment)

    trigger = JobStatusTrigger(job_id="202611281200000000000", role="guest", party_id=9999, poll_interval=0.05,
                               fateflow_conn_id=CONN_ID, hook_params=HOOK)

    async def events() -> list[Any]:
        return [e.payload async for e in trigger.run()]

    (event,) = asyncio.run(events())
    assert event["outcome"] == "error" and event["error"]["type"] == cls.__name__, event
    assert event["message"].startswith(f"{cls.__name__}: job.query: ") and fragment in event["message"]
    assert "\n" not in event["message"] and len(event["message"]) <= 800
    with pytest.raises(cls, match="job.query: ") as resumed:  # the deferred wait raises what the poke raised
        sensor.execute_complete(make_context(), event)
    _readable(resumed.value, "job.query", fragment)
