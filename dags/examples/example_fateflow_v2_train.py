"""FATE 2.x: upload the guest's and the host's tables, train a coordinated LR, gate on its AUC, export the model.

What it shows: the same operators as the FATE 1.x examples on a FATE Flow 2.x server. The connection
``fateflow_v2`` has ``api_version`` ``v2`` (or ``auto``) and ``initiator_role``/``initiator_party_id``
guest/9999; the job is the DAG in ``conf/v2_lr_dag.yaml`` (reader -> psi -> feature_scale -> coordinated_lr -> evaluation),
submitted as ``dag_schema`` and waited for in the triggerer.

Connection: ``fateflow_v2`` (FATE Flow 2.x, port 9380 by default). Against a standalone FATE Flow 2.2.0 the
training takes 1.5-2.5 minutes on 2 cores; against the v1 sandbox the tasks refuse their FATE 2.x arguments
before anything is sent.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_fateflow.operators.component import ComponentMetricsOperator
from airflow_provider_fateflow.operators.data import UploadDataOperator
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.operators.model import ModelExportOperator

HERE = Path(__file__).parent
CONN = "fateflow_v2"
JOB_ID = "{{ ti.xcom_pull(task_ids='train') }}"

with DAG(
    dag_id="example_fateflow_v2_train",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fateflow", "fate2", "example"],
    params={
        "namespace": Param("experiment", type="string"),
        "guest_table": Param("breast_hetero_guest_v2", type="string"),
        "host_table": Param("breast_hetero_host_v2", type="string"),
        "min_auc": Param(0.7, type="number"),
        "export_dir": Param("/tmp/fateflow-v2-models", type="string", description="a directory on the FATE Flow host"),
    },
    default_args={"fateflow_conn_id": CONN, "retries": 1, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
) as dag:
    # [START howto_upload_v2]
    upload_guest = UploadDataOperator(
        task_id="upload_guest",
        file=str(HERE / "data" / "guest.csv"),  # on the worker; streamed to FATE Flow (data.upload_file)
        namespace="{{ params.namespace }}",
        table_name="{{ params.guest_table }}",
        head=True,
        partition=4,
        meta={"delimiter": ",", "label_name": "y", "match_id_name": "id"},
        extend_sid=True,
        poll_interval=5,
    )
    # [END howto_upload_v2]
    upload_host = UploadDataOperator(
        task_id="upload_host",
        file=str(HERE / "data" / "host.csv"),
        namespace="{{ params.namespace }}",
        table_name="{{ params.host_table }}",
        head=True,
        partition=4,
        meta={"delimiter": ",", "match_id_name": "id"},
        extend_sid=True,
        poll_interval=5,
    )
    # [START howto_submit_v2]
    train = SubmitJobOperator(
        task_id="train",
        dag_schema=str(HERE / "conf" / "v2_lr_dag.yaml"),  # or a dict, or fate_client's pipeline
        conf_overrides={"dag.tasks.lr_0.parameters.epochs": "2"},  # rendered "2" reaches FATE as 2
        deferrable=True,
        poll_interval=10,
        timeout=timedelta(hours=2),
    )
    # [END howto_submit_v2]
    # [START howto_metrics_v2]
    evaluate = ComponentMetricsOperator(
        task_id="evaluate",
        job_id=JOB_ID,
        component_name="evaluation_0",  # FATE 2 calls it a task: the metric keys read evaluation.lr_0.train_set.auc
        role="guest",
        party_id=9999,
        thresholds=["auc >= {{ params.min_auc }}"],
    )
    # [END howto_metrics_v2]
    export = ModelExportOperator(
        task_id="export",
        model_id="{{ ti.xcom_pull(task_ids='train', key='model_id') }}",
        model_version="{{ ti.xcom_pull(task_ids='train', key='model_version') }}",
        output_dir="{{ params.export_dir }}",
        role="guest",
        party_id=9999,
    )
    [upload_guest, upload_host] >> train >> evaluate >> export
