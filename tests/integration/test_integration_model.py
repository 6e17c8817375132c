"""``hook.model``: deploy, predict, serve, store/restore and export/import of one trained model."""
from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from _integration_helpers import (
    DEPLOY_COMPONENTS,
    EXAMPLES,
    GUEST,
    MODEL_ID,
    UNKNOWN_JOB,
    Server,
    Trained,
    assert_fate_error,
    example,
    local_board,
    upload_conf,
    wait_job,
)

from airflow_provider_fateflow.client import (
    DeployResult,
    FateFlowApiError,
    FateFlowNotFoundError,
    JobStatus,
    LocalJobResult,
    ModelImportResult,
    ModelInfo,
    PartyResults,
)
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

NOT_DEPLOYED = "Only deployed models could be used to execute process of loading. Please deploy model before loading."


def model_conf(version: str, name: str = "publish_load_conf.json") -> dict:
    conf = example(name)
    conf["job_parameters"]["model_version"] = version
    return conf


def party_conf(version: str, **over) -> dict:
    return {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": version, **over}


# -- deploy and predict -------------------------------------------------------------------------------------------


def test_deploy(hook: FateFlowHook, trained: Trained):
    result = hook.model.deploy(MODEL_ID, trained.train_job, cpn_list=DEPLOY_COMPONENTS)
    assert isinstance(result, DeployResult)
    assert result.model_id == MODEL_ID and result.model_version.isdigit()
    assert result.model_version not in (trained.train_job, trained.deployed_version)  # a NEW child version
    assert result.parties == {"arbiter": {10000: 0}, "guest": {GUEST: 0}, "host": {10000: 0}}
    assert result.detail["guest"][str(GUEST)]["retmsg"] == f"deploy model of role guest {GUEST} success"
    predict_dsl = hook.job.generate_dsl(example("hetero_lr_dsl.json"), DEPLOY_COMPONENTS)
    by_dsl = hook.model.deploy(MODEL_ID, trained.train_job, predict_dsl=predict_dsl)
    assert hook.model.get_predict_dsl(MODEL_ID, by_dsl.model_version) == predict_dsl


def test_deploy_failure_unknown_version(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.model.deploy(MODEL_ID, UNKNOWN_JOB, cpn_list=DEPLOY_COMPONENTS)
    assert_fate_error(err.value, FateFlowNotFoundError, 404, f"Model {MODEL_ID} {UNKNOWN_JOB} not found.",
                      "model.deploy", http_status=404)


def test_predict_job_with_the_deployed_version(hook: FateFlowHook, trained: Trained):
    conf = example("hetero_lr_predict_conf.json")
    conf["job_parameters"]["common"]["model_version"] = trained.deployed_version
    result = hook.job.submit(conf)  # no DSL: the server uses the deployed inference DSL
    assert (result.model_id, result.model_version) == (MODEL_ID, trained.deployed_version)
    assert wait_job(hook, result.job_id) is JobStatus.SUCCESS
    row = hook.job.query(job_id=result.job_id, role="guest", party_id=GUEST)[0]
    assert row.dsl == hook.model.get_predict_dsl(MODEL_ID, trained.deployed_version)


def test_batch_predict_of_unlabelled_rows(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    """What batch prediction is for: rows without a label get a score; the label column says None."""
    with open(EXAMPLES / "guest.csv", newline="") as fh:
        table = list(csv.reader(fh))
    keep = [i for i, column in enumerate(table[0]) if column != "y"]
    unlabelled = tmp_path / "guest_unlabelled.csv"
    with open(unlabelled, "w", newline="") as fh:
        csv.writer(fh).writerows([[row[i] for i in keep] for row in table])
    upload = hook.data.upload({**upload_conf("guest_unlabelled"), "file": str(unlabelled)}, drop=True)
    assert wait_job(hook, upload.job_id, "local", 0) is JobStatus.SUCCESS
    conf = example("hetero_lr_predict_conf.json")
    conf["job_parameters"]["common"]["model_version"] = trained.deployed_version
    conf["component_parameters"]["role"]["guest"]["0"]["reader_0"]["table"]["name"] = "guest_unlabelled"
    result = hook.job.submit(conf)
    assert wait_job(hook, result.job_id) is JobStatus.SUCCESS
    out = hook.component.output_data(result.job_id, component_name="hetero_lr_0", output_path=tmp_path / "out")
    with open(out / "data.csv", newline="") as fh:
        predicted = list(csv.DictReader(fh))
    assert len(predicted) == len(table) - 1 and {r["label"] for r in predicted} == {"None"}
    assert all(0.0 <= float(r["predict_score"]) <= 1.0 and r["type"] == "predict" for r in predicted)


def test_predict_job_failure_parent_version(hook: FateFlowHook, trained: Trained):
    conf = example("hetero_lr_predict_conf.json")
    conf["job_parameters"]["common"]["model_version"] = trained.train_job
    with pytest.raises(FateFlowApiError) as err:
        hook.job.submit(conf)
    assert_fate_error(err.value, FateFlowApiError, 103, "model has not been deployed yet", "job.submit")


# -- FATE-Serving: load and bind ------------------------------------------------------------------------------------


def test_load_conf(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    result = hook.model.load(model_conf(trained.deployed_version))
    assert isinstance(result, PartyResults) and result.ok
    assert result.parties == {"guest": {GUEST: 0}, "host": {10000: 0}}  # the arbiter is skipped
    assert result.job_id and result.job_id.isdigit()
    path = tmp_path / "load.json"
    path.write_text(json.dumps(model_conf(trained.deployed_version)))
    assert hook.model.load(str(path)).ok  # a conf file works the same


def test_load_failure_parent_version(hook: FateFlowHook, trained: Trained):
    with pytest.raises(FateFlowApiError) as err:
        hook.model.load(model_conf(trained.train_job))
    assert_fate_error(err.value, FateFlowApiError, 101, NOT_DEPLOYED, "model.load")
    assert f"guest {GUEST}: {NOT_DEPLOYED}" in str(err.value)  # the per-party reason, not just "failed"
    assert err.value.data["guest"] == {str(GUEST): 100}


def test_load_job_id(hook: FateFlowHook, trained: Trained):
    result = hook.model.load(job_id=trained.deployed_version)
    assert result.ok and result.parties == {"guest": {GUEST: 0}, "host": {10000: 0}}


def test_load_job_id_failure_unknown_version(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.model.load(job_id=UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowNotFoundError, 101, f"Model with version {UNKNOWN_JOB} can not be found",
                      "model.load")


def test_bind(hook: FateFlowHook, trained: Trained):
    result = hook.model.bind(model_conf(trained.deployed_version, "bind_conf.json"))
    assert result.ok and result.retmsg == "service id is airflow-test-service"
    by_job = hook.model.bind({"service_id": "by-job-id"}, job_id=trained.deployed_version)
    assert by_job.retmsg == "service id is by-job-id"


def test_bind_failure_missing_service_id(hook: FateFlowHook, trained: Trained):
    conf = model_conf(trained.deployed_version, "bind_conf.json")
    del conf["service_id"]
    with pytest.raises(FateFlowApiError) as err:
        hook.model.bind(conf)
    assert_fate_error(err.value, FateFlowApiError, 101, "no service id", "model.bind")


# -- model store: store and restore --------------------------------------------------------------------------------


def test_store_and_restore(hook: FateFlowHook, trained: Trained):
    stored = hook.model.store(party_conf(trained.deployed_version, force_update=False))
    assert isinstance(stored, LocalJobResult) and stored.job_id.isdigit()
    assert stored.board_url == local_board(stored.job_id)  # the connection's board, FATE's local party 0
    assert wait_job(hook, stored.job_id, "local", 0) is JobStatus.SUCCESS
    restored = hook.model.restore(party_conf(trained.deployed_version))
    assert restored.board_url == local_board(restored.job_id)
    assert wait_job(hook, restored.job_id, "local", 0) is JobStatus.SUCCESS
    row = hook.job.query(job_id=restored.job_id, role="local", party_id=0)[0]
    assert row.dsl == {"components": {"modeloperation_restore_0": {"module": "ModelRestore"}}}


def test_store_failure_missing_party_id(hook: FateFlowHook, trained: Trained, server: Server):
    before = server.sandbox.jobs_count()
    conf = party_conf(trained.deployed_version)
    del conf["party_id"]
    with pytest.raises(FateFlowApiError) as err:
        hook.model.store(conf)
    assert_fate_error(err.value, FateFlowApiError, 101, "required argument are missing: party_id", "model.store")
    assert server.sandbox.jobs_count() == before


def test_restore_failure_missing_model_version(hook: FateFlowHook):
    conf = party_conf("x")
    del conf["model_version"]
    with pytest.raises(FateFlowApiError) as err:
        hook.model.restore(conf)
    assert_fate_error(err.value, FateFlowApiError, 101, "required argument are missing: model_version",
                      "model.restore")


# -- export and import ---------------------------------------------------------------------------------------------


def test_export_and_import(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    path = hook.model.export(party_conf(trained.deployed_version), tmp_path)
    assert path == tmp_path / f"guest#{GUEST}#{MODEL_ID}_{trained.deployed_version}.zip"
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert {"define/define_meta.yaml", "import_model.json"} <= set(z.namelist())
    result = hook.model.imp(party_conf(trained.deployed_version, force_update=1), path)
    assert isinstance(result, ModelImportResult)
    assert (result.model_id, result.model_version, result.role, result.party_id) == (
        MODEL_ID, trained.deployed_version, "guest", GUEST)
    assert result.job_id and result.job_id.isdigit()


def test_export_failure_missing_model(hook: FateFlowHook, tmp_path: Path):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.model.export(party_conf(UNKNOWN_JOB), tmp_path)
    assert_fate_error(err.value, FateFlowNotFoundError, 404, f"{MODEL_ID} {UNKNOWN_JOB} does not exist.",
                      "model.export", http_status=404)
    assert not any(tmp_path.iterdir())


def test_import_failure_model_exists(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    path = hook.model.export(party_conf(trained.deployed_version), tmp_path)
    with pytest.raises(FateFlowApiError) as err:
        hook.model.imp(party_conf(trained.deployed_version), path)  # no force_update
    assert_fate_error(err.value, FateFlowApiError, 409, "Model already exists.", "model.import", http_status=409)


# -- queries -------------------------------------------------------------------------------------------------------


def test_query(hook: FateFlowHook, trained: Trained):
    (info,) = hook.model.query(MODEL_ID, trained.deployed_version, "guest", GUEST)
    assert isinstance(info, ModelInfo)
    assert (info.model_id, info.model_version, info.role, info.party_id, info.job_id) == (
        MODEL_ID, trained.deployed_version, "guest", GUEST, trained.train_job)
    assert {m.role for m in hook.model.query(MODEL_ID, trained.train_job)} == {"guest", "host", "arbiter"}


def test_query_failure_unknown_version(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.model.query(MODEL_ID, UNKNOWN_JOB, "guest", GUEST)
    assert_fate_error(err.value, FateFlowNotFoundError, 100, "cannot find model from db and local cache",
                      "model.query")


def test_get_predict_dsl(hook: FateFlowHook, trained: Trained):
    dsl = hook.model.get_predict_dsl(MODEL_ID, trained.deployed_version)
    assert dsl == hook.job.generate_dsl(example("hetero_lr_dsl.json"), DEPLOY_COMPONENTS)


def test_get_predict_dsl_failure_unknown_version(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.model.get_predict_dsl(MODEL_ID, UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowNotFoundError, 210, "No model found", "model.get_predict_dsl",
                      http_status=210)


def test_get_predict_conf(hook: FateFlowHook, trained: Trained):
    conf = hook.model.get_predict_conf(MODEL_ID, trained.deployed_version)
    common = conf["job_parameters"]["common"]
    assert (common["job_type"], common["model_id"], common["model_version"]) == (
        "predict", MODEL_ID, trained.deployed_version)
    assert conf["component_parameters"]["role"]["guest"]["0"]["reader_0"]["table"]["name"] == "name_to_be_filled_0"


def test_get_predict_conf_failure_unknown_version(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.model.get_predict_conf(MODEL_ID, UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowNotFoundError, 210, "No model found", "model.get_predict_conf",
                      http_status=210)
