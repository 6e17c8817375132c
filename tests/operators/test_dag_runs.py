"""dag.test() runs against the sandbox: every operator family in poke, reschedule and deferrable mode,
and a real retry that reattaches to the job its first try submitted."""
from __future__ import annotations

import pytest

from operators.helpers import EXAMPLES

pytestmark = pytest.mark.usefixtures("airflow_db")


def _states(dr):
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def _xcoms(dr, dag_id):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return {(x.task_id, x.key): x.value for x in
                session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == dr.run_id)}


def _value(stored):
    import json

    return json.loads(stored) if isinstance(stored, str) else stored


def test_poke_mode_dag(sb):
    from dags.fateflow_dags import poke_dag

    dr = poke_dag.test()
    assert dr.state == "success", _states(dr)
    xcoms = _xcoms(dr, "fateflow_poke")
    board = xcoms[("train", "board_url")]
    board = board if isinstance(board, str) else str(board)
    assert "index.html#/dashboard?job_id=" in board
    assert any(key[0] == "train" and key[1].startswith("_link_") for key in xcoms), sorted(xcoms)
    # bind was given the training (parent) version: it binds the deployment made upstream, not a second one
    deployed = _value(xcoms[("deploy", "return_value")])
    assert str(_value(xcoms[("bind", "return_value")])["model_version"]) == str(deployed)
    assert ("bind", "fateflow_deployment") not in xcoms  # bind deployed nothing itself


def test_reschedule_mode_dag(sb):
    from dags.fateflow_dags import reschedule_dag

    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    hook = FateFlowHook()
    if not hook.table.info("experiment", "breast_hetero_guest").exists:
        hook.data.upload({"file": str(EXAMPLES / "guest.csv"), "head": 1, "partition": 4,
                          "namespace": "experiment", "table_name": "breast_hetero_guest"}, drop=True)
    sb.configure(pace=3.0)  # the job takes a while: the sensors reschedule
    dr = reschedule_dag.test()
    assert dr.state == "success", _states(dr)
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        rescheduled = {r.ti_id for r in session.query(TaskReschedule)}
    from airflow_provider_fateflow.version_compat import AIRFLOW_V_3_3_PLUS

    if AIRFLOW_V_3_3_PLUS:  # Airflow 3.1's dag.test() keeps no task_reschedule rows once the sensor succeeded
        assert {ti.id for ti in dr.get_task_instances() if ti.task_id != "train"} & rescheduled


def test_deferrable_dag(sb):
    from dags.fateflow_dags import deferrable_dag

    sb.configure(pace=0.3)
    dr = deferrable_dag.test()
    assert dr.state == "success", _states(dr)


def test_retry_reattaches_and_the_server_holds_one_job(sb):
    from dags.fateflow_dags import retry_dag

    sb.configure(pace=0.3)
    before = sb.jobs_count()
    dr = retry_dag.test()
    assert dr.state == "success", _states(dr)
    (ti,) = dr.get_task_instances()
    assert ti.try_number == 2
    assert sb.jobs_count() == before + 1
