"""Test DAGs: every operator family in poke, reschedule and deferrable mode, against the sandbox.

The connection ``fateflow_default`` comes from ``AIRFLOW_CONN_FATEFLOW_DEFAULT`` (set by the tests).
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_fateflow.operators.component import ComponentMetricsOperator, ComponentParametersOperator
from airflow_provider_fateflow.operators.data import TableInfoOperator, UploadDataOperator
from airflow_provider_fateflow.operators.job import GeneratePredictDslOperator, SubmitJobOperator
from airflow_provider_fateflow.operators.model import (
    ModelBindOperator,
    ModelDeployOperator,
    ModelLoadOperator,
    ModelStoreOperator,
)
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor, TableExistsSensor, TaskStatusSensor

#: ../shared beside the repository, or FATEFLOW_SHARED_DIR (as tests/conftest.py finds it).
_SHARED = Path(os.environ.get("FATEFLOW_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared")
EXAMPLES = _SHARED / "fateflow-v1" / "examples"
START = pendulum.datetime(2024, 1, 1, tz="UTC")
FAST = {"poll_interval": 0.2}
SENSE = {"poke_interval": 1, "timeout": 120}
TRAIN = {"conf": str(EXAMPLES / "hetero_lr_conf.json"), "dsl": str(EXAMPLES / "hetero_lr_dsl.json")}
JOB_ID = "{{ ti.xcom_pull(task_ids='train') }}"


def _uploads(deferrable: bool) -> list[UploadDataOperator]:
    return [
        UploadDataOperator(task_id=f"upload_{party}", file=str(EXAMPLES / f"{party}.csv"), namespace="experiment",
                           table_name=f"breast_hetero_{party}", drop=True, deferrable=deferrable, **FAST)
        for party in ("guest", "host")
    ]


with DAG("fateflow_poke", schedule=None, start_date=START, catchup=False, tags=["test"]) as poke_dag:
    uploads = _uploads(deferrable=False)
    table = TableExistsSensor(task_id="table_exists", namespace="experiment", table_name="breast_hetero_guest",
                              min_rows=1, mode="poke", **SENSE)
    train = SubmitJobOperator(task_id="train", **TRAIN, **FAST)
    job = JobStatusSensor(task_id="job_sensor", job_id=JOB_ID, mode="poke", **SENSE)
    cpn = TaskStatusSensor(task_id="task_sensor", job_id=JOB_ID, component_name="hetero_lr_0", mode="poke", **SENSE)
    metrics = ComponentMetricsOperator(task_id="metrics", job_id=JOB_ID, component_name="evaluation_0",
                                       thresholds=["auc >= 0.6"])
    params = ComponentParametersOperator(task_id="params", job_id=JOB_ID, component_name="hetero_lr_0")
    deploy = ModelDeployOperator(task_id="deploy", job_id=JOB_ID)
    load = ModelLoadOperator(task_id="load", job_id="{{ ti.xcom_pull(task_ids='deploy') }}")
    bind = ModelBindOperator(task_id="bind", job_id=JOB_ID, service_id="svc_{{ ds_nodash }}")
    predict_dsl = GeneratePredictDslOperator(task_id="predict_dsl", train_dsl=TRAIN["dsl"],
                                             components=["data_transform_0", "hetero_lr_0"])
    info = TableInfoOperator(task_id="table_info", namespace="experiment", table_name="breast_hetero_host")
    uploads >> table >> train >> [job, cpn] >> metrics >> params >> deploy >> load >> bind
    uploads >> info
    predict_dsl


with DAG("fateflow_reschedule", schedule=None, start_date=START, catchup=False, tags=["test"]) as reschedule_dag:
    submit = SubmitJobOperator(task_id="train", conf=str(EXAMPLES / "toy_example_conf.json"),
                               dsl=str(EXAMPLES / "toy_example_dsl.json"), wait_for_completion=False)
    submit >> [
        JobStatusSensor(task_id="job_sensor", job_id=JOB_ID, mode="reschedule", **SENSE),
        TaskStatusSensor(task_id="task_sensor", job_id=JOB_ID, component_name="secure_add_example_0",
                         mode="reschedule", **SENSE),
        TableExistsSensor(task_id="table_sensor", namespace="experiment", table_name="breast_hetero_guest",
                          mode="reschedule", **SENSE),
    ]


with DAG("fateflow_deferrable", schedule=None, start_date=START, catchup=False, tags=["test"]) as deferrable_dag:
    uploads = _uploads(deferrable=True)
    train = SubmitJobOperator(task_id="train", **TRAIN, deferrable=True, timeout=timedelta(minutes=5), **FAST)
    sensors = [
        JobStatusSensor(task_id="job_sensor", job_id=JOB_ID, deferrable=True, **SENSE),
        TaskStatusSensor(task_id="task_sensor", job_id=JOB_ID, component_name="evaluation_0", deferrable=True,
                         **SENSE),
        TableExistsSensor(task_id="table_sensor", namespace="experiment", table_name="breast_hetero_host",
                          deferrable=True, **SENSE),
    ]
    store = ModelStoreOperator(task_id="store", model_id="{{ ti.xcom_pull(task_ids='train', key='model_id') }}",
                               model_version="{{ ti.xcom_pull(task_ids='train', key='model_version') }}",
                               deferrable=True, **FAST)
    uploads >> train >> sensors >> store


class _DiesOnFirstTry(SubmitJobOperator):
    """Simulates a worker lost mid-wait on the first try (after the job was submitted)."""

    def _wait_in_worker(self, ref, watch, clock, first):
        from airflow.sdk import get_current_context

        if get_current_context()["ti"].try_number == 1:
            raise RuntimeError(f"worker lost while waiting for {ref.job_id}")
        return super()._wait_in_worker(ref, watch, clock, first)


with DAG("fateflow_retry", schedule=None, start_date=START, catchup=False, tags=["test"]) as retry_dag:
    _DiesOnFirstTry(task_id="train", conf=str(EXAMPLES / "toy_example_conf.json"),
                    dsl=str(EXAMPLES / "toy_example_dsl.json"), retries=1, retry_delay=timedelta(seconds=0), **FAST)
