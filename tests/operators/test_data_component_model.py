"""Data, component and model operators against the sandbox: one training pipeline, then every operator."""
from __future__ import annotations

import json

import pytest

from airflow_provider_fateflow.client.errors import FateFlowInputError, FateFlowNotFoundError
from airflow_provider_fateflow.operators.component import (
    ComponentMetricsOperator,
    ComponentOutputDataOperator,
    ComponentOutputModelOperator,
    ComponentParametersOperator,
    MetricThresholdError,
    flatten_metrics,
    parse_threshold,
)
from airflow_provider_fateflow.operators.base import AirflowSkipException
from airflow_provider_fateflow.operators.data import (
    DownloadDataOperator,
    TableDeleteOperator,
    TableInfoOperator,
    UploadDataOperator,
    fateflow_table_asset,
    table_asset_uri,
)
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.operators.model import (
    ModelBindOperator,
    ModelDeployOperator,
    ModelExportOperator,
    ModelImportOperator,
    ModelLoadOperator,
    ModelRestoreOperator,
    ModelStoreOperator,
)
from operators.helpers import EXAMPLES, FakeTI, make_context


def _upload(**kwargs):
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("drop", True)
    return UploadDataOperator(task_id=kwargs.pop("task_id", "upload"), **kwargs)


@pytest.fixture(scope="module")
def trained(sandbox):
    """Upload both tables and train hetero LR once for the module."""
    for party, name in (("guest", "breast_hetero_guest"), ("host", "breast_hetero_host")):
        _upload(file=str(EXAMPLES / f"{party}.csv"), namespace="experiment", table_name=name).execute(make_context())
    ti = FakeTI()
    job_id = SubmitJobOperator(task_id="train", conf=str(EXAMPLES / "hetero_lr_conf.json"),
                               dsl=str(EXAMPLES / "hetero_lr_dsl.json"), poll_interval=0.2).execute(make_context(ti))
    return {"job_id": job_id, "model_id": ti.xcoms["model_id"], "model_version": ti.xcoms["model_version"]}


# -- thresholds (pure) ----------------------------------------------------------------------------------------------
def test_threshold_parsing_never_evals():
    gate = parse_threshold(" validate.auc >= 0.8 ")
    assert (gate.name, gate.op, gate.value) == ("validate.auc", ">=", 0.8)
    assert gate.matches("validate.hetero_lr_0.auc") and not gate.matches("train.hetero_lr_0.auc")
    assert parse_threshold("ks>1e-1").passes(0.2)
    for bad in ("auc >= __import__('os')", "auc", "auc => 1", "1 < auc", "auc >= 0.8; rm"):
        with pytest.raises(FateFlowInputError, match="expected"):
            parse_threshold(bad)
    flat = flatten_metrics({"train": {"lr": {"data": [["auc", 0.9], ["ks", "0.5"], [0.1, 0.2], ["x", None]]}}})
    assert flat == {"train.lr.auc": 0.9, "train.lr.ks": 0.5}


# -- data ----------------------------------------------------------------------------------------------------------
def test_upload_returns_table_and_count_and_emits_the_asset(sandbox):
    from airflow.sdk import Asset, AssetAlias

    op = _upload(file=str(EXAMPLES / "guest.csv"), namespace="{{ ns }}", table_name="t_upload")
    assert op.namespace == "{{ ns }}"  # verbatim until rendered
    alias = [o for o in op.outlets if isinstance(o, AssetAlias)]
    assert alias and alias[0].name.endswith("/upload")
    op.namespace = "exp_up"

    class Events:  # outlet_events (AssetAlias is not hashable on Airflow 3.1: key by name)
        def __init__(self):
            self.by_name = {}

        def __getitem__(self, key):
            return self.by_name.setdefault(key.name, type("E", (), {
                "added": [], "extra": {}, "add": lambda s, asset, extra=None: s.added.append((asset, extra))})())

    events = Events()
    result = op.execute(make_context(FakeTI(), outlet_events=events))
    lines = sum(1 for _ in open(EXAMPLES / "guest.csv")) - 1
    assert result["namespace"] == "exp_up" and result["table_name"] == "t_upload" and result["count"] == lines
    (asset, extra), = events[alias[0]].added
    assert asset == Asset(uri=table_asset_uri("127.0.0.1", sandbox.port, "exp_up", "t_upload"))
    assert extra["count"] == lines and asset == fateflow_table_asset("127.0.0.1", sandbox.port, "exp_up", "t_upload")
    info = TableInfoOperator(task_id="i", namespace="exp_up", table_name="t_upload").execute(make_context())
    assert info["exists"] and info["count"] == lines
    assert TableDeleteOperator(task_id="d", namespace="exp_up", table_name="t_upload").execute(make_context())
    assert TableDeleteOperator(task_id="d2", namespace="exp_up", table_name="t_upload").execute(make_context()) is None
    with pytest.raises(FateFlowNotFoundError):
        TableInfoOperator(task_id="i2", namespace="exp_up", table_name="t_upload",
                          fail_if_missing=True).execute(make_context())


def test_upload_bad_input_fails_before_any_request(sb, tmp_path):
    before = sb.jobs_count()
    with pytest.raises(FateFlowInputError, match="file not found"):
        _upload(file=str(tmp_path / "nope.csv"), namespace="n", table_name="t").execute(make_context())
    with pytest.raises(FateFlowInputError, match="namespace"):
        _upload(file=str(EXAMPLES / "guest.csv"), namespace="", table_name="t").execute(make_context())
    assert sb.jobs_count() == before


def test_upload_of_a_server_file_and_downloads(trained, tmp_path):
    # the sandbox's "FATE Flow host" is this machine
    result = _upload(file=str(EXAMPLES / "guest.csv"), namespace="srv", table_name="srv_t", file_on_server=True,
                     asset_alias=False).execute(make_context())
    assert result["count"] and result["job_id"]
    path = DownloadDataOperator(task_id="dl", namespace="srv", table_name="srv_t", output_path="/tmp/srv_t.csv",
                                poll_interval=0.1).execute(make_context())
    assert path == "/tmp/srv_t.csv"
    local = DownloadDataOperator(task_id="dl2", namespace="experiment", table_name="breast_hetero_guest",
                                 local_dir=str(tmp_path / "out")).execute(make_context())
    assert any(p.name.endswith(".csv") for p in __import__("pathlib").Path(local).rglob("*"))
    with pytest.raises(FateFlowInputError, match="exactly one"):
        DownloadDataOperator(task_id="dl3", namespace="a", table_name="b").execute(make_context())


# -- components ----------------------------------------------------------------------------------------------------
def test_metrics_thresholds_fail_or_skip(trained):
    kw = {"job_id": trained["job_id"], "component_name": "evaluation_0"}
    result = ComponentMetricsOperator(task_id="m", thresholds=["auc >= 0.5"], **kw).execute(make_context())
    assert any(k.endswith(".auc") for k in result["values"]) and result["metrics"]
    with pytest.raises(MetricThresholdError, match=r"auc = 0\.\d+ \(wants >= 1.01\)"):
        ComponentMetricsOperator(task_id="m2", thresholds="auc >= 1.01", **kw).execute(make_context())
    ti = FakeTI()
    with pytest.raises(AirflowSkipException):
        ComponentMetricsOperator(task_id="m3", thresholds=["ks > 2"], on_threshold_miss="skip",
                                 **kw).execute(make_context(ti))
    assert ti.xcoms["return_value"]["values"]  # the metrics are still in XCom
    with pytest.raises(FateFlowInputError, match="matches no metric"):
        ComponentMetricsOperator(task_id="m4", thresholds=["precision_at_k > 1"], **kw).execute(make_context())


def test_component_outputs_and_parameters(trained, tmp_path):
    kw = {"job_id": trained["job_id"], "component_name": "hetero_lr_0"}
    path = ComponentOutputDataOperator(task_id="o", output_dir=str(tmp_path), **kw).execute(make_context())
    assert "hetero_lr_0_guest_9999_output_data" in path
    assert ComponentOutputModelOperator(task_id="om", **kw).execute(make_context())["data"]
    assert ComponentParametersOperator(task_id="p", **kw).execute(make_context())["module"] == "HeteroLR"
    with pytest.raises(FateFlowInputError, match="it runs on"):
        ComponentOutputModelOperator(task_id="om2", role="host", party_id=4242, **kw).execute(make_context())


# -- models --------------------------------------------------------------------------------------------------------
def test_deploy_load_bind_with_a_training_job_or_a_deployed_version(trained, capfd):
    ti = FakeTI()
    new_version = ModelDeployOperator(task_id="dep", job_id=trained["job_id"]).execute(make_context(ti))
    assert new_version != trained["model_version"] and ti.xcoms["model_version"] == new_version
    # a deployed version is loaded as is
    loaded = ModelLoadOperator(task_id="load", job_id=new_version).execute(make_context())
    assert loaded["model_version"] == new_version
    # a training job id is deployed first, then loaded (API.md 8.7)
    ti2 = FakeTI()
    loaded = ModelLoadOperator(task_id="load2", job_id=trained["job_id"]).execute(make_context(ti2))
    assert loaded["model_version"] == ti2.xcoms["deployed_model_version"] != trained["job_id"]
    with pytest.raises(FateFlowInputError, match="parent"):
        ModelLoadOperator(task_id="load3", job_id=trained["job_id"], deploy_if_needed=False).execute(make_context())
    bound = ModelBindOperator(task_id="bind", job_id=trained["job_id"], service_id="svc").execute(make_context())
    assert bound["service_id"] == "svc" and bound["model_version"] != trained["job_id"]
    conf = json.loads((EXAMPLES / "bind_conf.json").read_text())
    conf["job_parameters"] = {"model_id": trained["model_id"], "model_version": new_version}
    assert ModelBindOperator(task_id="bind2", conf=conf).execute(make_context())["model_version"] == new_version
    with pytest.raises(FateFlowNotFoundError, match="no model with version"):
        ModelLoadOperator(task_id="load4", job_id="20990101000000000002").execute(make_context())


def test_store_restore_export_import(trained, tmp_path):
    kw = {"model_id": trained["model_id"], "model_version": trained["model_version"], "poll_interval": 0.1}
    ti = FakeTI()
    stored = ModelStoreOperator(task_id="store", **kw).execute(make_context(ti))
    assert stored["job_id"] == ti.xcoms["job_id"] and "board_url" in ti.xcoms
    assert ModelRestoreOperator(task_id="restore", **kw).execute(make_context())["job_id"]
    zip_path = ModelExportOperator(task_id="exp", model_id=trained["model_id"], model_version=trained["model_version"],
                                   output_dir=str(tmp_path)).execute(make_context())
    assert zip_path.endswith(".zip")
    imported = ModelImportOperator(task_id="imp", file=zip_path, model_id=trained["model_id"],
                                   model_version=trained["model_version"], force_update=True).execute(make_context())
    assert imported["model_version"] == trained["model_version"]
    with pytest.raises(FateFlowInputError, match="file not found"):
        ModelImportOperator(task_id="imp2", file=str(tmp_path / "no.zip"), model_id="m",
                            model_version="v").execute(make_context())
