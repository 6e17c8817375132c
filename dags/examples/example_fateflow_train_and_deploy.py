"""Train a federated logistic regression and put it into service: FATE Flow's core job, end to end.

What it shows:

* ``UploadDataOperator`` uploads the guest's and the host's tables from the CSV files beside this DAG
  (streamed from the worker). The guest upload also declares the table as an Airflow Asset, through the
  ``fateflow-upload/breast_hetero_guest`` AssetAlias: ``example_fateflow_scheduled_retraining`` runs
  whenever this DAG uploads a new version of the training table.
* ``SubmitJobOperator`` submits the hetero-LR training job (``conf/hetero_lr_conf.json``, a template: the
  tables come from the DAG params, the Airflow run from ``{{ run_id }}`` goes into the job's
  ``airflow.description``) and waits for it **in the triggerer** (``deferrable=True``). Its "FATE Board"
  link opens the job.
* ``ComponentMetricsOperator`` reads the evaluation metrics (AUC, KS) and fails the run below
  ``params.min_auc``, so a bad model is never deployed.
* ``GeneratePredictDslOperator`` builds the predict DSL from the training DSL (the components that
  score new data), and ``ModelDeployOperator`` deploys the trained model with it: a new model version,
  the one predict jobs use (``example_fateflow_batch_predict``).
* ``ModelLoadOperator`` -> ``ModelBindOperator``: load the deployed model into FATE-Serving and bind
  ``params.service_id`` to it for online inference.

Connection: ``fateflow_default`` (connection type ``fateflow``), the guest's FATE Flow, with the extras
``initiator_role`` ``guest``, ``initiator_party_id`` ``9999`` and ``board_url`` (for the FATE Board links).
The host's table goes to ``params.host_conn_id``: the same server in FATE's standalone mode; in a real
federation, the host's own FATE Flow (or let the host upload it and drop ``upload_host``).
The parties (guest 9999, host and arbiter 10000) are in ``conf/hetero_lr_conf.json``: edit them for yours.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_fateflow.operators.component import ComponentMetricsOperator
from airflow_provider_fateflow.operators.data import UploadDataOperator
from airflow_provider_fateflow.operators.job import GeneratePredictDslOperator, SubmitJobOperator
from airflow_provider_fateflow.operators.model import ModelBindOperator, ModelDeployOperator, ModelLoadOperator

HERE = Path(__file__).resolve().parent
#: The AssetAlias the guest upload adds the training table's Asset to (the retraining DAG is scheduled on it).
TRAINING_TABLE_ALIAS = "fateflow-upload/breast_hetero_guest"
TRAINING_JOB_ID = "{{ ti.xcom_pull(task_ids='train') }}"

with DAG(
    dag_id="example_fateflow_train_and_deploy",
    description="Upload, train a hetero LR in FATE, check its AUC, deploy, load and bind it",
    schedule=None,  # run it by hand (or see example_fateflow_scheduled_retraining)
    catchup=False,
    doc_md=__doc__,
    tags=["example", "fateflow"],
    params={
        "namespace": Param("experiment", type="string", description="FATE namespace of the tables"),
        "guest_table": Param("breast_hetero_guest", type="string"),
        "host_table": Param("breast_hetero_host", type="string"),
        "host_conn_id": Param("fateflow_default", type="string",
                              description="connection of the FATE Flow that holds the host's data"),
        "min_auc": Param(0.8, type="number", minimum=0, maximum=1,
                         description="do not deploy a model whose AUC is below this"),
        "service_id": Param("breast-cancer-lr", type="string", description="FATE-Serving service id to bind"),
    },
) as dag:
    # [START howto_upload_data]
    upload_guest = UploadDataOperator(
        task_id="upload_guest",
        file=str(HERE / "data" / "guest.csv"),
        namespace="{{ params.namespace }}",
        table_name="{{ params.guest_table }}",
        head=True,
        partition=4,
        drop=True,  # replace the previous version of the table
        asset_alias=TRAINING_TABLE_ALIAS,
        poll_interval=5,
        retries=1,  # a retry reattaches to the upload already sent (a lost worker, FATE Flow unreachable)
    )
    # [END howto_upload_data]
    upload_host = UploadDataOperator(
        task_id="upload_host",
        fateflow_conn_id="{{ params.host_conn_id }}",
        file=str(HERE / "data" / "host.csv"),
        namespace="{{ params.namespace }}",
        table_name="{{ params.host_table }}",
        drop=True,
        poll_interval=5,
        retries=1,  # a retry reattaches to the upload already sent
    )

    # [START howto_submit_job]
    train = SubmitJobOperator(
        task_id="train",
        conf=str(HERE / "conf" / "hetero_lr_conf.json"),  # a template: params and run_id are rendered
        dsl=str(HERE / "conf" / "hetero_lr_dsl.json"),
        deferrable=True,  # wait in the triggerer, not in a worker slot
        poll_interval=10,
        timeout=timedelta(hours=2),  # the FATE job is stopped if it runs longer
        retries=1,  # a retry reattaches to the job already submitted
    )
    # [END howto_submit_job]

    # [START howto_component_metrics]
    evaluate = ComponentMetricsOperator(
        task_id="evaluate",
        job_id=TRAINING_JOB_ID,
        component_name="evaluation_0",
        thresholds=["auc >= {{ params.min_auc }}"],
    )
    # [END howto_component_metrics]

    # [START howto_predict_dsl_and_deploy]
    predict_dsl = GeneratePredictDslOperator(
        task_id="predict_dsl",
        train_dsl=str(HERE / "conf" / "hetero_lr_dsl.json"),
        components=["reader_0", "data_transform_0", "hetero_lr_0"],  # what scores new data: no evaluation
    )
    deploy = ModelDeployOperator(
        task_id="deploy",
        job_id=TRAINING_JOB_ID,  # the training job's model id and version
        predict_dsl=predict_dsl.output,
    )  # returns the NEW (deployed) model version; pushes model_id and model_version
    # [END howto_predict_dsl_and_deploy]

    # [START howto_load_bind]
    load = ModelLoadOperator(
        task_id="load",
        model_id="{{ ti.xcom_pull(task_ids='deploy', key='model_id') }}",
        model_version="{{ ti.xcom_pull(task_ids='deploy') }}",
    )
    bind = ModelBindOperator(
        task_id="bind",
        model_id="{{ ti.xcom_pull(task_ids='deploy', key='model_id') }}",
        model_version="{{ ti.xcom_pull(task_ids='deploy') }}",
        service_id="{{ params.service_id }}",
    )
    # [END howto_load_bind]

    [upload_guest, upload_host] >> train >> evaluate >> deploy >> load >> bind
