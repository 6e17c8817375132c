"""Benchmark: job/query throughput of the sandbox with 1,000 running jobs (not a test).

Starts the sandbox in a child process with a slow pace (jobs stay ``running``), submits
1,000 toy jobs, then hammers ``job/query`` from client threads for a bounded time and prints
requests/second and the server's RSS. Figures are appended to ``bench/out/bench_sandbox.jsonl``
and ``bench/out/bench_sandbox.md`` (the directory is git-ignored).

Usage: ``.venv/bin/python bench/bench_sandbox.py [--jobs 1000] [--seconds 10] [--threads 4] [--state-dir DIR]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import requests

from airflow_provider_fateflow.testing import FateFlowSandbox

EXAMPLES = Path("/work/shared/fateflow-v1/examples")
OUT = Path(__file__).parent / "out"


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Run the benchmark and record its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--state-dir", default=None, help="sqlite on disk (default: a temporary directory)")
    args = ap.parse_args()
    conf = json.loads((EXAMPLES / "toy_example_conf.json").read_text())
    dsl = json.loads((EXAMPLES / "toy_example_dsl.json").read_text())
    state = args.state_dir or tempfile.mkdtemp(prefix="bench-sandbox-")
    sb = FateFlowSandbox(subprocess=True, pace=3600.0, state_dir=state)
    sb.start()
    try:
        s = requests.Session()
        t0 = time.time()
        ids = []
        for _ in range(args.jobs):
            r = s.post(f"{sb.base_url}/v1/job/submit", json={"job_runtime_conf": conf, "job_dsl": dsl}).json()
            ids.append(r["jobId"])
        submit_s = time.time() - t0
        time.sleep(1.0)
        running = sum(1 for r in s.post(f"{sb.base_url}/v1/job/list/job",
                                        json={"limit": 0, "status": "running"}).json()["data"]["jobs"])
        pid = sb._proc.pid if sb._proc else os.getpid()
        rss_before = rss_mb(pid)
        count = [0] * args.threads
        errors = [0] * args.threads
        stop_at = time.time() + args.seconds

        def worker(i: int) -> None:
            sess = requests.Session()
            rnd = random.Random(i)
            while time.time() < stop_at:
                jid = rnd.choice(ids)
                r = sess.post(f"{sb.base_url}/v1/job/query",
                              json={"job_id": jid, "role": "guest", "party_id": 9999})
                if r.status_code == 200 and r.json()["data"][0]["f_status"] == "running":
                    count[i] += 1
                else:
                    errors[i] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
        t1 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t1
        rss_after = rss_mb(pid)
        fig = {"when": dt.datetime.now().isoformat(timespec="seconds"), "jobs": args.jobs,
               "running_job_rows": running, "submit_s": round(submit_s, 2),
               "query_requests": sum(count), "errors": sum(errors), "seconds": round(elapsed, 2),
               "req_per_s": round(sum(count) / elapsed, 1), "server_rss_mb_before": round(rss_before, 1),
               "server_rss_mb_after": round(rss_after, 1), "client_threads": args.threads, "cpus": os.cpu_count()}
    finally:
        sb.stop()
    print(json.dumps(fig, indent=2))
    OUT.mkdir(exist_ok=True)
    (OUT / ".gitignore").write_text("*\n")
    with open(OUT / "bench_sandbox.jsonl", "a") as fh:
        fh.write(json.dumps(fig) + "\n")
    md = OUT / "bench_sandbox.md"
    if not md.exists():
        md.write_text("| when | jobs | running rows | req/s | errors | RSS MB (before/after) |\n|---|---|---|---|---|---|\n")
    with open(md, "a") as fh:
        fh.write(f"| {fig['when']} | {fig['jobs']} | {fig['running_job_rows']} | {fig['req_per_s']} | "
                 f"{fig['errors']} | {fig['server_rss_mb_before']}/{fig['server_rss_mb_after']} |\n")


if __name__ == "__main__":
    main()
