"""Benchmark: what the hook costs per call on top of what it wraps, next to the official SDK (not a test).

Per-call cost of ``job.query``, ``job.list`` and ``table.info`` against the sandbox (in a child process, so
the server does not share the client's GIL), through three clients side by side in one run:
the hook (``hook.job.query(job_id=...)``, ``hook.job.list(limit=10)``, ``hook.table.info(ns, name)``),
a bare keep-alive ``requests.Session().post(url, json=...).json()`` of the same request, and the official
FATE SDK (``flow_sdk.FlowClient`` from ``fate-client==1.11.2``, ``urllib3<2``) in its own virtual
environment (``.venv-fate-client``, built as ``tests/sdk`` builds it), driven as a subprocess
(``bench/_sdk_percall.py``) that times its own batches. Every round times one batch of ``--calls`` calls
per client and operation, the order of the clients rotating between rounds; reported are the medians over
``--rounds`` rounds of the per-call wall time (and client CPU time) and their ratios. All three are checked
to send the same method, path and JSON body. Targets: hook / bare requests <= 1.15, hook faster than the
SDK. A fourth, informative client is a bare session with ``trust_env = False`` (it resolves proxies and the
CA bundle once, as the hook does), so that ratio shows the cost of the hook's own layers.

The import cost of the public modules is measured by ``bench/bench_parsing.py``.

``main(argv) -> dict`` returns the figures (``bench/run.py`` collects them into BENCHMARKS.md) and writes
``bench/out/hook.json`` (git-ignored).

Usage: ``.venv/bin/python bench/bench_hook.py [--rounds 15] [--calls 100] [--no-sdk]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from _common import EXAMPLES, OUT, target  # noqa: E402

TITLE = "Per call: hook, bare `requests` and the official SDK"
QUERY_TARGET = 1.15


# -- per-call cost ---------------------------------------------------------------------------------------------

#: The operations measured, and the JSON body each sends (the same request from all three clients).
OPS = ("job.query", "job.list", "table.info")
#: Paths timed side by side; "requests_no_env" is informative (a bare session that, like the hook, resolves
#: proxies and the CA bundle once instead of on every request).
PATHS = ("hook", "requests", "sdk", "requests_no_env")
TABLE = ("experiment", "bench_hook_table")


def _batch(fn: Any, calls: int) -> tuple[float, float]:
    """Per-call wall and CPU seconds of ``calls`` calls of ``fn``."""
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall0) / calls, (time.process_time() - cpu0) / calls


class _Sdk:
    """The official SDK's driver (``bench/_sdk_percall.py``) in its own venv, one JSON line per command."""

    def __init__(self, python: Path) -> None:
        self.proc = subprocess.Popen([str(python), str(Path(__file__).with_name("_sdk_percall.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())

    def ask(self, **msg: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK driver exited (status {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _sniff(session: Any, fn: Any) -> dict[str, Any]:
    """Method, path and JSON body of the one request ``fn()`` sends through ``session``."""
    sent: list[dict[str, Any]] = []
    send = session.send

    def recording(prepped: Any, **kw: Any) -> Any:
        sent.append({"method": prepped.method, "path": prepped.path_url,
                     "body": json.loads(prepped.body) if prepped.body else None})
        return send(prepped, **kw)

    session.send = recording
    try:
        fn()
    finally:
        del session.send
    return sent[-1]


def _setup_sandbox(sb: Any, bare: Any) -> str:
    """Six finished toy jobs (job.list has ten rows to list) and one uploaded table; the first job's id."""
    conf = json.loads((EXAMPLES / "toy_example_conf.json").read_text())
    dsl = json.loads((EXAMPLES / "toy_example_dsl.json").read_text())
    ids = [bare.post(f"{sb.base_url}/v1/job/submit", json={"job_runtime_conf": conf, "job_dsl": dsl},
                     timeout=30).json()["jobId"] for _ in range(6)]
    upload = {"file": str(EXAMPLES / "guest.csv"), "use_local_data": 0, "head": 1, "partition": 4,
              "namespace": TABLE[0], "table_name": TABLE[1], "drop": 1}
    ids.append(bare.post(f"{sb.base_url}/v1/data/upload", json=upload, timeout=30).json()["jobId"])
    deadline = time.monotonic() + 60
    for job_id in ids:
        while bare.post(f"{sb.base_url}/v1/job/query", json={"job_id": job_id},
                        timeout=30).json()["data"][0]["f_status"] != "success":
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not finish")
            time.sleep(0.05)
    return ids[0]


def bench_percall(rounds: int = 15, calls: int = 100, sdk: bool = True) -> dict[str, Any]:
    """Interleaved batches of the hook, bare ``requests`` and the official SDK against a child-process sandbox.

    Every round times one batch of ``calls`` calls per path for each operation; the order of the paths rotates
    between rounds. The SDK's batches are timed inside its own interpreter (``bench/_sdk_percall.py``).
    """
    import requests

    from airflow_provider_fateflow.testing import FateFlowSandbox

    sdk_driver = None
    with FateFlowSandbox(subprocess=True, pace=0.0) as sb:
        bare = requests.Session()
        job_id = _setup_sandbox(sb, bare)
        os.environ["AIRFLOW_CONN_FATEFLOW_BENCH"] = json.dumps(
            {"conn_type": "fateflow", "host": sb.host, "port": sb.port,
             "extra": {"initiator_role": "guest", "initiator_party_id": "9999"}})
        from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

        hook = FateFlowHook("fateflow_bench")
        no_env = requests.Session()
        no_env.trust_env = False
        bodies = {"job.query": {"job_id": job_id}, "job.list": {"limit": 10},
                  "table.info": {"namespace": TABLE[0], "table_name": TABLE[1]}}
        urls = {"job.query": f"{sb.base_url}/v1/job/query", "job.list": f"{sb.base_url}/v1/job/list/job",
                "table.info": f"{sb.base_url}/v1/table/table_info"}

        def bare_call(session: Any, op: str) -> Any:
            url, body = urls[op], bodies[op]
            return lambda: session.post(url, json=body).json()

        fns: dict[str, dict[str, Any]] = {
            "hook": {"job.query": lambda: hook.job.query(job_id=job_id), "job.list": lambda: hook.job.list(limit=10),
                     "table.info": lambda: hook.table.info(*TABLE)},
            "requests": {op: bare_call(bare, op) for op in OPS},
            "requests_no_env": {op: bare_call(no_env, op) for op in OPS},
        }
        # every path sends the same request and gets a successful answer
        requests_sent: dict[str, dict[str, Any]] = {op: {} for op in OPS}
        answers: dict[str, Any] = {}
        for op in OPS:
            requests_sent[op]["hook"] = _sniff(hook.client.transport.session, fns["hook"][op])
            requests_sent[op]["requests"] = _sniff(bare, fns["requests"][op])
            answers[op] = fns["hook"][op]()
            assert fns["requests"][op]()["retcode"] == 0, op
        assert len(answers["job.query"]) == 2, "the toy job has a guest and a host row"
        assert len(answers["job.list"].jobs) == 10 and answers["table.info"].exists, answers
        sdk_versions: dict[str, str] = {}
        paths = [p for p in PATHS if p != "sdk" or sdk]
        if sdk:
            python = _common.sdk_python()
            sdk_versions = _common.package_versions(python, ("fate-client", "requests", "urllib3"))
            sdk_driver = _Sdk(python)
            sdk_driver.ask(cmd="setup", host=sb.host, port=sb.port, job_id=job_id, namespace=TABLE[0],
                           table_name=TABLE[1])
            for op, sent in sdk_driver.ask(cmd="sniff").items():
                assert sent.pop("retcode") == 0, (op, sent)
                requests_sent[op]["sdk"] = sent
            fns["sdk"] = {op: (lambda op=op: sdk_driver.ask(cmd="batch", op=op, calls=calls)) for op in OPS}
        same_request = all(len({json.dumps(s, sort_keys=True) for s in per.values()}) == 1
                           for per in requests_sent.values())
        try:
            for _ in range(3):  # warm the connections and code paths
                for path in paths:
                    for op in OPS:
                        if path == "sdk":
                            fns[path][op]()
                        else:
                            _batch(fns[path][op], 20)
            samples: dict[str, dict[str, list[tuple[float, float]]]] = {
                op: {p: [] for p in paths} for op in OPS}
            for r in range(rounds):
                order = paths[r % len(paths):] + paths[:r % len(paths)]  # rotate the order between rounds
                for op in OPS:
                    for path in order:
                        if path == "sdk":
                            got = fns[path][op]()
                            samples[op][path].append((got["wall"], got["cpu"]))
                        else:
                            samples[op][path].append(_batch(fns[path][op], calls))
        finally:
            if sdk_driver is not None:
                sdk_driver.close()
            hook.close()
            bare.close()
            no_env.close()

    out: dict[str, Any] = {"rounds": rounds, "calls_per_batch": calls, "paths": paths,
                           "same_request_from_every_path": same_request, "requests_sent": requests_sent,
                           "sdk_versions": sdk_versions, "ops": {}}
    for op in OPS:
        s = samples[op]
        med = {p: {"ms": round(statistics.median(x[0] for x in s[p]) * 1e3, 4),
                   "cpu_ms": round(statistics.median(x[1] for x in s[p]) * 1e3, 4)} for p in paths}
        per_round = [h[0] / b[0] for h, b in zip(s["hook"], s["requests"])]
        row: dict[str, Any] = {
            "median": med,
            "hook_vs_requests": round(med["hook"]["ms"] / med["requests"]["ms"], 3),
            "hook_vs_requests_per_round_median": round(statistics.median(per_round), 3),
            "hook_vs_requests_per_round_range": [round(min(per_round), 3), round(max(per_round), 3)],
            "hook_vs_requests_no_env": round(med["hook"]["ms"] / med["requests_no_env"]["ms"], 3),
        }
        if "sdk" in paths:
            row["hook_vs_sdk"] = round(med["hook"]["ms"] / med["sdk"]["ms"], 3)
            row["sdk_vs_requests"] = round(med["sdk"]["ms"] / med["requests"]["ms"], 3)
        out["ops"][op] = row
    return out

# -- report ------------------------------------------------------------------------------------------------------


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Target rows: hook / requests and hook / SDK per operation."""
    rows = []
    p = figures.get("percall")
    if p:
        for op, r in p["ops"].items():
            rows.append(target(f"`{op}`: hook / bare requests", f"{r['hook_vs_requests']:.3f}x",
                               f"<= {QUERY_TARGET}x", r["hook_vs_requests"] <= QUERY_TARGET,
                               f"{r['median']['hook']['ms']:.3f} vs {r['median']['requests']['ms']:.3f} ms/call"))
            if "hook_vs_sdk" in r:
                rows.append(target(f"`{op}`: hook / official SDK", f"{r['hook_vs_sdk']:.3f}x", "< 1x (faster)",
                                   r["hook_vs_sdk"] < 1.0,
                                   f"{r['median']['hook']['ms']:.3f} vs {r['median']['sdk']['ms']:.3f} ms/call"))
    return rows


def markdown(figures: dict[str, Any]) -> str:
    """The figures as Markdown tables (used by bench/run.py for BENCHMARKS.md)."""
    lines: list[str] = []
    p = figures.get("percall")
    if p:
        names = {"hook": "hook", "requests": "bare `requests`", "sdk": "official SDK",
                 "requests_no_env": "bare `requests`, `trust_env = False`"}
        v = p.get("sdk_versions") or {}
        lines += [
            f"Sandbox in a child process; {p['rounds']} rounds, each one batch of {p['calls_per_batch']} calls per "
            "client and operation, the order of the clients rotating; medians over rounds (ms per call; client CPU "
            "in parentheses). Same request from every client: "
            f"{'yes' if p['same_request_from_every_path'] else 'NO'} (method, path and JSON body compared)."
            + (f" SDK: fate-client {v.get('fate-client')}, requests {v.get('requests')}, urllib3 {v.get('urllib3')}, "
               "in `.venv-fate-client`, timed inside its own interpreter." if v else ""),
            "",
            "| operation | " + " | ".join(names[x] for x in p["paths"]) + " | hook / requests | hook / SDK |",
            "|---|" + "---|" * (len(p["paths"]) + 2),
        ]
        for op, r in p["ops"].items():
            cells = [f"{r['median'][x]['ms']:.3f} ({r['median'][x]['cpu_ms']:.3f})" for x in p["paths"]]
            ratio = (f"**{r['hook_vs_requests']:.3f}x** (rounds: median {r['hook_vs_requests_per_round_median']:.3f}, "
                     f"{r['hook_vs_requests_per_round_range'][0]:.2f}-{r['hook_vs_requests_per_round_range'][1]:.2f})")
            sdk = f"**{r['hook_vs_sdk']:.3f}x**" if "hook_vs_sdk" in r else "-"
            lines.append(f"| `{op}` | " + " | ".join(cells) + f" | {ratio} | {sdk} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the measurement, print the table, write ``bench/out/hook.json``; return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--no-sdk", action="store_true", help="leave the official SDK out")
    args = ap.parse_args([] if argv is None else argv)
    home = _common.airflow_home()
    try:
        figures: dict[str, Any] = {"when": dt.datetime.now().isoformat(timespec="seconds"),
                                   "percall": bench_percall(args.rounds, args.calls, sdk=not args.no_sdk)}
    finally:
        if home is not None:
            home.cleanup()
    figures["targets"] = targets(figures)
    print(markdown(figures))
    OUT.mkdir(exist_ok=True)
    (OUT / "hook.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
