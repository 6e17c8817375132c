"""Run every ``bench/bench_*.py`` and write ``BENCHMARKS.md`` at the repository root (``make bench``).

Each benchmark runs in a fresh interpreter (no shared imports, no warm caches between benchmarks). A
benchmark exposes ``main() -> dict`` returning its figures, and may expose ``markdown(figures) -> str`` to
render them; otherwise its figures are listed key by key. A ``main()`` that returns ``None`` (a script that
records its figures itself) is read back from the last line of ``bench/out/<name>.jsonl`` it appended.

Usage: ``.venv/bin/python bench/run.py [--only NAME ...] [--output BENCHMARKS.md]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"

# Runs one benchmark in a child interpreter: argv = [bench file, result file].
_DRIVER = r"""
import json, runpy, sys
path, result = sys.argv[1], sys.argv[2]
sys.argv = [path]
module = runpy.run_path(path, run_name="__bench__")
returned = module["main"]()
figures = returned if isinstance(returned, dict) else None
render = module.get("markdown")
text = render(figures) if (render is not None and figures is not None) else None
with open(result, "w") as fh:
    json.dump({"figures": figures, "markdown": text, "returned": None if figures else returned}, fh, default=str)
"""


def machine() -> dict[str, Any]:
    """Cores, RAM, CPU model, OS, Python and Airflow versions, and the commit measured."""
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
    try:
        from importlib.metadata import version

        airflow = version("apache-airflow")
    except Exception:  # noqa: BLE001 - reported as unknown
        airflow = "unknown"
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
            "airflow": airflow, "commit": commit}


def _from_jsonl(name: str, since: float) -> dict[str, Any] | None:
    path = OUT / f"{name}.jsonl"
    if not path.is_file() or path.stat().st_mtime < since:
        return None
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None


def _last_json_object(text: str) -> dict[str, Any] | None:
    """The last JSON object printed at the start of a line (``json.dumps(figures, indent=2)`` style)."""
    decoder = json.JSONDecoder()
    found = None
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("{"):
            try:
                obj, _ = decoder.raw_decode(text, offset)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                found = obj
        offset += len(line)
    return found


def run_one(path: Path) -> dict[str, Any]:
    """Run one benchmark in a child interpreter; its figures, markdown, seconds and error (if any)."""
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        result = Path(tmp) / "result.json"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        proc = subprocess.run([sys.executable, "-c", _DRIVER, str(path), str(result)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, text=True, check=False)
        sys.stdout.write(proc.stdout)
        out: dict[str, Any] = {"figures": None, "markdown": None, "returned": None, "error": None, "note": None}
        if result.is_file():
            out.update(json.loads(result.read_text()))
        if proc.returncode != 0:
            out["error"] = f"exited with status {proc.returncode}"
    if out["figures"] is None:
        out["figures"] = _last_json_object(proc.stdout) or _from_jsonl(path.stem, started)
        if out["figures"] is None and out["error"] is None:
            out["error"] = "main() returned no dict, printed no JSON object and appended no bench/out/<name>.jsonl line"
    if isinstance(out["returned"], int) and not isinstance(out["returned"], bool) and out["returned"] != 0:
        out["note"] = f"main() returned {out['returned']}: the benchmark judged its own targets missed"
    out["seconds"] = round(time.time() - started, 1)
    return out


def _flatten(figures: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(figures, dict):
        rows: list[tuple[str, Any]] = []
        for key, value in figures.items():
            rows.extend(_flatten(value, f"{prefix}{key}."))
        return rows
    return [(prefix.rstrip("."), figures)]


def render(results: dict[str, dict[str, Any]], info: dict[str, Any], when: str) -> str:
    """BENCHMARKS.md."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); each `bench/bench_*.py` ran in a fresh interpreter. "
        "Raw figures: `bench/out/` (not committed).",
        "",
        f"- Date: {when}",
        f"- Machine: {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['cpu']} ({info['os']})",
        f"- Python {info['python']}, Apache Airflow {info['airflow']}",
        f"- Commit: {info['commit']}",
        "",
    ]
    for name, res in results.items():
        lines += [f"## {name}", ""]
        if res["error"]:
            lines += [f"**Failed** after {res['seconds']} s: {res['error']}", ""]
        if res.get("note"):
            lines += [f"**Note:** {res['note']}.", ""]
        if res["markdown"]:
            lines += [res["markdown"].rstrip(), ""]
        elif res["figures"] is not None:
            lines += ["| figure | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in _flatten(res["figures"])]
            lines.append("")
        lines += [f"_{res['seconds']} s_", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="benchmark names (e.g. bench_hook); default: all")
    ap.add_argument("--output", default=str(REPO / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    benches = sorted(BENCH.glob("bench_*.py"))
    if args.only:
        benches = [b for b in benches if b.stem in args.only]
    when = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    info = machine()
    results: dict[str, dict[str, Any]] = {}
    for path in benches:
        print(f"== {path.stem}", flush=True)
        results[path.stem] = run_one(path)
        print(f"== {path.stem}: {'FAILED: ' + results[path.stem]['error'] if results[path.stem]['error'] else 'ok'}"
              f" ({results[path.stem]['seconds']} s)", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "run.json").write_text(json.dumps({"when": when, "machine": info, "results": results}, indent=2,
                                             default=str) + "\n")
    Path(args.output).write_text(render(results, info, when))
    print(f"wrote {args.output}")
    return 1 if any(r["error"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
