"""The operators and sensors on a real FATE Flow 2.2.0: the v2 example DAG end to end, and a failing job.

Skipped unless ``FATEFLOW_V2_URL`` points at one (``make test-fate2``). The same operator classes as on v1: the
connection's ``api_version`` picks the dialect. ``dag.test()`` runs the deferred wait inline.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from examples.helpers import load_dagbag, sync_dag_to_db  # noqa: F401 - sync_dag_to_db: the fixture

from airflow_provider_fateflow.client.errors import FateFlowInputError, FateFlowJobFailedError

URL = os.environ.get("FATEFLOW_V2_URL")
pytestmark = [pytest.mark.skipif(not URL, reason="FATEFLOW_V2_URL is not set (make test-fate2 runs a FATE Flow 2.2.0)"),
              pytest.mark.usefixtures("airflow_db")]
EXAMPLES = Path(__file__).resolve().parents[2] / "dags" / "examples"


@pytest.fixture
def v2_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = urlsplit(URL or "")
    monkeypatch.setenv("AIRFLOW_CONN_FATEFLOW_V2", json.dumps({
        "conn_type": "fateflow", "host": parts.hostname, "port": parts.port,
        "extra": {"api_version": "v2", "initiator_role": "guest", "initiator_party_id": 9999, "read_timeout": 120}}))


def _example_dag():
    bag = load_dagbag(EXAMPLES / "example_fateflow_v2_train.py")
    assert not bag.import_errors, bag.import_errors
    return bag.dags["example_fateflow_v2_train"]


def test_the_v2_example_dag_trains_gates_on_auc_and_exports(v2_connection, sync_dag_to_db, tmp_path):
    dag = _example_dag()
    for task in dag.tasks:  # poll faster than a real deployment would; the logic is the DAG's
        if hasattr(task, "poll_interval"):
            task.poll_interval = 2
    sync_dag_to_db(dag)
    dr = dag.test(run_conf={"export_dir": str(tmp_path), "guest_table": "ex_guest_v2", "host_table": "ex_host_v2"})
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    assert dr.state == "success", states
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        values = {(x.task_id, x.key): x.value for x in session.query(XComModel).filter(
            XComModel.dag_id == dr.dag_id, XComModel.run_id == dr.run_id)}
    metrics = values[("evaluate", "return_value")]
    metrics = json.loads(metrics) if isinstance(metrics, str) else metrics
    auc = metrics["values"]["evaluation.lr_0.train_set.auc"]
    assert 0.7 <= auc <= 1.0
    exported = values[("export", "return_value")]
    assert Path(str(json.loads(exported) if exported.startswith('"') else exported)).is_file()


def test_a_failing_v2_job_fails_the_task_with_the_failed_task_and_party(v2_connection, capfd):
    from airflow_provider_fateflow.operators.job import SubmitJobOperator
    from operators.helpers import make_context

    dag = json.loads(json.dumps(_lr_dag_missing_tables()))
    op = SubmitJobOperator(task_id="bad", fateflow_conn_id="fateflow_v2", dag_schema=dag, poll_interval=2,
                           deferrable=False)
    with pytest.raises(FateFlowJobFailedError, match="reader_0 failed on (guest|host)/"):
        op.execute(make_context())
    log = "".join(capfd.readouterr())
    assert "Failed components" in log and "reader_0" in log


def test_v1_arguments_on_a_v2_connection_are_refused_before_sending(v2_connection):
    from airflow_provider_fateflow.operators.job import SubmitJobOperator
    from operators.helpers import make_context

    with pytest.raises(FateFlowInputError, match="speaks FATE Flow 2.x"):
        SubmitJobOperator(task_id="v1", fateflow_conn_id="fateflow_v2", conf={"initiator": {}},
                          dsl={}).execute(make_context())


def _lr_dag_missing_tables() -> dict:
    import yaml

    dag = yaml.safe_load((EXAMPLES / "conf" / "v2_lr_dag.yaml").read_text())
    for party in dag["dag"]["party_tasks"].values():
        party["tasks"]["reader_0"]["parameters"] = {"namespace": "no_such_namespace", "name": "no_such_table"}
    return dag
