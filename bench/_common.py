"""Helpers shared by the benchmarks (not a benchmark itself: ``bench/run.py`` only runs ``bench_*.py``)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
OUT = BENCH / "out"
SHARED = Path(os.environ.get("FATEFLOW_SHARED_DIR") or REPO.parent / "shared")
EXAMPLES = SHARED / "fateflow-v1" / "examples"

SDK_REQUIREMENTS = REPO / "tests" / "sdk" / "requirements-fate-client.txt"
SDK_VENV = REPO / ".venv-fate-client"
#: what tests/sdk/test_official_sdk.py writes into the venv: the requirements it was built from
SDK_STAMP = "installed-requirements.txt"


def target(figure: str, value: Any, goal: str, met: bool | None, note: str = "") -> dict[str, Any]:
    """One row of the target table in BENCHMARKS.md (``met`` None: informative, no target)."""
    return {"figure": figure, "value": value, "target": goal, "met": met, "note": note}


def airflow_home() -> tempfile.TemporaryDirectory[str] | None:
    """Point AIRFLOW_HOME at a temporary directory unless it is set (never touch ~/airflow)."""
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    if "AIRFLOW_HOME" in os.environ:
        return None
    home = tempfile.TemporaryDirectory(prefix="bench-airflow-home-")
    os.environ["AIRFLOW_HOME"] = home.name
    return home


class PeakRss:
    """Samples this process's RSS in a thread; ``peak - base`` is the growth over the baseline.

    :param interval: seconds between samples (default 0.01).
    """

    def __init__(self, interval: float = 0.01) -> None:
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.base = self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rss(self) -> int:
        return self._proc.memory_info().rss

    def __enter__(self) -> PeakRss:
        import gc

        gc.collect()
        self.base = self.peak = self.rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self.samples += 1
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def sdk_python() -> Path:
    """The interpreter of the official SDK's venv (``.venv-fate-client``), built on first use.

    Same recipe and place as ``tests/sdk/test_official_sdk.py``: ``uv venv``, then ``uv pip install
    --no-deps -r tests/sdk/requirements-fate-client.txt`` (fate-client 1.11.2, urllib3 < 2), stamped with
    the requirements it was built from; an existing venv with the same stamp is reused as it is.
    """
    py = SDK_VENV / "bin" / "python"
    stamp = SDK_VENV / SDK_STAMP
    if py.exists() and stamp.is_file() and stamp.read_text() == SDK_REQUIREMENTS.read_text():
        probe = subprocess.run([str(py), "-c", "from flow_sdk.client import FlowClient"], capture_output=True,
                               timeout=120, check=False)
        if probe.returncode == 0:
            return py
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        raise RuntimeError(f"uv not found next to {sys.executable}; `make install` puts it there")
    tmp = SDK_VENV.with_name(f"{SDK_VENV.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        subprocess.run([str(uv), "venv", "-q", "-p", sys.executable, str(tmp)], check=True, timeout=600)
        subprocess.run([str(uv), "pip", "install", "-q", "-p", str(tmp / "bin" / "python"), "--no-deps",
                        "--compile-bytecode", "-r", str(SDK_REQUIREMENTS)], check=True, timeout=600)
        (tmp / SDK_STAMP).write_text(SDK_REQUIREMENTS.read_text())
        shutil.rmtree(SDK_VENV, ignore_errors=True)
        tmp.rename(SDK_VENV)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return py


def package_versions(python: str | Path, names: tuple[str, ...]) -> dict[str, str]:
    """``importlib.metadata`` versions of ``names`` in another interpreter (``"-"`` when missing)."""
    code = ("import importlib.metadata as m, json, sys\nout = {}\nfor n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n    except Exception: out[n] = '-'\nprint(json.dumps(out))")
    proc = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=False)
    import json

    return json.loads(proc.stdout) if proc.returncode == 0 else {n: "?" for n in names}
