"""Every file in dags/examples imports in a DagBag with no errors, touching neither the network nor the
metadata database; each DAG says what it shows and which connection it uses."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from examples.helpers import EXAMPLES_DIR

EXPECTED = {
    "example_fateflow_train_and_deploy",
    "example_fateflow_scheduled_retraining",
    "example_fateflow_batch_predict",
    "example_fateflow_wait_for_external_job",
    "example_fateflow_model_transfer",
    "example_fateflow_job_operations",
    "example_fateflow_v2_train",  # FATE 2.x: run against a real FATE Flow 2.2.0 in tests/v2
}

# Runs in a fresh interpreter: any socket connection or database connection made while the DAG files are
# imported raises, and so becomes an import error of the DagBag.
_PROBE = textwrap.dedent("""
    import json, socket, sys

    def _no_network(*args, **kwargs):
        raise RuntimeError(f"network access while importing DAGs: {args!r}")

    socket.socket.connect = _no_network
    socket.socket.connect_ex = _no_network
    socket.create_connection = _no_network
    socket.getaddrinfo = _no_network

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _no_database(*args):
        raise RuntimeError("metadata database connection while importing DAGs")

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print("RESULT " + json.dumps({
        "errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": {d.dag_id: d.fileloc for d in bag.dags.values()},
        "files": sorted(bag.dagbag_stats and {s.file for s in bag.dagbag_stats} or []),
    }))
""")


def test_dagbag_imports_every_example_without_network_or_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update({
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/no-such-dir/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES_DIR),
    })
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(EXAMPLES_DIR)], env=env, capture_output=True,
                          text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["errors"] == {}
    assert set(result["dags"]) == EXPECTED
    py_files = {p.name for p in EXAMPLES_DIR.glob("*.py")}
    assert {Path(f).name for f in result["dags"].values()} == py_files  # one DAG per file, no stray file


def test_each_example_documents_what_it_shows_and_its_connection(example_dags):
    for dag_id in EXPECTED:
        dag = example_dags[dag_id]
        doc = dag.doc_md or ""
        assert "What it shows" in doc, dag_id
        assert "Connection" in doc and ("fateflow_default" in doc or "fateflow_v2" in doc), dag_id
        assert "example" in dag.tags and "fateflow" in dag.tags, dag_id
        module = ast.parse(Path(dag.fileloc).read_text())
        assert ast.get_docstring(module) == doc.strip() or ast.get_docstring(module) in doc, dag_id


def test_deferrable_tasks_retry_once(example_dags):
    """A retry reattaches to the job (safe), and covers the scheduler race of fast triggers (AIRFLOW3.md §4)."""
    for dag in example_dags.values():
        for task in dag.tasks:
            if getattr(task, "deferrable", False):
                assert task.retries >= 1, f"{dag.dag_id}.{task.task_id}"


def test_retraining_runs_weekly_or_when_the_upload_makes_a_new_training_table(example_dags):
    from airflow.sdk import AssetAlias
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.trigger import CronTriggerTimetable

    retraining = example_dags["example_fateflow_scheduled_retraining"]
    timetable = retraining.timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert isinstance(timetable.timetable, CronTriggerTimetable)
    assert timetable.timetable.summary == "0 3 * * 1"
    # the condition is an AssetAlias (Airflow 3.1) or its serialized form (3.3): either way, one alias
    aliases = {alias for alias, _ in timetable.asset_condition.iter_asset_aliases()}
    upload = example_dags["example_fateflow_train_and_deploy"].get_task("upload_guest")
    outlet_aliases = {o.name for o in upload.outlets if isinstance(o, AssetAlias)}
    assert aliases and aliases <= outlet_aliases, (aliases, outlet_aliases)
    assert retraining.start_date is None  # first run: the next Monday or upload, not the moment of unpausing
