"""Async client (same builders/parsers as sync) and streamed uploads/downloads over loopback."""
from __future__ import annotations

import asyncio
import io
import json
import tarfile
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_fateflow.client import (
    ClientConfig,
    FateFlowApiError,
    FateFlowConnectionError,
    FateFlowNotFoundError,
    RetryPolicy,
)
from airflow_provider_fateflow.client.aio import AsyncFateFlowClient, AsyncTransport

JOB = {"f_job_id": "1", "f_role": "guest", "f_party_id": "9999", "f_status": "success"}


def _async_client(port: int, sleeps: list[float], **kw) -> AsyncFateFlowClient:
    config = ClientConfig("127.0.0.1", port, retry=RetryPolicy(attempts=3, min_delay=0, max_delay=0, jitter=False), **kw)

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    return AsyncFateFlowClient(config, transport=AsyncTransport(config, sleep=fake_sleep))


def test_async_query_retry_and_stop(responder):
    responder.queue((503, {"Retry-After": "3", "Content-Type": "text/html"}, b"busy"))
    responder.json({"retcode": 0, "data": [JOB]})
    responder.json({"retcode": 0, "retmsg": "stop job on this party success"})
    responder.queue((500, {"Content-Type": "text/html"}, b"x"))
    responder.json({"retcode": 101, "retmsg": "find task failed"})
    sleeps: list[float] = []

    async def main():
        async with _async_client(responder.port, sleeps, app_key="ak", secret_key="sk") as client:
            [job] = await client.job.query("1", "guest", 9999)
            assert job.status.is_success
            assert "success" in await client.job.stop("1")
            with pytest.raises(Exception) as info:
                await client.job.stop("1")  # never repeated
            assert info.value.transient
            assert await client.task.query("1") == []

    asyncio.run(main())
    assert sleeps == [3.0]
    assert [s["path"] for s in responder.seen] == ["/v1/job/query"] * 2 + ["/v1/job/stop"] * 2 + ["/v1/job/task/query"]
    assert "SIGNATURE" in responder.seen[0]["headers"]


def test_async_errors_match_sync(responder):
    responder.json({"retcode": 102, "retmsg": "can not found job"})

    async def main():
        async with _async_client(responder.port, []) as client:
            with pytest.raises(FateFlowNotFoundError):
                await client.job.stop("nope")

    asyncio.run(main())


def test_streamed_multipart_upload(responder, make_client, tmp_path, monkeypatch):
    f = tmp_path / "host.csv"
    f.write_bytes(b"id,x\n" + b"1,2\n" * 100_000)
    responder.json({"retcode": 0, "jobId": "7", "data": {"job_id": "7", "code": 0, "namespace": "ns", "table_name": "t",
                                                          "board_url": "http://127.0.0.1:8080/x"}})
    monkeypatch.chdir(tmp_path)
    client = make_client(board_url="http://board:8080")
    result = client.data.upload({"namespace": "ns", "table_name": "t", "file": "host.csv", "head": 1, "partition": 4})
    assert result.job_id == "7" and result.board_url.startswith("http://board:8080/index.html#/dashboard?job_id=7&role=local")
    seen = responder.seen[0]
    conf = json.loads(unquote(urlsplit(seen["path"]).query))
    assert conf["file"] == str(f) and conf["drop"] == 0 and conf["verbose"] == 0
    assert seen["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(seen["headers"]["Content-Length"]) == len(seen["body"]) > f.stat().st_size
    assert f.read_bytes() in seen["body"] and b'name="file"; filename="host.csv"' in seen["body"]


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_log_download_streams_and_extracts(responder, make_client, tmp_path):
    body = _tar_bytes({"guest/9999/INFO.log": b"hello", "fate_flow_schedule.log": b"s"})
    responder.queue((200, {"Content-Type": "application/x-tar",
                           "Content-Disposition": "attachment; filename=job_1_log.tar.gz"}, body))
    out = make_client().job.log("1", tmp_path)
    assert out == tmp_path / "job_1_log" and (out / "guest/9999/INFO.log").read_bytes() == b"hello"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job_1_log"], "archive and temp dir removed"


def test_download_route_answering_json_is_an_error(responder, make_client, tmp_path):
    responder.json({"retcode": 100, "retmsg": "ValueError(\"no found task\")"})
    with pytest.raises(FateFlowNotFoundError):
        make_client().component.output_data("1", "guest", 9999, "c", tmp_path)
    responder.json({"retcode": 0, "data": {}})
    with pytest.raises(Exception, match="expected a file attachment"):
        make_client().job.log("1", tmp_path / "x")
    assert not (tmp_path / "x" / "job_1_log").exists()


def test_unsafe_log_archive_leaves_nothing(responder, make_client, tmp_path):
    responder.queue((200, {"Content-Type": "application/x-tar", "Content-Disposition": "attachment; filename=l.tar.gz"},
                     _tar_bytes({"../../escape.txt": b"x"})))
    with pytest.raises(Exception, match="escapes"):
        make_client().job.log("1", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and list((tmp_path / "out").iterdir()) == []


def test_model_load_failure_carries_party_detail(responder, make_client):
    responder.json({"retcode": 101, "retmsg": "failed", "jobId": "j",
                    "data": {"guest": {"9999": 100}, "detail": {"guest": {"9999": {"retcode": 100, "retmsg": "Please configure servings address"}}}}})
    with pytest.raises(FateFlowApiError) as info:
        make_client().model.load(job_id="v")
    assert "guest 9999: Please configure servings address" in str(info.value)


def _slow_archive(delay: float, body: bytes):
    """A reply that stays silent for ``delay`` seconds (FATE building the archive), then sends it."""

    def reply(h) -> None:
        import time

        time.sleep(delay)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/x-tar")
            h.send_header("Content-Disposition", "attachment; filename=t.tar.gz")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (the timeout case)
            h.close_connection = True

    return reply


def test_file_answers_wait_for_download_timeout_not_read_timeout(responder, make_client, tmp_path):
    """The server builds the archive before its first byte: a download outlives read_timeout."""
    from airflow_provider_fateflow.client import FateFlowTimeoutError

    archive = _tar_bytes({"table.csv": b"id,x\n1,2\n"})
    responder.queue(_slow_archive(0.6, archive))
    client = make_client(read_timeout=0.2, download_timeout=3.0, retry=RetryPolicy(attempts=1))
    out = client.table.download("ns", "t", tmp_path)
    assert (out / "table.csv").read_bytes() == b"id,x\n1,2\n"
    responder.queue(_slow_archive(0.6, archive))
    client = make_client(read_timeout=0.2, download_timeout=0.3, retry=RetryPolicy(attempts=1))
    with pytest.raises(FateFlowTimeoutError, match="read timeout"):
        client.table.download("ns", "t", tmp_path / "again")
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())


def test_unpacked_size_cap_is_configurable(responder, make_client, tmp_path):
    from airflow_provider_fateflow.client import FateFlowArchiveError, FateFlowInputError

    archive = _tar_bytes({"table.csv": b"x" * 5000})
    responder.queue((200, {"Content-Type": "application/x-tar", "Content-Disposition": "attachment; filename=t.tar.gz"},
                     archive))
    with pytest.raises(FateFlowArchiveError, match="larger than 4096 bytes .*raise max_extract_bytes"):
        make_client(max_extract_bytes=4096).table.download("ns", "t", tmp_path / "a")
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    for _ in range(2):
        responder.queue((200, {"Content-Type": "application/x-tar",
                               "Content-Disposition": "attachment; filename=t.tar.gz"}, archive))
    with pytest.raises(FateFlowArchiveError, match="larger than 4096 bytes"):  # the per-call cap wins
        make_client().table.download("ns", "t", tmp_path / "b", max_bytes=4096)
    out = make_client(max_extract_bytes=4096).table.download("ns", "t", tmp_path / "c", max_bytes=8192)
    assert (out / "table.csv").stat().st_size == 5000
    sent = len(responder.seen)
    with pytest.raises(FateFlowInputError, match="max_bytes must be a positive number of bytes, not 0"):
        make_client().table.download("ns", "t", tmp_path / "d", max_bytes=0)
    assert len(responder.seen) == sent, "refused before any request"


def _cut_archive(body: bytes):
    """A reply that announces the whole archive, sends a tenth of it and closes the connection."""

    def reply(h) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/x-tar")
        h.send_header("Content-Disposition", "attachment; filename=t.tar.gz")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 10])
        h.wfile.flush()
        h.close_connection = True

    return reply


@pytest.mark.parametrize("urllib3_read1", [True, False], ids=["read1", "iter_content"])
def test_a_download_cut_off_is_retried_and_leaves_nothing(responder, make_client, tmp_path, monkeypatch,
                                                           urllib3_read1):
    import os

    from urllib3 import response as uresponse

    if not urllib3_read1:  # urllib3 < 2.3 has no read1: the transport falls back to iter_content
        monkeypatch.delattr(uresponse.HTTPResponse, "read1")
        monkeypatch.delattr(uresponse.BaseHTTPResponse, "read1")
    archive = _tar_bytes({"table.csv": os.urandom(200_000)})
    responder.queue(_cut_archive(archive))
    responder.queue((200, {"Content-Type": "application/x-tar", "Content-Disposition": "attachment; filename=t.tar.gz"},
                     archive))
    client = make_client()
    out = client.table.download("ns", "t", tmp_path)
    assert (out / "table.csv").stat().st_size == 200_000
    assert len(responder.seen) == 2 and client.sleeps == [0.0], "one immediate retry of the cut-off answer"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name], "no partial file left behind"
    responder.queue(_cut_archive(archive), _cut_archive(archive), _cut_archive(archive))
    with pytest.raises(FateFlowConnectionError, match="answer cut off"):
        client.table.download("ns", "t", tmp_path / "again")
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())
