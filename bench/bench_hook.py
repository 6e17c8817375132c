"""Benchmark: what the hook costs on top of what it wraps (not a test).

(a) Per-call cost of ``hook.job.query(job_id=...)`` against a bare ``requests.Session().post(url, json=...)``
    plus ``.json()`` of the same request, both on keep-alive sessions, against the sandbox running in a
    child process (so the server does not share this interpreter's GIL). The two are measured interleaved
    in one run: ``--rounds`` rounds, each timing one batch of ``--calls`` hook calls and one batch of bare
    calls, the order alternating between rounds. Reported: the median over rounds of the per-call wall time
    (and client CPU time) of each side, and their ratio. Target: hook / bare <= 1.15. A third, informative
    path is a bare session with ``trust_env = False``: the client resolves proxies and CA bundle once instead
    of on every request, so against that session the ratio shows the cost of the hook's own layers.

(b) Import cost of each public module on top of ``import airflow.sdk``. Method: for every module, fresh
    interpreters run ``python -X importtime -c "import airflow.sdk; import <module>"``; the cost is the sum
    of the ``self`` times of every module that ``python -X importtime -c "import airflow.sdk"`` alone does not
    load (so it includes whatever else of Airflow the module pulls in, e.g. ``airflow.triggers.base`` for the
    sensors and triggers), median of ``--import-runs`` interpreters. A cross-check measures the same increment
    without ``-X importtime`` (``perf_counter`` around ``import <module>`` after ``import airflow.sdk`` in a
    fresh interpreter), median of fewer runs.
    Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (warmed first), as an installed package would
    have it; nothing is written into the source tree. Target: <= 50 ms per module.

Prints a table and writes ``bench/out/hook.json`` (git-ignored). ``main() -> dict`` returns the figures
(``bench/run.py`` collects them into BENCHMARKS.md).

Usage: ``.venv/bin/python bench/bench_hook.py [--rounds 15] [--calls 100] [--import-runs 5]``
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

REPO = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
EXAMPLES = Path(os.environ.get("FATEFLOW_SHARED_DIR") or REPO.parent / "shared") / "fateflow-v1" / "examples"

QUERY_TARGET = 1.15
IMPORT_TARGET_MS = 50.0
#: Public modules a DAG author imports; each is measured if it imports cleanly.
MODULES = (
    "airflow_provider_fateflow.hooks.fateflow",
    "airflow_provider_fateflow.operators.job",
    "airflow_provider_fateflow.operators.data",
    "airflow_provider_fateflow.operators.component",
    "airflow_provider_fateflow.operators.model",
    "airflow_provider_fateflow.sensors.fateflow",
    "airflow_provider_fateflow.triggers.fateflow",
    "airflow_provider_fateflow.links.fateboard",
)
BASELINE = "airflow.sdk"


# -- (a) per-call cost ---------------------------------------------------------------------------------------------


def _batch(fn: Any, calls: int) -> tuple[float, float]:
    """Per-call wall and CPU seconds of ``calls`` calls of ``fn``."""
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall0) / calls, (time.process_time() - cpu0) / calls


def bench_query(rounds: int = 15, calls: int = 100) -> dict[str, Any]:
    """Interleaved batches of ``hook.job.query`` and bare ``requests`` against a child-process sandbox."""
    import requests

    from airflow_provider_fateflow.testing import FateFlowSandbox

    with FateFlowSandbox(subprocess=True, pace=0.0) as sb:
        bare = requests.Session()
        conf = json.loads((EXAMPLES / "toy_example_conf.json").read_text())
        dsl = json.loads((EXAMPLES / "toy_example_dsl.json").read_text())
        job_id = bare.post(f"{sb.base_url}/v1/job/submit", json={"job_runtime_conf": conf, "job_dsl": dsl},
                           timeout=30).json()["jobId"]
        url = f"{sb.base_url}/v1/job/query"
        deadline = time.monotonic() + 30
        while bare.post(url, json={"job_id": job_id}, timeout=30).json()["data"][0]["f_status"] != "success":
            if time.monotonic() > deadline:
                raise RuntimeError(f"toy job {job_id} did not finish")
            time.sleep(0.05)

        os.environ["AIRFLOW_CONN_FATEFLOW_BENCH"] = json.dumps(
            {"conn_type": "fateflow", "host": sb.host, "port": sb.port,
             "extra": {"initiator_role": "guest", "initiator_party_id": "9999"}})
        from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

        hook = FateFlowHook("fateflow_bench")

        def via_hook() -> Any:
            return hook.job.query(job_id=job_id)

        def via_requests() -> Any:
            return bare.post(url, json={"job_id": job_id}).json()

        no_env = requests.Session()
        no_env.trust_env = False

        def via_requests_no_env() -> Any:
            return no_env.post(url, json={"job_id": job_id}).json()

        paths = (("hook", via_hook), ("requests", via_requests), ("requests_no_env", via_requests_no_env))
        rows = via_hook()
        assert len(rows) == 2 and len(via_requests()["data"]) == 2, "the toy job has a guest and a host row"
        for _ in range(50):  # warm the connections and code paths
            for _, fn in paths:
                fn()
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in paths}
        for r in range(rounds):
            for name, fn in paths[r % 3:] + paths[:r % 3]:  # rotate the order between rounds
                samples[name].append(_batch(fn, calls))
        hook.close()
        bare.close()
        no_env.close()

    def med(name: str, i: int) -> float:
        return statistics.median(s[i] for s in samples[name])

    ratios = [h[0] / b[0] for h, b in zip(samples["hook"], samples["requests"])]
    hook_ms, bare_ms, no_env_ms = med("hook", 0) * 1e3, med("requests", 0) * 1e3, med("requests_no_env", 0) * 1e3
    return {
        "rounds": rounds,
        "calls_per_batch": calls,
        "job_rows": len(rows),
        "hook_ms_per_call": round(hook_ms, 4),
        "requests_ms_per_call": round(bare_ms, 4),
        "ratio": round(hook_ms / bare_ms, 3),
        "ratio_median_of_rounds": round(statistics.median(ratios), 3),
        "ratio_min_max_of_rounds": [round(min(ratios), 3), round(max(ratios), 3)],
        "hook_cpu_ms_per_call": round(med("hook", 1) * 1e3, 4),
        "requests_cpu_ms_per_call": round(med("requests", 1) * 1e3, 4),
        "requests_no_env_ms_per_call": round(no_env_ms, 4),
        "requests_no_env_cpu_ms_per_call": round(med("requests_no_env", 1) * 1e3, 4),
        "ratio_vs_no_env": round(hook_ms / no_env_ms, 3),
        "target_ratio": QUERY_TARGET,
        "meets_target": hook_ms / bare_ms <= QUERY_TARGET,
    }


# -- (b) import cost ----------------------------------------------------------------------------------------------


def _child_env(pycache: str, airflow_home: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode, but in the temporary prefix below
    env.update({"PYTHONPYCACHEPREFIX": pycache, "AIRFLOW_HOME": airflow_home,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(REPO)})
    return env


def _importtime(module: str | None, env: dict[str, str], baseline: frozenset[str] = frozenset()
                ) -> tuple[float, list[tuple[float, str]]]:
    """Run ``import airflow.sdk[; import module]`` under ``-X importtime``.

    :returns: the summed self milliseconds of the modules not in ``baseline``, and those modules (self ms, name).
    """
    code = f"import {BASELINE}" + (f"; import {module}" if module else "")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        raise ImportError(tail[0])
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("import time:") and "|" in ln]
    parsed = []
    for ln in lines[1:]:  # the first line is the column header
        self_us, _cumulative, name = (part.strip() for part in ln[len("import time:"):].split("|"))
        parsed.append((int(self_us) / 1e3, name))
    new = [(ms, name) for ms, name in parsed if name not in baseline]
    return sum(ms for ms, _ in new), new


def _baseline_modules(env: dict[str, str]) -> frozenset[str]:
    """Every module ``import airflow.sdk`` loads (union of two runs, in case of lazy or ordering noise)."""
    names: set[str] = set()
    for _ in range(2):
        _, parsed = _importtime(None, env)
        names.update(name for _, name in parsed)
    return frozenset(names)


def _wallclock(module: str, env: dict[str, str]) -> float:
    """Milliseconds of ``import module`` right after ``import airflow.sdk`` in a fresh interpreter."""
    code = (f"import time, {BASELINE}\nt = time.perf_counter()\nimport {module}\n"
            "print((time.perf_counter() - t) * 1e3)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise ImportError((proc.stderr.strip().splitlines()[-1:] or ["?"])[0])
    return float(proc.stdout.strip().splitlines()[-1])


def bench_imports(runs: int = 5, wall_runs: int = 3, modules: tuple[str, ...] = MODULES) -> dict[str, Any]:
    """Import cost of each module on top of ``airflow.sdk`` (see the module docstring for the method)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        env = _child_env(os.path.join(tmp, "pycache"), os.path.join(tmp, "airflow-home"))
        _importtime(None, env)  # AIRFLOW_HOME, airflow.cfg and the baseline's bytecode
        baseline = _baseline_modules(env)
        importable = []
        for module in modules:
            try:
                _importtime(module, env, baseline)  # warm this module's bytecode
                importable.append(module)
            except ImportError as err:
                results[module] = {"importable": False, "error": str(err)}
        samples: dict[str, list[float]] = {m: [] for m in importable}
        walls: dict[str, list[float]] = {m: [] for m in importable}
        heaviest: dict[str, list[tuple[float, str]]] = {}
        for r in range(runs):  # interleave modules so that drift hits them all alike
            for module in importable:
                ms, after = _importtime(module, env, baseline)
                samples[module].append(ms)
                if r == 0:
                    heaviest[module] = sorted(after, reverse=True)[:5]
                if r < wall_runs:
                    walls[module].append(_wallclock(module, env))
        for module in importable:
            median = statistics.median(samples[module])
            results[module] = {
                "importable": True,
                "ms": round(median, 1),
                "ms_runs": [round(x, 1) for x in samples[module]],
                "wallclock_ms": round(statistics.median(walls[module]), 1),
                "new_modules_heaviest": [f"{name} {ms:.1f} ms" for ms, name in heaviest[module]],
                "meets_target": median <= IMPORT_TARGET_MS,
            }
    return {"baseline": BASELINE, "baseline_modules": len(baseline), "runs": runs, "wallclock_runs": wall_runs,
            "target_ms": IMPORT_TARGET_MS,
            "method": "sum of -X importtime self times of the modules that import airflow.sdk alone does not "
                      "load, median of fresh interpreters (bytecode cached); wallclock_ms: perf_counter around "
                      "the import after import airflow.sdk, median of fresh interpreters",
            "modules": results}


# -- report ------------------------------------------------------------------------------------------------------


def markdown(figures: dict[str, Any]) -> str:
    """The figures as Markdown tables (used by bench/run.py for BENCHMARKS.md)."""
    q = figures["query"]
    lines = [
        f"Per call, `hook.job.query(job_id=...)` vs a bare `requests` session `post(...).json()` of the same request; "
        f"sandbox in a child process; {q['rounds']} interleaved rounds of {q['calls_per_batch']} calls per path "
        f"(medians over rounds). The answer holds {q['job_rows']} job rows.",
        "",
        "| path | wall ms/call | client CPU ms/call |",
        "|---|---|---|",
        f"| `hook.job.query` | {q['hook_ms_per_call']:.3f} | {q['hook_cpu_ms_per_call']:.3f} |",
        f"| bare `requests` | {q['requests_ms_per_call']:.3f} | {q['requests_cpu_ms_per_call']:.3f} |",
        f"| bare `requests`, `trust_env = False` | {q['requests_no_env_ms_per_call']:.3f} | "
        f"{q['requests_no_env_cpu_ms_per_call']:.3f} |",
        f"| **ratio** | **{q['ratio']:.3f}x** (target <= {q['target_ratio']}x: "
        f"{'met' if q['meets_target'] else 'MISSED'}; per-round median {q['ratio_median_of_rounds']:.3f}x, "
        f"range {q['ratio_min_max_of_rounds'][0]:.3f}-{q['ratio_min_max_of_rounds'][1]:.3f}x) | |",
        f"| ratio vs `trust_env = False` (the hook's own layers) | {q['ratio_vs_no_env']:.3f}x | |",
        "",
        f"Import cost on top of `import {figures['imports']['baseline']}` (median of {figures['imports']['runs']} "
        f"fresh interpreters; sum of `-X importtime` self times of the newly imported modules; wall-clock cross-check: "
        f"`perf_counter` around the import, median of {figures['imports']['wallclock_runs']}).",
        "",
        "| module | ms (importtime) | ms (wall clock) | target <= "
        f"{figures['imports']['target_ms']:.0f} ms | heaviest new modules |",
        "|---|---|---|---|---|",
    ]
    for module, r in figures["imports"]["modules"].items():
        if not r["importable"]:
            lines.append(f"| `{module}` | - | - | not importable: {r['error']} | |")
            continue
        lines.append(f"| `{module}` | {r['ms']:.1f} | {r['wallclock_ms']:.1f} | "
                     f"{'met' if r['meets_target'] else 'MISSED'} | {', '.join(r['new_modules_heaviest'][:3])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both measurements, print a table, write ``bench/out/hook.json``; return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--import-runs", type=int, default=5)
    ap.add_argument("--wallclock-runs", type=int, default=3)
    args = ap.parse_args([] if argv is None else argv)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    home = None
    if "AIRFLOW_HOME" not in os.environ:  # never touch ~/airflow
        home = tempfile.TemporaryDirectory(prefix="bench-hook-airflow-")
        os.environ["AIRFLOW_HOME"] = home.name
    try:
        figures = {
            "when": dt.datetime.now().isoformat(timespec="seconds"),
            "query": bench_query(args.rounds, args.calls),
            "imports": bench_imports(args.import_runs, args.wallclock_runs),
        }
    finally:
        if home is not None:
            home.cleanup()
    print(markdown(figures))
    OUT.mkdir(exist_ok=True)
    (OUT / "hook.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
