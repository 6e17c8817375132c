"""``make demo``: run the example DAGs end to end against a local FATE Flow sandbox, then summarize.

1. starts ``fateflow-sandbox`` (a local FATE Flow 1.11 stand-in) on a free loopback port;
2. creates a fresh Airflow home in ``.airflow/demo/`` (git-ignored) and migrates its sqlite database;
3. points the ``fateflow_default`` connection at the sandbox (``AIRFLOW_CONN_FATEFLOW_DEFAULT``);
4. runs ``airflow dags test`` on ``example_fateflow_train_and_deploy``, then on
   ``example_fateflow_scheduled_retraining`` (its first run promotes the model: there is no champion yet);
5. prints what happened: each task, the FATE jobs with their status and FATE Board link, the AUC, the
   deployed model version, the retraining decision, and where the logs are;
6. stops the sandbox (by its PID) and exits non-zero if anything failed.

Usage: python scripts/demo.py [--pace SECONDS] [--dag DAG_ID ...] [--fail COMPONENT]

``--fail hetero_lr_0`` makes that component fail in the sandbox (on the host, in every job), to show what
a failed FATE job looks like in Airflow.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAGS = REPO / "dags" / "examples"
DEFAULT_DAGS = ("example_fateflow_train_and_deploy", "example_fateflow_scheduled_retraining")
BOARD = "http://127.0.0.1:8080"
# The examples' FATE parties (dags/examples/conf/hetero_lr_conf.json).
INITIATOR = {"initiator_role": "guest", "initiator_party_id": 9999}


def say(text: str = "") -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Sandbox:
    """``fateflow-sandbox`` in a child process (its own process group), stopped by its PID."""

    def __init__(self, port: int, pace: float, log: Path) -> None:
        self.port, self.pace, self.log = port, pace, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        cmd = [str(BIN / "fateflow-sandbox"), "--host", "127.0.0.1", "--port", str(self.port),
               "--pace", str(self.pace), "--board-url", BOARD]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fateflow-sandbox exited with code {self.proc.returncode}; see {rel(self.log)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_sandbox/health", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"fateflow-sandbox did not answer within {timeout:.0f} s; see {rel(self.log)}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_dag_test(dag_id: str, env: dict[str, str], log: Path) -> tuple[int, float]:
    """``airflow dags test <dag_id>``, its output to ``log``; prints each task as it ends."""
    started = time.monotonic()
    ended = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
    deferred = re.compile(r"\[DAG TEST\] running trigger in line")
    with log.open("w") as out:
        proc = subprocess.Popen([str(BIN / "airflow"), "dags", "test", dag_id], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", cwd=REPO)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if deferred.search(line):
                say("      ... waiting in the trigger (deferred)")
            match = ended.search(line)
            if match:
                task, index = match.groups()
                say(f"      {task}{'' if index == '-1' else f'[{index}]'} done  ({time.monotonic() - started:.0f} s)")
        code = proc.wait()
    return code, time.monotonic() - started


def error_lines(log: Path, limit: int = 30) -> list[str]:
    """The last failure's ``[error ...]`` records in a log, with their continuation lines (FATE's error
    reports), without timestamps and logger names."""
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(\w+)\s*\] ")
    tail = re.compile(r"\s*\[[\w.]+\] loc=\S+$")
    out: list[str] = []
    inside = False
    for line in log.read_text(errors="replace").splitlines():
        match = stamp.match(line)
        if match:
            inside = match.group(1) == "error" and "Task failed with exception" not in line
            if inside:
                if "ended with status" in line:
                    out = []  # keep the last failed try only
                out.append(tail.sub("", line[match.end():]))
        elif inside and line.strip() and not line.startswith(("Traceback", "  File", "    ")):
            text = tail.sub("", line.strip())
            if text:
                out.append("    " + text)
    return out[-limit:]


def summarize(dag_ids: list[str], port: int, durations: dict[str, float]) -> bool:
    """Print the runs (from Airflow's database) and their FATE jobs (from FATE Flow); True if all succeeded."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    hook = FateFlowHook("fateflow_default")
    all_ok = True
    say("\n" + "=" * 100)
    say("Summary")
    say("=" * 100)
    with create_session() as session:
        for dag_id in dag_ids:
            run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
            if run is None:
                say(f"\n{dag_id}: no run recorded")
                all_ok = False
                continue
            ok = str(run.state) == "success"
            all_ok &= ok
            say(f"\n{dag_id}: {str(run.state).upper()} in {durations.get(dag_id, 0):.0f} s (run {run.run_id})")
            xcom: dict[tuple[str, str], Any] = {
                (x.task_id, x.key): x.value
                for x in session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run.run_id)
            }
            tis = sorted(run.get_task_instances(session=session), key=lambda t: (t.start_date is None, t.start_date))
            for ti in tis:
                name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
                say(f"  {name:<24} {str(ti.state):<9} {_details(ti.task_id, xcom)}".rstrip())
                job_id = xcom.get((ti.task_id, "job_id"))
                if job_id:
                    say(f"  {'':<24} {'':<9} FATE job {job_id}: {_fate_status(hook, str(job_id))}")
                    if xcom.get((ti.task_id, "board_url")):
                        say(f"  {'':<24} {'':<9} FATE Board: {xcom[(ti.task_id, 'board_url')]}")
            decision = xcom.get(("compare_with_champion", "decision"))
            if decision:
                say(f"  decision: {'PROMOTE' if decision['promote'] else 'KEEP THE CHAMPION'}: {decision['reason']}")
    say(f"\nThe FATE Board links use the connection's board_url ({BOARD}); the sandbox has no FATE Board.")
    return all_ok


def _fate_status(hook: Any, job_id: str) -> str:
    """The job's status as FATE Flow reports it now (the initiator's row)."""
    try:
        rows = hook.job.query(job_id=job_id)
    except Exception as err:  # noqa: BLE001 - a summary line, not a check
        return f"unknown ({err})"
    row = next((r for r in rows if r.is_initiator), rows[0] if rows else None)
    return "not found" if row is None else f"{row.status.value} (as {row.role} {row.party_id})"


def _details(task_id: str, xcom: dict[tuple[str, str], Any]) -> str:
    parts = []
    value = xcom.get((task_id, "return_value"))
    if isinstance(value, dict):
        values = value.get("values") or {}
        metrics = ", ".join(f"{k.rsplit('.', 1)[-1].upper()} {v:.4f}" for k, v in sorted(values.items()))
        if metrics:
            parts.append(metrics)
        if "count" in value and "table_name" in value:
            parts.append(f"table {value['namespace']}/{value['table_name']} ({value['count']} rows)")
        if "service_id" in value:
            parts.append(f"service {value['service_id']} -> model version {value['model_version']}")
    if task_id.endswith("deploy") and isinstance(value, str):
        parts.append(f"deployed model version {value}")
    return "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=0.5, help="seconds each FATE component takes (default 0.5)")
    parser.add_argument("--dag", action="append", dest="dags", help="DAG to run (repeatable); default: "
                        + ", ".join(DEFAULT_DAGS))
    parser.add_argument("--home", default=str(REPO / ".airflow" / "demo"), help="Airflow home (recreated)")
    parser.add_argument("--fail", metavar="COMPONENT", help="make this component fail on the host (e.g. hetero_lr_0)")
    args = parser.parse_args(argv)
    dag_ids = args.dags or list(DEFAULT_DAGS)

    started = time.monotonic()
    home = Path(args.home).resolve()
    shutil.rmtree(home, ignore_errors=True)
    (home / "logs").mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # the examples leave retry_delay to the deployment's default (300 s): a demo retries sooner
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
        "AIRFLOW_CONN_FATEFLOW_DEFAULT": json.dumps({
            "conn_type": "fateflow", "host": "127.0.0.1", "port": port,
            "extra": {**INITIATOR, "board_url": BOARD},
        }),
    }
    os.environ.update(env)  # for the summary, read in this process

    sandbox = Sandbox(port, args.pace, home / "logs" / "fateflow-sandbox.log")
    durations: dict[str, float] = {}
    failed: list[str] = []
    ok = False
    say(f"FATE Flow sandbox on http://127.0.0.1:{port} (each component takes {args.pace:g} s); "
        f"Airflow home {rel(home)}")
    try:
        sandbox.start()
        if args.fail:
            from airflow_provider_fateflow.testing import FateFlowSandbox

            FateFlowSandbox(port=port).behave(component=args.fail, role="host", jobs=100,
                                              fail=f"RuntimeError: {args.fail} failed on purpose (demo --fail)")
        say("Creating the Airflow metadata database (airflow db migrate) ...")
        migrate = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True)
        (home / "logs" / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode:
            raise RuntimeError(f"airflow db migrate failed; see {rel(home / 'logs' / 'db-migrate.log')}")
        for i, dag_id in enumerate(dag_ids, 1):
            log = home / "logs" / f"{dag_id}.log"
            say(f"\n[{i}/{len(dag_ids)}] airflow dags test {dag_id}   (output: {rel(log)})")
            code, durations[dag_id] = run_dag_test(dag_id, env, log)
            if code:
                failed.append(dag_id)
                say(f"      FAILED (exit code {code}); the errors in {rel(log)}:")
                for line in error_lines(log):
                    say("      | " + line)
                break
        ok = summarize(list(durations), port, durations) and not failed
    except Exception as err:  # noqa: BLE001 - the demo reports and exits non-zero
        say(f"\nDEMO FAILED: {type(err).__name__}: {err}")
        ok = False
    finally:
        sandbox.stop()
    say(f"\nLogs: {rel(home / 'logs')}/ - <dag_id>.log is the full `airflow dags test` output (every task's log),")
    say("      fateflow-sandbox.log the sandbox's requests.")
    say(f"Demo {'finished' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
