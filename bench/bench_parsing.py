"""Benchmark: DAG parsing cost of the provider (not a test).

(a) Import cost of each public module on top of ``import airflow.sdk``. Method: for every module, fresh
    interpreters run ``python -X importtime -c "import airflow.sdk; import <module>"``; the cost is the sum
    of the ``self`` times of every module that ``python -X importtime -c "import airflow.sdk"`` alone does not
    load (so it includes whatever else of Airflow the module pulls in, e.g. ``airflow.triggers.base`` for the
    sensors and triggers), median of ``--import-runs`` interpreters. A cross-check measures the same increment
    without ``-X importtime`` (``perf_counter`` around ``import <module>`` after ``import airflow.sdk`` in a
    fresh interpreter), median of fewer runs. Target: <= 50 ms per module.

(b) The time to parse ``dags/examples/`` into a ``DagBag`` (``DagBag(dag_folder=...)``, as the DAG processor
    and the example tests do), in fresh interpreters (median of ``--dagbag-runs``): the DAGs found, the import
    errors, and each file's parse time as the DagBag records it. The examples are whatever is in the folder
    when the benchmark runs.

Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (warmed first), as an installed package would have
it; nothing is written into the source tree. ``AIRFLOW_HOME`` is a temporary directory and
``[core] load_examples`` is off.

``main(argv) -> dict`` returns the figures (``bench/run.py`` collects them into BENCHMARKS.md) and writes
``bench/out/parsing.json`` (git-ignored).

Usage: ``.venv/bin/python bench/bench_parsing.py [--import-runs 5] [--wallclock-runs 2] [--dagbag-runs 3]``
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, REPO, target  # noqa: E402

TITLE = "DAG parsing: module imports and the example `DagBag`"
IMPORT_TARGET_MS = 50.0
DAGS = REPO / "dags" / "examples"
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

# -- (a) import cost ----------------------------------------------------------------------------------------------


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



# -- (b) DagBag --------------------------------------------------------------------------------------------------

_DAGBAG = r"""
import json, sys, time
folder = sys.argv[1]
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 3.1
t2 = time.perf_counter()
bag = DagBag(dag_folder=folder)
t3 = time.perf_counter()
stats = [{"file": str(s.file), "seconds": s.duration.total_seconds(), "dags": s.dag_num, "tasks": s.task_num}
         for s in bag.dagbag_stats]
print(json.dumps({"import_airflow_sdk_s": t1 - t0, "import_dagbag_s": t2 - t1, "parse_s": t3 - t2,
                  "dags": sorted(bag.dag_ids), "tasks": sum(len(d.tasks) for d in bag.dags.values()),
                  "import_errors": {k: v.strip().splitlines()[-1] if v.strip() else v
                                    for k, v in bag.import_errors.items()},
                  "files": stats}))
"""


def bench_dagbag(runs: int = 3, folder: Path = DAGS) -> dict[str, Any]:
    """Parse ``folder`` into a DagBag in ``runs`` fresh interpreters (after one warm-up run)."""
    if not folder.is_dir():
        return {"folder": str(folder), "error": "no such folder"}
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-dagbag-") as tmp:
        env = _child_env(os.path.join(tmp, "pycache"), os.path.join(tmp, "airflow-home"))
        for i in range(runs + 1):  # the first run compiles and caches the bytecode
            proc = subprocess.run([sys.executable, "-c", _DAGBAG, str(folder)], env=env, cwd=REPO,
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                return {"folder": str(folder), "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
            if i:
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    last = results[-1]
    per_file: dict[str, list[float]] = {}
    for r in results:
        for f in r["files"]:
            per_file.setdefault(Path(f["file"]).name, []).append(f["seconds"])
    return {
        "folder": str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else str(folder),
        "runs": runs,
        "parse_ms": round(statistics.median(r["parse_s"] for r in results) * 1e3, 1),
        "parse_ms_runs": [round(r["parse_s"] * 1e3, 1) for r in results],
        "import_airflow_sdk_ms": round(statistics.median(r["import_airflow_sdk_s"] for r in results) * 1e3, 1),
        "import_dagbag_ms": round(statistics.median(r["import_dagbag_s"] for r in results) * 1e3, 1),
        "files": len(list(folder.glob("*.py"))),
        "dags": len(last["dags"]),
        "dag_ids": last["dags"],
        "tasks": last["tasks"],
        "import_errors": last["import_errors"],
        "per_file_ms": {name: round(statistics.median(v) * 1e3, 1) for name, v in sorted(per_file.items())},
    }


# -- report ------------------------------------------------------------------------------------------------------


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    imp = figures.get("imports")
    if imp:
        for module, r in imp["modules"].items():
            if not r["importable"]:
                rows.append(target(f"import `{module}`", "not importable", f"<= {IMPORT_TARGET_MS:.0f} ms", False,
                                   r["error"]))
            else:
                rows.append(target(f"import `{module}` on top of `airflow.sdk`", f"{r['ms']:.1f} ms",
                                   f"<= {IMPORT_TARGET_MS:.0f} ms", r["meets_target"],
                                   f"wall clock {r['wallclock_ms']:.1f} ms"))
    bag = figures.get("dagbag")
    if bag:
        if "error" in bag:
            rows.append(target("DagBag of `dags/examples`", "failed", "parses", False, bag["error"]))
        else:
            rows.append(target(f"DagBag of `{bag['folder']}`: parse time", f"{bag['parse_ms']:.0f} ms", "-", None,
                               f"{bag['dags']} DAGs from {bag['files']} files, {len(bag['import_errors'])} "
                               "import errors"))
            rows.append(target(f"DagBag of `{bag['folder']}`: import errors", len(bag["import_errors"]), "0",
                               not bag["import_errors"]))
    return rows


def markdown(figures: dict[str, Any]) -> str:
    lines: list[str] = []
    imp = figures.get("imports")
    if imp:
        lines += [
            f"Import cost on top of `import {imp['baseline']}` (median of {imp['runs']} fresh interpreters; sum of "
            f"`-X importtime` self times of the newly imported modules; wall-clock cross-check: `perf_counter` "
            f"around the import, median of {imp['wallclock_runs']}). Bytecode cached.",
            "",
            f"| module | ms (importtime) | ms (wall clock) | target <= {imp['target_ms']:.0f} ms | heaviest new modules |",
            "|---|---|---|---|---|",
        ]
        for module, r in imp["modules"].items():
            if not r["importable"]:
                lines.append(f"| `{module}` | - | - | not importable: {r['error']} | |")
                continue
            lines.append(f"| `{module}` | {r['ms']:.1f} | {r['wallclock_ms']:.1f} | "
                         f"{'met' if r['meets_target'] else 'MISSED'} | {', '.join(r['new_modules_heaviest'][:3])} |")
        lines.append("")
    bag = figures.get("dagbag")
    if bag and "error" in bag:
        lines += [f"DagBag of `{bag['folder']}`: **failed**: {bag['error']}", ""]
    elif bag:
        lines += [
            f"`DagBag(dag_folder=\"{bag['folder']}\")` in a fresh interpreter (median of {bag['runs']}; bytecode "
            f"cached): **{bag['parse_ms']:.0f} ms** to parse {bag['files']} files into {bag['dags']} DAGs "
            f"({bag['tasks']} tasks), {len(bag['import_errors'])} import errors (runs: "
            f"{', '.join(f'{x:.0f}' for x in bag['parse_ms_runs'])} ms). Before it: `import airflow.sdk` "
            f"{bag['import_airflow_sdk_ms']:.0f} ms, importing `DagBag` {bag['import_dagbag_ms']:.0f} ms.",
            "",
            "| file | parse ms (DagBag's own stat) |",
            "|---|---|",
        ]
        lines += [f"| `{name}` | {ms:.0f} |" for name, ms in bag["per_file_ms"].items()]
        if bag["import_errors"]:
            lines += ["", "| import error in | last line |", "|---|---|"]
            lines += [f"| `{Path(k).name}` | {v} |" for k, v in bag["import_errors"].items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--import-runs", type=int, default=5)
    ap.add_argument("--wallclock-runs", type=int, default=2)
    ap.add_argument("--dagbag-runs", type=int, default=3)
    ap.add_argument("--skip-imports", action="store_true")
    ap.add_argument("--skip-dagbag", action="store_true")
    args = ap.parse_args([] if argv is None else argv)
    figures: dict[str, Any] = {}
    if not args.skip_imports:
        figures["imports"] = bench_imports(args.import_runs, args.wallclock_runs)
    if not args.skip_dagbag:
        figures["dagbag"] = bench_dagbag(args.dagbag_runs)
    figures["targets"] = targets(figures)
    print(markdown(figures))
    OUT.mkdir(exist_ok=True)
    (OUT / "parsing.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
