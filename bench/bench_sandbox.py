"""Benchmark: job/query throughput of the sandbox with 1,000 running jobs (not a test).

Starts the sandbox in a child process with a slow pace (jobs stay ``running``), submits 1,000 toy jobs, then
sends ``job/query`` for random jobs from ``--threads`` client threads (one keep-alive ``requests`` session
each) for ``--seconds`` and counts the answers that say ``running``: requests per second, and the server's RSS
before and after. The clients share the machine's cores with the server, so this is the throughput a test
suite or a triggerer on the same machine gets, not the server's ceiling.

``main(argv) -> dict`` returns the figures and writes ``bench/out/sandbox.json`` (git-ignored).

Usage: ``.venv/bin/python bench/bench_sandbox.py [--jobs 1000] [--seconds 10] [--threads 4] [--state-dir DIR]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EXAMPLES, OUT, target  # noqa: E402

TITLE = "The sandbox: `job/query` with 1,000 running jobs"


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(jobs: int, seconds: float, threads: int, state_dir: str | None) -> dict[str, Any]:
    import requests

    from airflow_provider_fateflow.testing import FateFlowSandbox

    conf = json.loads((EXAMPLES / "toy_example_conf.json").read_text())
    dsl = json.loads((EXAMPLES / "toy_example_dsl.json").read_text())
    state = state_dir or tempfile.mkdtemp(prefix="bench-sandbox-")
    sb = FateFlowSandbox(subprocess=True, pace=3600.0, state_dir=state)
    sb.start()
    try:
        s = requests.Session()
        t0 = time.time()
        ids = [s.post(f"{sb.base_url}/v1/job/submit", json={"job_runtime_conf": conf, "job_dsl": dsl}).json()["jobId"]
               for _ in range(jobs)]
        submit_s = time.time() - t0
        time.sleep(1.0)
        running = len(s.post(f"{sb.base_url}/v1/job/list/job",
                             json={"limit": 0, "status": "running"}).json()["data"]["jobs"])
        pid = sb._proc.pid if sb._proc else os.getpid()
        rss_before = rss_mb(pid)
        count = [0] * threads
        errors = [0] * threads
        stop_at = time.time() + seconds

        def worker(i: int) -> None:
            sess = requests.Session()
            rnd = random.Random(i)
            while time.time() < stop_at:
                r = sess.post(f"{sb.base_url}/v1/job/query",
                              json={"job_id": rnd.choice(ids), "role": "guest", "party_id": 9999})
                if r.status_code == 200 and r.json()["data"][0]["f_status"] == "running":
                    count[i] += 1
                else:
                    errors[i] += 1

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        t1 = time.time()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        elapsed = time.time() - t1
        rss_after = rss_mb(pid)
    finally:
        sb.stop()
        if state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
    return {"when": dt.datetime.now().isoformat(timespec="seconds"), "jobs": jobs, "running_job_rows": running,
            "submit_s": round(submit_s, 2), "query_requests": sum(count), "errors": sum(errors),
            "seconds": round(elapsed, 2), "req_per_s": round(sum(count) / elapsed, 1),
            "server_rss_mb_before": round(rss_before, 1), "server_rss_mb_after": round(rss_after, 1),
            "client_threads": threads, "cpus": os.cpu_count()}


def targets(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        target(f"sandbox: `job/query` per second with {f['jobs']:,} running jobs", f"{f['req_per_s']:.0f}/s", "-",
               None, f"{f['client_threads']} client threads on the same {f['cpus']} cores; {f['errors']} errors"),
    ]


def markdown(f: dict[str, Any]) -> str:
    return "\n".join([
        f"{f['jobs']:,} toy jobs submitted ({f['submit_s']} s) and kept `running` ({f['running_job_rows']} job rows, "
        f"guest and host); {f['client_threads']} client threads (keep-alive `requests` sessions) on the same "
        f"{f['cpus']} cores as the server query random jobs for {f['seconds']} s.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| **`job/query` per second** | **{f['req_per_s']:.0f}** |",
        f"| requests answered `running` / errors | {f['query_requests']} / {f['errors']} |",
        f"| server RSS before / after | {f['server_rss_mb_before']} / {f['server_rss_mb_after']} MB |",
        "",
    ])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and return its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--state-dir", default=None, help="sqlite on disk (default: a temporary directory)")
    args = ap.parse_args([] if argv is None else argv)
    figures = run(args.jobs, args.seconds, args.threads, args.state_dir)
    figures["targets"] = targets(figures)
    print(markdown(figures))
    OUT.mkdir(exist_ok=True)
    (OUT / "sandbox.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
