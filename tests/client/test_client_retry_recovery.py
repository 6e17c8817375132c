"""Retry policy (only idempotent calls, Retry-After) and lost-answer recovery for create calls."""
from __future__ import annotations

import json
import logging
import time

import pytest

from airflow_provider_fateflow.client import (
    FateFlowConnectionError,
    FateFlowTimeoutError,
    FateFlowAmbiguousSubmitError,
    FateFlowApiError,
    FateFlowResponseError,
    RetryPolicy,
)
from airflow_provider_fateflow.client.retry import backoff_delay

CONF = {"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999}, "role": {"guest": [9999], "host": [10000]},
        "job_parameters": {}}
DSL = {"components": {"secure_add_example_0": {"module": "SecureAddExample"}}}
BUSY = (503, {"Content-Type": "text/html", "Retry-After": "7"}, b"<html>busy</html>")
OK = (200, {"Content-Type": "application/json"}, b'{"retcode": 0, "data": []}')


def test_idempotent_call_retried_and_retry_after_honoured(responder, make_client, caplog):
    responder.queue(BUSY, (429, {"Content-Type": "application/json"}, b'{"retcode": 429, "retmsg": "slow down"}'), OK)
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_fateflow.client"):
        assert client.job.query("1") == []
    assert len(responder.seen) == 3
    assert client.sleeps == [7.0, 0.0]
    assert "job.query: attempt 1 of 3 failed" in caplog.text


def test_retry_after_capped():
    policy = RetryPolicy(max_retry_after=5.0)
    err = FateFlowResponseError("x", http_status=503)
    err.retry_after = 500.0  # type: ignore[attr-defined]
    assert backoff_delay(policy, 1, err) == 5.0
    no_jitter = RetryPolicy(min_delay=1.0, max_delay=3.0, jitter=False)
    assert [backoff_delay(no_jitter, n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
    jitter = RetryPolicy(min_delay=1.0, max_delay=30.0)
    assert all(2.0 <= backoff_delay(jitter, 2, None) <= 4.0 for _ in range(20))


def test_dropped_connection_is_retried_at_once_then_with_backoff():
    policy = RetryPolicy(min_delay=1.0, max_delay=30.0, jitter=False)
    dropped = FateFlowConnectionError("connection lost", operation="job.query", request_sent=True)
    refused = FateFlowConnectionError("cannot connect", operation="job.query", request_sent=False)
    slow = FateFlowTimeoutError("read timeout", operation="job.query", request_sent=True)
    assert backoff_delay(policy, 1, dropped) == 0.0  # a stale keep-alive connection: no reason to wait
    assert backoff_delay(policy, 2, dropped) == 2.0
    assert backoff_delay(policy, 1, refused) == 1.0
    assert backoff_delay(policy, 1, slow) == 1.0


def test_retries_exhausted_raise_last_error(responder, make_client):
    responder.queue(BUSY, BUSY, BUSY, OK)
    with pytest.raises(FateFlowResponseError) as info:
        make_client().job.query("1")
    assert info.value.http_status == 503 and info.value.transient
    assert len(responder.seen) == 3


def test_4xx_not_retried(responder, make_client):
    responder.json({"retcode": 400, "retmsg": "Invalid parameter 'status'."}, status=400)
    with pytest.raises(FateFlowApiError):
        make_client().job.list(status="timeout")
    assert len(responder.seen) == 1


@pytest.mark.parametrize("op", ["stop", "deploy", "queue", "table_delete"])
def test_non_idempotent_calls_never_repeated(responder, make_client, op):
    responder.queue(BUSY, OK, OK)
    client = make_client()
    call = {
        "stop": lambda: client.job.stop("1"),
        "deploy": lambda: client.model.deploy("m", "v"),
        "queue": lambda: client.queue.clean(),
        "table_delete": lambda: client.table.delete("ns", "t"),
    }[op]
    with pytest.raises(FateFlowResponseError):
        call()
    assert len(responder.seen) == 1


def _list_reply(jobs):
    return (200, {"Content-Type": "application/json"},
            json.dumps({"retcode": 0, "data": {"count": len(jobs), "jobs": jobs}}).encode())


def _job(job_id, marker=None, create_time=None):
    conf = dict(CONF, airflow={"marker": marker}) if marker else dict(CONF)
    return {"job_id": job_id, "role": "guest", "party_id": 9999, "status": "waiting",
            "create_time": create_time or int(time.time() * 1000), "runtime_conf": conf}


def test_submit_lost_answer_found_by_marker(responder, make_client):
    responder.queue(
        (502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"),  # the proxy lost the answer
        _list_reply([]),  # the server is still writing the job
        _list_reply([_job("other", "someone-else"), _job("202611281256331565470", "m-1")]),
    )
    client = make_client(board_url="http://board:8080")
    result = client.job.submit(CONF, DSL, marker="m-1")
    assert result.recovered and result.job_id == "202611281256331565470" and result.marker == "m-1"
    assert result.board_url == ("http://board:8080/index.html#/dashboard?job_id=202611281256331565470"
                                "&role=guest&party_id=9999")
    submit, first_list = (json.loads(s["body"]) for s in responder.seen[:2])
    assert submit["job_runtime_conf"]["airflow"] == {"marker": "m-1"}
    assert [s["path"] for s in responder.seen] == ["/v1/job/submit", "/v1/job/list/job", "/v1/job/list/job"]
    assert first_list == {"limit": 50, "page": 1, "order_by": "create_time", "order": "desc", "role": "guest",
                          "party_id": 9999}
    assert sum(1 for s in responder.seen if s["path"] == "/v1/job/submit") == 1, "never resubmitted"


def test_submit_lost_answer_not_found(responder, make_client):
    old = int(time.time() * 1000) - 3_600_000
    responder.queue((500, {"Content-Type": "text/html"}, b"oops"), _list_reply([_job("old", "m-2", old)]),
                    _list_reply([]))
    with pytest.raises(FateFlowAmbiguousSubmitError) as info:
        make_client().job.submit(CONF, DSL, marker="m-2")
    assert "may or may not exist" in str(info.value) and info.value.marker == "m-2"


def test_submit_read_timeout_is_ambiguous(responder, make_client):
    responder.queue(lambda h: time.sleep(0.5), _list_reply([_job("j1", "m-3")]))
    client = make_client(read_timeout=0.2)
    assert client.job.submit(CONF, DSL, marker="m-3").job_id == "j1"


def test_submit_generates_marker(responder, make_client):
    responder.json({"retcode": 0, "jobId": "1", "data": {"job_id": "1", "model_info": {}, "board_url": "u"}})
    result = make_client().job.submit(CONF, DSL)
    assert len(result.marker) == 32 and json.loads(responder.seen[0]["body"])["job_runtime_conf"]["airflow"]["marker"] == result.marker


def test_upload_lost_answer_matched_by_table(responder, make_client, tmp_path):
    now = int(time.time() * 1000)
    upload_conf = {"component_parameters": {"role": {"local": {"0": {"upload_0": {"namespace": "ns", "table_name": "t"}}}}}}
    jobs = [
        {"job_id": "u2", "role": "local", "party_id": 0, "create_time": now,
         "runtime_conf": {"component_parameters": {"role": {"local": {"0": {"upload_0": {"namespace": "ns", "table_name": "other"}}}}}}},
        {"job_id": "u1", "role": "local", "party_id": 0, "create_time": now, "runtime_conf": upload_conf},
    ]
    responder.queue((504, {"Content-Type": "text/html"}, b"<html>Gateway Timeout</html>"), _list_reply(jobs))
    f = tmp_path / "t.csv"
    f.write_text("id,x\n1,2\n")
    result = make_client().data.upload({"namespace": "ns", "table_name": "t", "file": str(f), "head": 1, "partition": 1})
    assert result.job_id == "u1" and result.recovered
    assert sum(1 for s in responder.seen if s["path"].startswith("/v1/data/upload")) == 1
    assert json.loads(responder.seen[1]["body"])["role"] == "local"


def test_connect_refused_create_call_is_resent_safely():
    """Nothing left the machine: resending cannot duplicate."""
    from airflow_provider_fateflow.client.calls import ApiCall
    from airflow_provider_fateflow.client.errors import FateFlowConnectionError
    from airflow_provider_fateflow.client.retry import should_retry

    call = ApiCall("job.submit", "job/submit")
    assert should_retry(call, FateFlowConnectionError("refused", request_sent=False))
    assert not should_retry(call, FateFlowConnectionError("reset", request_sent=True))
