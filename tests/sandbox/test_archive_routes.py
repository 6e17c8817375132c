"""Archive routes (table download, output data, logs, model export) are built off the event loop."""
from __future__ import annotations

import io
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from airflow_provider_fateflow.testing import archives

from _sandbox_helpers import post, status


def test_a_slow_archive_build_does_not_stall_other_requests(sandbox, monkeypatch, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("id,x0\n1,0.5\n2,0.25\n")
    answer = post(sandbox, "data/upload", {"file": str(csv), "head": 1, "partition": 1, "namespace": "ns",
                                            "table_name": "t", "use_local_data": 0})
    assert answer["retcode"] == 0, answer
    deadline = time.monotonic() + 30
    while status(sandbox, answer["jobId"]) != "success":
        assert time.monotonic() < deadline, "upload job did not finish"
        time.sleep(0.05)

    entered, release = threading.Event(), threading.Event()
    build = archives.table_tar

    def held_build(*args, **kwargs):  # the archive build of a large table, held until the test lets it go
        entered.set()
        assert release.wait(30)
        return build(*args, **kwargs)

    monkeypatch.setattr(archives, "table_tar", held_build)
    with ThreadPoolExecutor(1) as pool:
        download = pool.submit(requests.get, f"{sandbox.base_url}/v1/table/download",
                               json={"namespace": "ns", "name": "t"}, timeout=60)
        try:
            assert entered.wait(10), "the download never reached the archive build"
            other = post(sandbox, "job/query", {"job_id": answer["jobId"]})  # answered during the build
            assert other["retcode"] == 0 and other["data"], other
            assert not download.done()
        finally:
            release.set()
        resp = download.result()
    assert resp.status_code == 200, resp.text
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        assert tar.extractfile("table.csv").read() == b"id,x0\n1,0.5\n2,0.25\n"
