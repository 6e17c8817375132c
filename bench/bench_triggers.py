"""Benchmark: many JobStatusTriggers in one event loop against the sandbox (not a test; prints figures).

Scenario (defaults): 1,000 FATE jobs, each finishing at a random time within two minutes (10% of them
fail); one JobStatusTrigger per job, all started at once in one asyncio loop, polling every 5 s.
The sandbox runs in a child process, so the figures are the triggers' own.

Measured:
- every trigger yields exactly one event, with the right status;
- HTTP requests per trigger per poll interval (the most any trigger sent in one interval);
- peak memory growth of this process (RSS, sampled every 100 ms) over the baseline with everything imported;
- CPU time of this process per poll (process CPU / number of polls);
- the longest time the event loop was late (a watchdog sleeping 10 ms).

Usage: ``python bench/bench_triggers.py [--count 1000] [--spread 120] [--poll 5]``
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT.parent / "shared" / "fateflow-v1" / "examples"


def _conf(seconds: float, fail: str | None) -> dict:
    conf = json.loads((EXAMPLES / "toy_example_conf.json").read_text())
    behave: dict = {"seconds": seconds}
    if fail:
        behave["fail"] = fail
    conf["component_parameters"]["common"]["secure_add_example_0"]["sandbox"] = behave
    return conf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=120.0, help="jobs end within this many seconds")
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval of the triggers (s)")
    parser.add_argument("--fail-share", type=float, default=0.1)
    args = parser.parse_args()

    import psutil

    from airflow_provider_fateflow.testing import FateFlowSandbox

    proc = psutil.Process()
    with FateFlowSandbox(pace=0.0, subprocess=True) as sb:
        os.environ["AIRFLOW_CONN_FATEFLOW_DEFAULT"] = json.dumps({
            "conn_type": "fateflow", "host": "127.0.0.1", "port": sb.port,
            "extra": {"initiator_role": "guest", "initiator_party_id": 9999, "board_url": "http://board:8080"}})
        from airflow_provider_fateflow.client.aio import AsyncTransport
        from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
        from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger

        rng = random.Random(42)
        dsl = json.loads((EXAMPLES / "toy_example_dsl.json").read_text())
        hook = FateFlowHook()
        expected: dict[str, str] = {}
        t_submit = time.monotonic()
        for i in range(args.count):
            fail = "bench failure" if rng.random() < args.fail_share else None
            job_id = hook.job.submit(_conf(rng.uniform(1.0, args.spread), fail), dsl).job_id
            expected[job_id] = "failed" if fail else "success"
        submit_s = time.monotonic() - t_submit
        print(f"submitted {args.count} jobs in {submit_s:.1f} s", flush=True)

        calls: dict[str, list[float]] = defaultdict(list)
        original = AsyncTransport.arun

        async def counting(self, call):  # noqa: ANN001
            body = call.json if isinstance(call.json, dict) else {}
            calls[str(body.get("job_id"))].append(time.monotonic())
            return await original(self, call)

        AsyncTransport.arun = counting  # type: ignore[method-assign]

        # warm up (first connection lookup, shared TLS context, imports), then take the baselines
        async def warm() -> None:
            await (await JobStatusTrigger(job_id="0")._client()).aclose()

        asyncio.run(warm())
        gc.collect()
        gc.freeze()
        rss0 = proc.memory_info().rss
        peak = [rss0]
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.is_set():
                peak[0] = max(peak[0], proc.memory_info().rss)
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu0 = proc.cpu_times()

        async def run_all():
            lags: list[float] = []
            done = asyncio.Event()

            async def watchdog() -> None:
                while not done.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    lags.append(time.perf_counter() - t - 0.01)

            async def one(job_id: str):
                trigger = JobStatusTrigger(job_id=job_id, role="guest", party_id=9999, poll_interval=args.poll)
                return job_id, [e.payload async for e in trigger.run()]

            dog = asyncio.ensure_future(watchdog())
            t0 = time.monotonic()
            results = await asyncio.gather(*[one(j) for j in expected])
            wall = time.monotonic() - t0
            done.set()
            await dog
            return results, lags, wall

        results, lags, wall = asyncio.run(run_all())
        cpu1 = proc.cpu_times()
        stop_sampling.set()
        sampler.join()
        gc.unfreeze()
        AsyncTransport.arun = original  # type: ignore[method-assign]

    wrong = [(j, ev) for j, ev in results if len(ev) != 1 or ev[0]["status"] != expected[j]]
    polls = sum(len(calls[j]) for j in expected)
    # the most requests one trigger sent within any window of one poll interval (minus a 1% timer slack)
    worst_window = 0
    for j in expected:
        times = calls[j]
        k = 0
        for i, t in enumerate(times):
            while times[k] < t - args.poll * 0.99:
                k += 1
            worst_window = max(worst_window, i - k + 1)
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    figures = {
        "triggers": args.count,
        "poll_interval_s": args.poll,
        "wall_s": round(wall, 1),
        "wrong_or_missing_events": len(wrong),
        "events": {s: sum(1 for _, ev in results if ev and ev[0]["status"] == s) for s in ("success", "failed")},
        "requests_total": polls,
        "max_requests_per_trigger_per_interval": worst_window,
        "peak_rss_growth_mb": round((peak[0] - rss0) / 2**20, 1),
        "cpu_s": round(cpu, 2),
        "cpu_user_s": round(cpu1.user - cpu0.user, 2),
        "cpu_system_s": round(cpu1.system - cpu0.system, 2),
        "cpu_ms_per_poll": round(1000 * cpu / max(polls, 1), 3),
        "max_loop_lag_ms": round(1000 * max(lags), 1),
        "p99_loop_lag_ms": round(1000 * sorted(lags)[int(len(lags) * 0.99)], 1),
    }
    print(json.dumps(figures, indent=2))
    ok = (not wrong and worst_window <= 1 and figures["peak_rss_growth_mb"] <= 150
          and figures["cpu_ms_per_poll"] <= 1.0 and figures["max_loop_lag_ms"] <= 50)
    print("PASS" if ok else "FAIL", file=sys.stderr)
    if wrong:
        print("first wrong events:", wrong[:3], file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
