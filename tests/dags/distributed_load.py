"""The load of ``make test-deploy-distributed`` (scripts/deploy_distributed.py), built from the provider's operators.

* ``fateflow_distributed_train``: upload the guest's and the host's tables, train a hetero LR in FATE
  (deferrable: the wait runs in a triggerer), then gate on its AUC. The tables come from the run's conf
  (``guest_table``/``host_table``), so concurrent runs never share a table. Every task has retries: a
  retry reattaches to the FATE job its earlier try submitted (a killed worker, FATE Flow down).
* ``fateflow_distributed_waits``: one deferrable ``JobStatusSensor`` per FATE job id in the run's conf
  (``job_ids``, jobs submitted outside Airflow), as a mapped task.

Connection: ``fateflow_default`` (the script creates it, with an app key and secret, in the metadata DB).
The files and the job conf are the example DAGs' (``dags/examples``).
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_fateflow.operators.component import ComponentMetricsOperator
from airflow_provider_fateflow.operators.data import UploadDataOperator
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor

EXAMPLES = Path(__file__).resolve().parents[2] / "dags" / "examples"
START = pendulum.datetime(2024, 1, 1, tz="UTC")
#: Retries for every task: a worker killed or FATE Flow down for a while must not fail a run.
RETRYING = {"retries": 2, "retry_delay": timedelta(seconds=5)}

with DAG(
    dag_id="fateflow_distributed_train",
    description="Upload, deferrable hetero-LR training, AUC gate (the distributed test's training load)",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=RETRYING,
    params={
        "namespace": Param("distributed", type="string"),
        "guest_table": Param("guest", type="string"),
        "host_table": Param("host", type="string"),
        "min_auc": Param(0.8, type="number"),
    },
    tags=["fateflow", "test"],
) as train_dag:
    upload_guest = UploadDataOperator(
        task_id="upload_guest", file=str(EXAMPLES / "data" / "guest.csv"), namespace="{{ params.namespace }}",
        table_name="{{ params.guest_table }}", head=True, partition=4, drop=True, asset_alias=False, poll_interval=2,
    )
    upload_host = UploadDataOperator(
        task_id="upload_host", file=str(EXAMPLES / "data" / "host.csv"), namespace="{{ params.namespace }}",
        table_name="{{ params.host_table }}", head=True, partition=4, drop=True, asset_alias=False, poll_interval=2,
    )
    train = SubmitJobOperator(
        task_id="train",
        conf=str(EXAMPLES / "conf" / "hetero_lr_conf.json"),
        dsl=str(EXAMPLES / "conf" / "hetero_lr_dsl.json"),
        deferrable=True,
        poll_interval=5,
        timeout=timedelta(minutes=30),
    )
    evaluate = ComponentMetricsOperator(
        task_id="evaluate",
        job_id="{{ ti.xcom_pull(task_ids='train') }}",
        component_name="evaluation_0",
        thresholds=["auc >= {{ params.min_auc }}"],
    )
    [upload_guest, upload_host] >> train >> evaluate


with DAG(
    dag_id="fateflow_distributed_waits",
    description="Deferrable JobStatusSensors on FATE jobs submitted outside Airflow (the distributed test)",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=RETRYING,
    params={"job_ids": Param([], type="array", description="FATE job ids to wait for")},
    tags=["fateflow", "test"],
) as waits_dag:

    @task
    def job_ids(**context) -> list[str]:  # noqa: ANN003 - Airflow's context
        """The job ids of the run's conf."""
        return [str(job_id) for job_id in context["params"]["job_ids"]]

    JobStatusSensor.partial(
        task_id="wait", deferrable=True, poke_interval=10, timeout=1800, not_found_timeout=60,
    ).expand(job_id=job_ids())
