"""Run the benchmarks and write ``BENCHMARKS.md`` at the repository root (``make bench``).

Each ``bench/bench_<name>.py`` runs in a fresh interpreter (no shared imports, no warm caches between
benchmarks). A benchmark exposes ``main(argv) -> dict`` returning its figures, with ``figures["targets"]``: the
rows of the summary table (figure, value, target, met); ``markdown(figures) -> str`` renders its section and
``TITLE`` names it. Figures of the whole run go to ``bench/out/run.json`` (git-ignored).

Usage::

    .venv/bin/python bench/run.py                        # everything (about 12 minutes on 2 cores)
    .venv/bin/python bench/run.py --only hook parsing    # a subset (names without the bench_ prefix)
    .venv/bin/python bench/run.py --skip files           # all but some
    .venv/bin/python bench/run.py --quick                # small sizes and counts: a smoke run of every bench
    .venv/bin/python bench/run.py --args triggers="--counts 1000" --args files="--repeat 1"

``--output`` writes somewhere else than ``BENCHMARKS.md``; a subset run still writes the whole file, with only
the benchmarks that ran.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
sys.path.insert(0, str(BENCH))
import _common  # noqa: E402

#: Run order: the cheap ones first; a name is ``bench_<name>.py``.
ORDER = ("hook", "parsing", "sandbox", "files", "triggers")
#: ``--quick``: arguments that make each benchmark a smoke run (minutes, not a quarter of an hour).
QUICK = {
    "hook": "--rounds 3 --calls 30",
    "parsing": "--import-runs 1 --wallclock-runs 1 --dagbag-runs 1",
    "sandbox": "--jobs 200 --seconds 3",
    "files": "--upload-mib 64 --download-mib 80 --plain-download-mib 32 --repeat 2",
    "triggers": "--counts 100 --spread 10 --poll 2",
}

# Runs one benchmark in a child interpreter: argv = [bench file, result file, JSON list of arguments].
_DRIVER = r"""
import json, runpy, sys
path, result, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.argv = [path]
module = runpy.run_path(path, run_name="__bench__")
figures = module["main"](argv)
render = module.get("markdown")
with open(result, "w") as fh:
    json.dump({"title": module.get("TITLE"), "figures": figures,
               "markdown": render(figures) if render is not None else None}, fh, default=str)
"""


def machine() -> dict[str, Any]:
    """Cores, RAM, CPU model, OS, the versions that matter, and the commit measured."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = _common.package_versions(sys.executable, ("apache-airflow", "aiohttp", "requests", "urllib3",
                                                         "uvicorn", "starlette"))
    sdk_python = _common.SDK_VENV / "bin" / "python"
    sdk = (_common.package_versions(sdk_python, ("fate-client", "requests", "urllib3")) if sdk_python.exists()
           else {})
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"cores": os.cpu_count(), "ram_gib": ram_gib, "cpu": cpu,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "versions": versions, "sdk_versions": sdk, "commit": commit, "load_at_start": round(os.getloadavg()[0], 2)}


def run_one(name: str, argv: list[str]) -> dict[str, Any]:
    """Run ``bench_<name>.py`` in a child interpreter; its title, figures, markdown, seconds and error."""
    path = BENCH / f"bench_{name}.py"
    started = time.time()
    out: dict[str, Any] = {"title": None, "figures": None, "markdown": None, "error": None, "argv": argv,
                           "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        result = Path(tmp) / "result.json"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        proc = subprocess.run([sys.executable, "-c", _DRIVER, str(path), str(result), json.dumps(argv)], cwd=REPO,
                              env=env, check=False)
        if result.is_file():
            out.update(json.loads(result.read_text()))
        if proc.returncode != 0:
            out["error"] = f"exited with status {proc.returncode} (its output is above, in the run's log)"
        elif not isinstance(out["figures"], dict):
            out["error"] = "main() returned no figures"
    out["seconds"] = round(time.time() - started, 1)
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def _met(value: bool | None) -> str:
    return "-" if value is None else ("met" if value else "**missed**")


def render(results: dict[str, dict[str, Any]], info: dict[str, Any], when: str, total_s: float,
           argv: list[str]) -> str:
    """BENCHMARKS.md."""
    v, sdk = info["versions"], info["sdk_versions"]
    cmd = "make bench" if not argv else f"bench/run.py {shlex.join(argv)}"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{cmd}` (`bench/run.py`) in {total_s / 60:.1f} minutes; each `bench/bench_*.py` ran in a fresh "
        "interpreter. Benchmarks are figures, not tests: nothing here fails a build. Raw figures: "
        "`bench/out/` (git-ignored).",
        "",
        f"- Date: {when}",
        f"- Machine: {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['cpu']} ({info['os']})",
        f"- Python {info['python']}; Apache Airflow {v.get('apache-airflow')}; aiohttp {v.get('aiohttp')}; "
        f"requests {v.get('requests')}; urllib3 {v.get('urllib3')}; sandbox on uvicorn {v.get('uvicorn')} / "
        f"Starlette {v.get('starlette')}",
        (f"- Official SDK (own venv `.venv-fate-client`): fate-client {sdk.get('fate-client')}, requests "
         f"{sdk.get('requests')}, urllib3 {sdk.get('urllib3')}") if sdk else "- Official SDK: not installed",
        f"- Commit: {info['commit']}",
        f"- 1-minute load average when the run started: {info['load_at_start']} (other work on the machine shows "
        "here; each section gives its own)",
        "",
        "## Targets",
        "",
        "| area | figure | value | target | met | note |",
        "|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        area = res.get("title") or name
        if res["error"]:
            lines.append(f"| {area} | the benchmark | failed | runs | **missed** | {res['error']} |")
        for row in (res["figures"] or {}).get("targets", []):
            lines.append(f"| {area} | {row['figure']} | {row['value']} | {row['target']} | {_met(row['met'])} | "
                         f"{row.get('note') or ''} |")
    lines.append("")
    for name, res in results.items():
        lines += [f"## {res.get('title') or name}", "", f"`bench/bench_{name}.py`"
                  + (f" `{shlex.join(res['argv'])}`" if res["argv"] else "")
                  + f": {res['seconds']} s; 1-minute load average {res['load_before']} before, {res['load_after']} after "
                  f"(on {info['cores']} cores; the benchmark's own processes count too).", ""]
        if res["error"]:
            lines += [f"**Failed**: {res['error']}", ""]
        if res["markdown"]:
            lines += [res["markdown"].rstrip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help=f"benchmarks to run, of {', '.join(ORDER)}")
    ap.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="benchmarks to leave out")
    ap.add_argument("--quick", action="store_true", help="small sizes and counts: a smoke run")
    ap.add_argument("--args", action="append", default=[], metavar='NAME="ARGS"',
                    help="arguments for one benchmark (see its --help); repeatable")
    ap.add_argument("--output", default=str(REPO / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    names = [n.removeprefix("bench_") for n in (args.only or ORDER)]
    names += sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py")
                    if not args.only and p.stem.removeprefix("bench_") not in ORDER)
    unknown = [n for n in names + args.skip if not (BENCH / f"bench_{n.removeprefix('bench_')}.py").is_file()]
    if unknown:
        ap.error(f"no such benchmark: {', '.join(unknown)}")
    names = [n for n in names if n not in {s.removeprefix("bench_") for s in args.skip}]
    extra: dict[str, list[str]] = {n: shlex.split(QUICK.get(n, "")) if args.quick else [] for n in names}
    for item in args.args:
        name, _, rest = item.partition("=")
        extra.setdefault(name.removeprefix("bench_"), []).extend(shlex.split(rest))
    when = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    info = machine()
    results: dict[str, dict[str, Any]] = {}
    started = time.time()
    for name in names:
        print(f"== bench_{name} {shlex.join(extra[name])}", flush=True)
        results[name] = run_one(name, extra[name])
        status = "FAILED: " + results[name]["error"] if results[name]["error"] else "ok"
        print(f"== bench_{name}: {status} ({results[name]['seconds']} s)", flush=True)
    total_s = time.time() - started
    OUT.mkdir(exist_ok=True)
    (OUT / "run.json").write_text(json.dumps({"when": when, "machine": info, "seconds": round(total_s, 1),
                                              "results": results}, indent=2, default=str) + "\n")
    Path(args.output).write_text(render(results, info, when, total_s, argv))
    print(f"wrote {args.output} ({total_s / 60:.1f} minutes)")
    return 1 if any(r["error"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
