"""Deployment test: a real Airflow on loopback runs an example DAG against the sandbox.

Starts the sandbox and Airflow's api-server, scheduler (LocalExecutor), dag-processor and triggerer, all
bound to 127.0.0.1 (the scheduler and triggerer without their log servers, which would listen on every
interface), triggers the DAG through the REST API, waits for the run to succeed, and checks that the
deferred wait ran in the triggerer. Every process is stopped by its PID (its own process group).

Then (unless --no-browser) scripts/browser_check.py drives Debian's headless Chromium through the UI of
that deployment: the FATE Flow connection form, its Test button, the training task's FATE Board link and
the Providers page (screenshots in .airflow/browser/, git-ignored).

Usage: python scripts/deploy_test.py [--dag-id ID] [--timeout SECONDS] [--keep] [--no-browser] [--hold SECONDS]
Exit code 0 when the run succeeded, the triggerer fired the provider's trigger and the browser check passed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import Stack, free_port, http, wait_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def triggered_tasks(home: Path, dag_id: str, run_id: str) -> list[str]:
    """Tasks of the run whose trigger fired in the triggerer (its per-trigger log files say so)."""
    run_dir = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    tasks = set()
    for log in run_dir.glob("task_id=*/**/*.log.trigger.*.log"):
        text = log.read_text(errors="replace")
        if "Trigger fired event" in text and "trigger completed" in text:
            task_dir = next(p for p in log.parents if p.name.startswith("task_id="))
            tasks.add(task_dir.name.removeprefix("task_id="))
    return sorted(tasks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-id", default="example_fateflow_train_and_deploy")
    parser.add_argument("--dags-folder", default=str(REPO / "dags" / "examples"))
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the whole DAG run")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds each FATE component takes")
    parser.add_argument("--keep", action="store_true", help="keep the Airflow home (logs) afterwards")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless-Chromium UI check")
    parser.add_argument("--screenshots", default=str(REPO / ".airflow" / "browser"),
                        help="folder for the browser check's screenshots (default .airflow/browser)")
    parser.add_argument("--docs-images", action="store_true",
                        help="also write docs/img/connection-form.png and docs/img/task-log.png")
    parser.add_argument("--hold", type=float, default=0, help="keep the deployment up this many seconds at the end")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="fateflow-deploy-"))
    api_port, flow_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": args.dags_folder,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the connection form's Test button (browser check)
        "AIRFLOW_CONN_FATEFLOW_DEFAULT": json.dumps({
            "conn_type": "fateflow", "host": "127.0.0.1", "port": flow_port,
            "extra": {"initiator_role": "guest", "initiator_party_id": 9999, "board_url": "http://127.0.0.1:8080"},
        }),
    }
    stack = Stack(home, env)
    ok = False
    started = time.time()
    try:
        stack.start("sandbox", str(BIN / "fateflow-sandbox"), "--host", "127.0.0.1", "--port", str(flow_port),
                    "--pace", str(args.pace), "--state-dir", str(home / "sandbox"))
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        stack.start("api-server", str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(api_port))
        stack.start("scheduler", str(BIN / "airflow"), "scheduler", "--skip-serve-logs")
        stack.start("dag-processor", str(BIN / "airflow"), "dag-processor")
        stack.start("triggerer", str(BIN / "airflow"), "triggerer", "--skip-serve-logs")

        def healthy() -> bool:
            health = http("GET", f"{api}/api/v2/monitor/health")
            states = {k: (v or {}).get("status") for k, v in health.items()}
            return all(states.get(k) == "healthy" for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

        wait_for("all components healthy", healthy, 180, stack)
        token = http("GET", f"{api}/auth/token")["access_token"]
        wait_for(f"DAG {args.dag_id} to be parsed",
                 lambda: http("GET", f"{api}/api/v2/dags/{args.dag_id}", token=token).get("dag_id"), 180, stack)
        run = http("POST", f"{api}/api/v2/dags/{args.dag_id}/dagRuns", {"logical_date": None}, token=token)
        run_id = run["dag_run_id"]
        print(f"triggered {args.dag_id} run {run_id}", flush=True)

        def finished() -> str | None:
            state = http("GET", f"{api}/api/v2/dags/{args.dag_id}/dagRuns/{run_id}", token=token)["state"]
            return state if state in ("success", "failed") else None

        state = wait_for("the DAG run to finish", finished, args.timeout, stack, interval=5)
        tis = http("GET", f"{api}/api/v2/dags/{args.dag_id}/dagRuns/{run_id}/taskInstances", token=token)
        summary = {ti["task_id"]: ti["state"] for ti in tis.get("task_instances", [])}
        print(f"run {run_id}: {state} in {time.time() - started:.0f} s; tasks: {json.dumps(summary)}", flush=True)
        deferred = triggered_tasks(home, args.dag_id, run_id)
        print(f"tasks whose wait ran in the triggerer: {', '.join(deferred) or 'none'}", flush=True)
        ok = state == "success" and bool(deferred)
        if ok and not args.no_browser:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import browser_check

            browser_started = time.time()
            failures = browser_check.run(
                api=api, dag_id=args.dag_id, run_id=run_id, flow_port=flow_port, shots=Path(args.screenshots),
                docs_images=args.docs_images,
            )
            print(f"browser check: {len(failures)} failure(s) in {time.time() - browser_started:.0f} s", flush=True)
            for failure in failures:
                print(f"  BROWSER FAIL: {failure}", flush=True)
            ok = not failures
        if args.hold:
            print(f"holding the deployment for {args.hold:.0f} s: {api} (sandbox port {flow_port})", flush=True)
            time.sleep(args.hold)
    finally:
        stack.stop()
        if not ok:
            for name in stack.procs:
                print(f"---- last lines of {name}.log ----\n" + "\n".join(stack.log(name).splitlines()[-40:]))
        if args.keep or not ok:
            print(f"Airflow home and logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    print(f"deployment: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
