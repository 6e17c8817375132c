"""``hook.component``: tracking of a trained job's components, with and without client authentication."""
from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
from _integration_helpers import (
    ARBITER,
    GUEST,
    LR_COMPONENTS,
    UNKNOWN_JOB,
    Trained,
    assert_fate_error,
    example,
    wait_job,
)

from airflow_provider_fateflow.client import FateFlowApiError, FateFlowInputError, FateFlowNotFoundError, JobStatus
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

LR_OUTPUT_HEADER = ["id", "label", "predict_result", "predict_score", "predict_detail", "type"]
EVALUATION_METRICS = {"hetero_lr_0", "hetero_lr_0_ks_fpr", "hetero_lr_0_ks_tpr", "hetero_lr_0_lift",
                      "hetero_lr_0_gain", "hetero_lr_0_accuracy", "hetero_lr_0_precision", "hetero_lr_0_recall",
                      "hetero_lr_0_roc", "hetero_lr_0_confusion_mat", "hetero_lr_0_f1_score",
                      "hetero_lr_0_quantile_pr"}


def test_parameters(hook: FateFlowHook, trained: Trained):
    params = hook.component.parameters(trained.train_job, component_name="hetero_lr_0")
    assert params["module"] == "HeteroLR"
    assert params["ComponentParam"]["_name"] == "HeteroLR#hetero_lr_0"
    assert params["ComponentParam"]["max_iter"] == 3 and params["ComponentParam"]["optimizer"] == "rmsprop"


def test_parameters_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.parameters(UNKNOWN_JOB, component_name="hetero_lr_0")
    assert_fate_error(err.value, FateFlowNotFoundError, 101, "can not found this task", "component.parameters")


def test_metric_all(hook: FateFlowHook, trained: Trained):
    metrics = hook.component.metric_all(trained.train_job, "guest", GUEST, "evaluation_0")
    assert set(metrics) == {"train"} and set(metrics["train"]) == EVALUATION_METRICS
    summary = metrics["train"]["hetero_lr_0"]
    assert summary["meta"] == {"metric_type": "EVALUATION_SUMMARY", "name": "hetero_lr_0"}
    assert [k for k, _ in summary["data"]] == ["auc", "ks"] and 0.5 < dict(summary["data"])["auc"] <= 1.0


def test_metric_all_failure_no_metrics_is_empty(hook: FateFlowHook, trained: Trained):
    # FATE answers retcode 0 "no data" for a component without metrics and for an unknown job alike
    assert hook.component.metric_all(trained.train_job, component_name="hetero_lr_0") == {}
    assert hook.component.metric_all(UNKNOWN_JOB, component_name="evaluation_0") == {}


def test_metrics(hook: FateFlowHook, trained: Trained):
    assert set(hook.component.metrics(trained.train_job, component_name="evaluation_0")["train"]) == EVALUATION_METRICS
    assert hook.component.metrics(trained.train_job, component_name="reader_0") == {
        "reader_namespace": ["reader_name"]}


def test_metrics_failure_no_metrics_is_empty(hook: FateFlowHook):
    assert hook.component.metrics(UNKNOWN_JOB, component_name="evaluation_0") == {}


def test_metric_data(hook: FateFlowHook, trained: Trained):
    one = hook.component.metric_data(trained.train_job, component_name="evaluation_0",
                                     metric_namespace="train", metric_name="hetero_lr_0")
    assert one["meta"] == {"metric_type": "EVALUATION_SUMMARY", "name": "hetero_lr_0"}
    assert [k for k, _ in one["data"]] == ["auc", "ks"]
    none = hook.component.metric_data(trained.train_job, component_name="evaluation_0",
                                      metric_namespace="train", metric_name="no_such_metric")
    assert none == {"data": [], "meta": {}}


def test_metric_data_failure_missing_argument(hook: FateFlowHook, trained: Trained):
    with pytest.raises(FateFlowApiError) as err:
        hook.component.metric_data(trained.train_job, component_name="evaluation_0",
                                   metric_namespace="train", metric_name=None)  # type: ignore[arg-type]
    assert_fate_error(err.value, FateFlowApiError, 101, "metric_name", "component.metric_data")


def test_metric_delete(hook: FateFlowHook, trained: Trained):
    job_id = hook.job.submit(example("hetero_lr_conf.json"), example("hetero_lr_dsl.json")).job_id
    assert wait_job(hook, job_id) is JobStatus.SUCCESS
    assert hook.component.metric_delete(job_id=job_id) == "delete status: True"
    assert hook.component.metric_all(job_id, component_name="evaluation_0") == {}
    assert hook.component.metric_delete(job_id=job_id) == "delete status: False"  # nothing left
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert hook.component.metric_delete("20260101", job_id=job_id) == "delete status: False"
    assert any("ignored" in str(w.message) for w in caught)
    # the shared job keeps its metrics
    assert hook.component.metrics(trained.train_job, component_name="evaluation_0")


def test_metric_delete_failure_without_job_id(hook: FateFlowHook):
    # FATE answers 100 TypeError for a missing job_id: the client refuses before sending
    with pytest.raises(FateFlowInputError, match="job_id is required") as err:
        hook.component.metric_delete()
    assert err.value.operation == "component.metric_delete"


def test_output_model(hook: FateFlowHook, trained: Trained):
    out = hook.component.output_model(trained.train_job, component_name="hetero_lr_0")
    assert out["data"]["header"] == ["x0", "x1", "x2", "x3"] and out["data"]["iters"] == 3
    assert out["meta"]["module_name"] == "HeteroLR" and out["meta"]["meta_data"]["optimizer"] == "rmsprop"
    assert hook.component.output_model(trained.train_job, component_name="evaluation_0") == {"data": {}, "meta": None}


def test_output_model_failure_unknown_job(hook: FateFlowHook):
    # FATE's answer for an unknown job is a leaked AttributeError (retcode 100): typed not-found, message verbatim
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.output_model(UNKNOWN_JOB, component_name="hetero_lr_0")
    assert_fate_error(err.value, FateFlowNotFoundError, 100, "has no attribute 'runtime_conf_on_party'",
                      "component.output_model")


def test_output_data(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    directory = hook.component.output_data(trained.train_job, component_name="hetero_lr_0", output_path=tmp_path)
    assert directory == tmp_path / f"job_{trained.train_job}_hetero_lr_0_guest_{GUEST}_output_data"
    assert sorted(p.name for p in directory.iterdir()) == ["data.csv", "data.meta"]
    with open(directory / "data.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == LR_OUTPUT_HEADER and len(rows) == 201
    assert json.loads((directory / "data.meta").read_text()) == {"header": LR_OUTPUT_HEADER}
    limited = hook.component.output_data(trained.train_job, "guest", GUEST, "data_transform_0",
                                         tmp_path / "limited", limit=5)
    with open(limited / "data.csv", newline="") as fh:
        assert len(list(csv.reader(fh))) == 6


def test_output_data_failure_no_data(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.output_data(trained.train_job, "arbiter", ARBITER, "hetero_lr_0", tmp_path)
    assert_fate_error(err.value, FateFlowNotFoundError, 210, "no data", "component.output_data", http_status=210)
    assert not any(tmp_path.iterdir())


def test_output_data_preview(hook: FateFlowHook, trained: Trained):
    preview = hook.component.output_data_preview(trained.train_job, component_name="hetero_lr_0")
    assert preview["data"] and preview["data"][0]
    assert len(preview["data"][0][0]) == len(LR_OUTPUT_HEADER)


def test_output_data_preview_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.output_data_preview(UNKNOWN_JOB, component_name="hetero_lr_0")
    assert_fate_error(err.value, FateFlowNotFoundError, 100, "no found task", "component.output_data_preview")


def test_output_data_table(hook: FateFlowHook, trained: Trained):
    tables = hook.component.output_data_table(trained.train_job, component_name="hetero_lr_0")
    assert len(tables) == 1 and tables[0]["data_name"] == "data"
    assert tables[0]["table_namespace"] == f"output_data_{trained.train_job}_hetero_lr_0_0"
    info = hook.table.info(tables[0]["table_namespace"], tables[0]["table_name"])
    assert info.exists and info.count == 200


def test_output_data_table_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.output_data_table(UNKNOWN_JOB, component_name="hetero_lr_0")
    assert_fate_error(err.value, FateFlowNotFoundError, 100, "No found job", "component.output_data_table")


def test_list(hook: FateFlowHook, trained: Trained):
    assert hook.component.list(trained.train_job) == LR_COMPONENTS  # in DSL order


def test_list_failure_unknown_job(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.list(UNKNOWN_JOB)
    assert_fate_error(err.value, FateFlowNotFoundError, 100, "No job matched", "component.list")


def test_summary(hook: FateFlowHook, trained: Trained):
    evaluation = hook.component.summary(trained.train_job, component_name="evaluation_0")
    assert set(evaluation["hetero_lr_0"]) == {"auc", "ks"}
    assert hook.component.get_summary(trained.train_job, component_name="hetero_lr_0")["iters"] == 3


def test_summary_failure_missing(hook: FateFlowHook):
    with pytest.raises(FateFlowNotFoundError) as err:
        hook.component.summary(UNKNOWN_JOB, component_name="hetero_lr_0")
    assert_fate_error(err.value, FateFlowNotFoundError, 210, "No component summary found", "component.summary",
                      http_status=210)
