"""The official FATE SDK (flow_sdk from fate-client 1.11.2) against the sandbox.

The SDK lives in its own virtual environment, ``.venv-fate-client/`` in the repository (git-ignored),
built on first use from ``requirements-fate-client.txt`` with the uv next to this interpreter. The
driver, ``sdk_driver.py``, runs there as a subprocess and checks every answer against what a real
FATE Flow 1.11.2 gives (the recordings in shared/fateflow-v1), so a failing step is a fidelity gap of
the sandbox (or a regression of it), named in the step table printed on failure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REQUIREMENTS = HERE / "requirements-fate-client.txt"
DRIVER = HERE / "sdk_driver.py"
SDK_VENV = REPO / ".venv-fate-client"
#: copy of the requirements the venv was built from; a changed requirements file rebuilds the venv
STAMP = "installed-requirements.txt"
AUTH = ("sdk-test-key", "sdk-test-secret")


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _venv_ok(venv: Path) -> bool:
    py = _venv_python(venv)
    stamp = venv / STAMP
    if not (py.exists() and stamp.is_file() and stamp.read_text() == REQUIREMENTS.read_text()):
        return False
    probe = subprocess.run([str(py), "-c", "from flow_sdk.client import FlowClient"], capture_output=True,
                           timeout=60)
    return probe.returncode == 0


class VenvError(Exception):
    """The fate-client venv could not be built."""


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VenvError(f"cannot create the fate-client venv ({what}): {exc!r}") from None
    if proc.returncode != 0:
        raise VenvError(f"cannot create the fate-client venv ({what}, exit {proc.returncode}); it needs PyPI.\n"
                        f"$ {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")


def _build_venv() -> Path:
    if _venv_ok(SDK_VENV):
        return _venv_python(SDK_VENV)
    uv = Path(sys.executable).with_name("uv.exe" if os.name == "nt" else "uv")
    if not uv.exists():
        raise VenvError(f"uv not found next to {sys.executable}; `make install` puts it there")
    # Build beside the final place and rename, so an interrupted build never looks like a venv.
    tmp = SDK_VENV.with_name(f"{SDK_VENV.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _run([str(uv), "venv", "-q", "-p", sys.executable, str(tmp)], "uv venv")
        _run([str(uv), "pip", "install", "-q", "-p", str(_venv_python(tmp)), "--no-deps", "--compile-bytecode",
              "-r", str(REQUIREMENTS)], "uv pip install")
        probe = subprocess.run([str(_venv_python(tmp)), "-c", "from flow_sdk.client import FlowClient"],
                               capture_output=True, text=True, timeout=60)
        if probe.returncode != 0:
            raise VenvError(f"flow_sdk does not import in the new venv:\n{probe.stderr[-3000:]}")
        (tmp / STAMP).write_text(REQUIREMENTS.read_text())
        shutil.rmtree(SDK_VENV, ignore_errors=True)
        try:
            tmp.rename(SDK_VENV)
        except OSError:
            if not _venv_ok(SDK_VENV):  # lost a race against another session and its venv is unusable
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _venv_python(SDK_VENV)


@pytest.fixture(scope="session")
def fate_client_venv() -> Path | VenvError:
    """The interpreter of a venv where ``from flow_sdk.client import FlowClient`` works (built once if missing),
    or why it could not be built: the test then FAILS (it does not skip or error), as CI reaches the registries."""
    try:
        return _build_venv()
    except VenvError as exc:
        return exc


def _python(venv: Path | VenvError) -> Path:
    if isinstance(venv, VenvError):
        pytest.fail(str(venv), pytrace=False)
    return venv


def _table(steps: list[dict]) -> str:
    width = max((len(s["step"]) for s in steps), default=10)
    lines = [f"{'':4} {'step':{width}}  {'retcode':>7}  detail"]
    for s in steps:
        rc = "-" if s.get("retcode") is None else str(s["retcode"])
        lines.append(f"{'ok' if s['ok'] else 'FAIL':4} {s['step']:{width}}  {rc:>7}  {s['detail']}")
    return "\n".join(lines)


def _drive(python: Path, examples: Path, tmp_path: Path, *, auth: tuple[str, str] | None, serving: bool,
           model_store: bool, time_scale: float | None = None) -> None:
    try:
        from airflow_provider_fateflow.testing import FateFlowSandbox
    except ImportError as exc:
        pytest.fail(f"the sandbox is not importable: {exc!r}", pytrace=False)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # the sandbox's default timing (a model of the real server): the driver must cope with real waits; the
    # second cycle runs the same model faster (time_scale 0.02: the 30-iteration job still runs ~6 s)
    options = {} if time_scale is None else {"time_scale": time_scale}
    with FateFlowSandbox(auth=auth, serving=serving, model_store=model_store, **options) as sb:
        cmd = [str(python), str(DRIVER), "--host", sb.host, "--port", str(sb.port), "--workdir", str(tmp_path),
               "--examples", str(examples), "--serving", "on" if serving else "off",
               "--model-store", "on" if model_store else "off", "--job-timeout", "120"]
        if auth:
            cmd += ["--auth", f"{auth[0]}:{auth[1]}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    steps = []
    for line in proc.stdout.splitlines():
        try:
            steps.append(json.loads(line))
        except ValueError:
            pass
    failed = [s["step"] for s in steps if not s["ok"]]
    if not steps:
        pytest.fail(f"the driver printed no step (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}",
                    pytrace=False)
    if proc.returncode != 0 or failed:
        pytest.fail(f"{len(failed)} of {len(steps)} SDK steps differ from the real server: {', '.join(failed) or '-'} "
                    f"(driver exit {proc.returncode})\n{_table(steps)}\n{proc.stderr[-3000:]}", pytrace=False)
    print(_table(steps))  # shown with -rP


@pytest.mark.slow
def test_official_sdk_full_cycle(fate_client_venv: Path | VenvError, examples_dir: Path, tmp_path: Path) -> None:
    """Unsigned, with FATE-Serving and a model store, on a sandbox started with no options (the timing model):
    train, deploy, predict, load, bind, store, restore, stop a running 30-iteration job and clean it."""
    _drive(_python(fate_client_venv), examples_dir, tmp_path, auth=None, serving=True, model_store=True)


@pytest.mark.slow
def test_official_sdk_signed_as_recorded(fate_client_venv: Path | VenvError, examples_dir: Path,
                                         tmp_path: Path) -> None:
    """Client authentication on (every request signed by the SDK, wrong keys refused with 109), and the
    recorded server's setup: no FATE-Serving (load/bind fail), no model store (store/restore jobs fail)."""
    _drive(_python(fate_client_venv), examples_dir, tmp_path, auth=AUTH, serving=False, model_store=False,
           time_scale=0.02)


@pytest.mark.parametrize("line", [ln for ln in REQUIREMENTS.read_text().splitlines()
                                  if ln.strip() and not ln.lstrip().startswith("#")])
def test_requirements_are_exact_pins(line: str) -> None:
    """Installed with --no-deps, the file must name every package exactly."""
    assert "==" in line and not any(op in line for op in (">", "<", "~", "!")), line
