"""Every example DAG runs to success with ``dag.test()`` against the sandbox; the retraining DAG takes
both its promote and its keep-the-champion paths; a FATE job failure fails the DAG with FATE's reason."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from examples.helpers import (
    MODEL_ID,
    noisy_guest_csv,
    states,
    train_and_deploy,
    upload_training_tables,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("airflow_db")

TRAIN = "example_fateflow_train_and_deploy"
RETRAIN = "example_fateflow_scheduled_retraining"


def _hook():
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    return FateFlowHook()


def _unpaused(dag) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id == dag.dag_id).update({"is_paused": False})


def test_train_and_deploy(sb, example_dags, run_example, sync_dag_to_db):
    """Upload, train (deferred), metrics, predict DSL, deploy, load, bind; the upload queues the retraining."""
    retraining = example_dags[RETRAIN]
    sync_dag_to_db(retraining)  # known to the metadata DB and unpaused, as in a deployment
    _unpaused(retraining)

    dr = run_example(example_dags[TRAIN])
    assert dr.state == "success", states(dr)
    x = xcoms(dr)
    job_id = x[("train", "return_value")]
    assert x[("train", "board_url")].startswith("http://fateboard.test:8080/index.html#/dashboard?job_id=" + job_id)
    assert x[("evaluate", "return_value")]["values"]["train.hetero_lr_0.auc"] > 0.9
    deployed = x[("deploy", "return_value")]
    assert deployed != job_id
    assert x[("bind", "return_value")]["service_id"] == "breast-cancer-lr"
    hook = _hook()
    assert hook.model.get_predict_dsl(MODEL_ID, deployed)["components"].keys() == {"reader_0", "data_transform_0", "hetero_lr_0"}
    [job] = hook.job.query(job_id=job_id, role="guest", party_id=9999)
    assert job.runtime_conf["airflow"]["description"] == f"{TRAIN} / train / {dr.run_id}"

    # The guest upload added the table's Asset to the alias the retraining DAG is scheduled on: it is queued.
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session

    uri = f"fateflow://127.0.0.1:{sb.port}/experiment/breast_hetero_guest"
    with create_session() as session:
        events = session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).filter(
            AssetModel.uri == uri, AssetEvent.source_run_id == dr.run_id).all()
        assert [e.extra["count"] for e in events] == [200], events
        queued = session.query(AssetDagRunQueue).filter(AssetDagRunQueue.target_dag_id == RETRAIN).all()
        assert queued, "the upload did not queue a run of the retraining DAG"
        session.query(AssetDagRunQueue).delete()


def test_training_failure_fails_the_dag_with_fates_reason(sb, example_dags, run_example, capfd):
    sb.behave(component="hetero_lr_0", fail="ValueError: the host's features are all NaN", role="host", jobs=2)
    dr = run_example(example_dags[TRAIN])
    assert dr.state == "failed", states(dr)
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert str(tis["train"].state) == "failed"
    assert tis["train"].try_number == 2  # retries=1: the retry submitted a second job, which failed as well
    assert {str(tis[t].state) for t in ("evaluate", "deploy", "load", "bind")} == {"upstream_failed"}
    log = capfd.readouterr()
    text = log.out + log.err
    assert "component hetero_lr_0 (HeteroLR) on host/10000: failed" in text
    assert "ValueError: the host's features are all NaN" in text
    assert "FateFlowJobFailedError" in text


def test_retraining_promotes_a_better_model_and_keeps_the_champion_otherwise(sb, example_dags, run_example, tmp_path):
    from airflow.models.variable import Variable

    dag = example_dags[RETRAIN]
    key = "fateflow_champion_breast-cancer-lr-weekly"
    Variable.delete(key)
    hook = _hook()

    # 1. New labels arrive, and some are wrong. There is no champion yet: the model is promoted.
    upload_training_tables(hook, noisy_guest_csv(tmp_path))
    first = run_example(dag)
    assert first.state == "success", states(first)
    s = states(first)
    assert s["promote.bind"] == "success" and s["keep_champion"] == "skipped", s
    assert s["clean_up_old_jobs"] == "skipped", s  # nothing lost yet
    champion = json.loads(Variable.get(key))
    assert 0.7 < champion["auc"] < 0.9, champion
    assert xcoms(first)[("compare_with_champion", "decision")]["reason"].startswith("no champion")

    # 2. The labels are fixed: the new model is better, it is promoted, the old champion's job is cleaned up.
    upload_training_tables(hook)
    second = run_example(dag)
    assert second.state == "success", states(second)
    s = states(second)
    assert s["promote.bind"] == "success" and s["keep_champion"] == "skipped", s
    assert s["clean_up_old_jobs[0]"] == "success", s
    new_champion = json.loads(Variable.get(key))
    assert new_champion["auc"] > champion["auc"] + 0.05
    assert new_champion["job_id"] == xcoms(second)[("retrain", "return_value")]
    assert hook.component.metric_all(champion["job_id"], "guest", 9999, "evaluation_0") in ({}, None)

    # 3. Bad labels again: the candidate is worse, the champion stays, the rejected job is cleaned up.
    upload_training_tables(hook, noisy_guest_csv(tmp_path))
    third = run_example(dag)
    assert third.state == "success", states(third)
    s = states(third)
    assert s["keep_champion"] == "success" and s["promote.deploy"] == "skipped", s
    decision = xcoms(third)[("compare_with_champion", "decision")]
    assert not decision["promote"] and "does not beat champion AUC" in decision["reason"], decision
    assert json.loads(Variable.get(key)) == new_champion
    rejected = xcoms(third)[("retrain", "return_value")]
    assert xcoms(third)[("keep_champion", "return_value")] == [rejected]
    assert hook.component.metric_all(rejected, "guest", 9999, "evaluation_0") in ({}, None)
    upload_training_tables(hook)  # leave clean tables for the next tests


def test_batch_predict(sb, example_dags, run_example, tmp_path):
    _, deployed = train_and_deploy(_hook())
    dr = run_example(example_dags["example_fateflow_batch_predict"], run_conf={"output_dir": str(tmp_path)})
    assert dr.state == "success", states(dr)
    x = xcoms(dr)
    assert x[("pick_model", "return_value")] == {"model_id": MODEL_ID, "model_version": deployed}
    summary = x[("summarize", "return_value")]
    assert summary["rows"] == 200 and 0 < summary["predicted_positive"] < 200, summary
    assert Path(summary["directory"]).parent.parent == tmp_path
    day = dr.run_after.strftime("%Y%m%d")
    assert x[("upload_guest_batch", "return_value")]["table_name"] == f"breast_hetero_guest_{day}"
    assert not _hook().table.info("batch", f"breast_hetero_guest_{day}").exists  # cleaned up


def test_wait_for_external_job(sb, example_dags, run_example, tmp_path):
    import threading

    hook = _hook()
    upload_training_tables(hook)
    conf = json.loads((Path(__file__).resolve().parents[2] / "dags/examples/conf/hetero_lr_conf.json").read_text())
    for role in ("guest", "host"):
        conf["component_parameters"]["role"][role]["0"]["reader_0"]["table"] = {
            "namespace": "experiment", "name": f"breast_hetero_{role}"}
    conf.pop("airflow")
    sb.hold(True)  # the job waits in FATE's queue: the sensors must defer
    job = hook.job.submit(conf, Path(__file__).resolve().parents[2] / "dags/examples/conf/hetero_lr_dsl.json")
    timer = threading.Timer(4.0, sb.hold, args=(False,))
    timer.start()
    try:
        dr = run_example(example_dags["example_fateflow_wait_for_external_job"],
                         run_conf={"job_id": job.job_id, "log_dir": str(tmp_path)})
    finally:
        timer.cancel()
    assert dr.state == "success", states(dr)
    x = xcoms(dr)
    assert x[("wait_for_job", "return_value")]["status"] == "success"
    assert x[("metrics", "return_value")]["values"]["train.hetero_lr_0.auc"] > 0.9
    logs = Path(x[("download_logs", "return_value")])
    assert logs.parent.parent == tmp_path and any(p.is_file() for p in logs.rglob("*"))


def test_model_transfer(sb, example_dags, run_example, tmp_path):
    hook = _hook()
    _, deployed = train_and_deploy(hook)
    dr = run_example(example_dags["example_fateflow_model_transfer"], run_conf={"work_dir": str(tmp_path)})
    assert dr.state == "success", states(dr)
    x = xcoms(dr)
    assert Path(x[("export", "return_value")]).is_file()
    imported = x[("import_to_target", "return_value")]
    assert imported["model_id"] == MODEL_ID + "_transferred" and imported["model_version"] == deployed
    assert x[("restore", "return_value")]["model_version"] == deployed
    assert hook.model.query(model_id=MODEL_ID + "_transferred", model_version=deployed, role="guest", party_id=9999)


OPERATIONS = "example_fateflow_job_operations"


def _train_conf() -> dict:
    conf = json.loads((Path(__file__).resolve().parents[2] / "dags/examples/conf/hetero_lr_conf.json").read_text())
    for role in ("guest", "host"):
        conf["component_parameters"]["role"][role]["0"]["reader_0"]["table"] = {
            "namespace": "experiment", "name": f"breast_hetero_{role}"}
    conf.pop("airflow")
    return conf


def _submit(hook) -> str:
    return hook.job.submit(_train_conf(), Path(__file__).resolve().parents[2] / "dags/examples/conf/hetero_lr_dsl.json").job_id


def test_operations_rerun_a_failed_job(sb, example_dags, run_example):
    from examples.helpers import wait_job

    hook = _hook()
    upload_training_tables(hook)
    sb.behave(component="hetero_lr_0", fail="ConnectionError: host 10000 restarted", role="host")
    job_id = _submit(hook)
    assert wait_job(hook, job_id).status.value == "failed"
    dr = run_example(example_dags[OPERATIONS], run_conf={"action": "rerun", "job_id": job_id})
    assert dr.state == "success", states(dr)
    s = states(dr)
    assert s["stop"] == s["clean_queue"] == s["table_info"] == "skipped", s
    assert wait_job(hook, job_id).status.value == "success"
    x = xcoms(dr)
    assert x[("component_parameters", "return_value")]["module"] == "HeteroLR"
    assert x[("component_model", "return_value")]["data"]


def test_operations_stop_and_clean_queue(sb, example_dags, run_example):
    from examples.helpers import wait_job

    hook = _hook()
    upload_training_tables(hook)
    sb.hold(True)  # no free resources: jobs wait in the queue
    stuck, queued = _submit(hook), _submit(hook)
    dr = run_example(example_dags[OPERATIONS], run_conf={"action": "stop", "job_id": stuck})
    assert dr.state == "success", states(dr)
    assert wait_job(hook, stuck).status.value == "canceled"
    dr = run_example(example_dags[OPERATIONS], run_conf={"action": "clean_queue"})
    assert dr.state == "success", states(dr)
    assert queued in xcoms(dr)[("clean_queue", "return_value")]
    assert wait_job(hook, queued).status.value == "canceled"


def test_operations_archive_a_table(sb, example_dags, run_example, tmp_path):
    upload_training_tables(_hook())
    dr = run_example(example_dags[OPERATIONS], run_conf={"action": "archive_table", "archive_dir": str(tmp_path)})
    assert dr.state == "success", states(dr)
    x = xcoms(dr)
    assert x[("table_info", "return_value")]["count"] == 200
    table = Path(x[("download_table", "return_value")])
    assert table.is_relative_to(tmp_path) and len((table / "table.csv").read_text().splitlines()) == 201


def test_operations_refuses_a_rerun_without_a_job(sb, example_dags, run_example):
    dr = run_example(example_dags[OPERATIONS], run_conf={"action": "rerun"})
    assert dr.state == "failed", states(dr)
    assert states(dr)["choose"] == "failed"
