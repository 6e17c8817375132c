"""Score each day's batch with the model in service and download the predictions.

What it shows:

* Dates in table names: the day's batch is uploaded as ``<namespace>/breast_hetero_{guest,host}_<YYYYMMDD>``
  (``{{ dag_run.run_after | ds_nodash }}``, defined for scheduled, manual and API-triggered runs alike).
* ``pick_model``, a ``@task`` with ``FateFlowHook``: the newest *deployed* version of ``params.model_id``
  (``model.query``), or ``params.model_version`` when given. Predict jobs need a deployed version; its
  predict DSL is the one it was deployed with (``example_fateflow_train_and_deploy`` generates it with
  ``GeneratePredictDslOperator``), so the predict job needs no DSL.
* ``SubmitJobOperator`` submits the predict job (``conf/hetero_lr_predict_conf.json``: the model from
  ``pick_model``, the tables from the uploads, all through XCom) and waits in the triggerer.
* ``ComponentOutputDataOperator`` downloads the scored rows of ``hetero_lr_0`` to the worker; ``summarize``
  reads them.
* ``TableDeleteOperator`` drops the day's input tables once they are scored.

Connection: ``fateflow_default`` (type ``fateflow``, the guest's FATE Flow, extras ``initiator_role``
``guest``, ``initiator_party_id`` ``9999``). The host's batch goes to ``params.host_conn_id`` (the same
server in FATE's standalone mode). Run ``example_fateflow_train_and_deploy`` first: it deploys the model.

There is no ``start_date``: the first run is the next midnight (UTC), not the moment the DAG is unpaused.
"""
from __future__ import annotations

import csv
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_fateflow.operators.component import ComponentOutputDataOperator
from airflow_provider_fateflow.operators.data import TableDeleteOperator, UploadDataOperator
from airflow_provider_fateflow.operators.job import SubmitJobOperator

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)
#: The batch's day: the run's scheduled time (``logical_date`` is None for API-triggered runs in Airflow 3).
BATCH_DAY = "{{ dag_run.run_after | ds_nodash }}"
PREDICT_JOB_ID = "{{ ti.xcom_pull(task_ids='predict') }}"

with DAG(
    dag_id="example_fateflow_batch_predict",
    description="Daily: upload the day's batch, score it with the deployed model, download the predictions",
    schedule="@daily",
    catchup=False,
    doc_md=__doc__,
    tags=["example", "fateflow"],
    params={
        "namespace": Param("batch", type="string", description="FATE namespace of the daily tables"),
        "model_id": Param("arbiter-10000#guest-9999#host-10000#model", type="string",
                          description="FATE model id (from the roles of the training conf)"),
        "model_version": Param(None, type=["null", "string"],
                               description="a deployed model version; empty: the newest deployed version"),
        "host_conn_id": Param("fateflow_default", type="string"),
        "output_dir": Param(str(Path(tempfile.gettempdir()) / "fateflow" / "predictions"), type="string",
                            description="directory on the worker for the scored rows"),
    },
) as dag:
    uploads = [
        UploadDataOperator(
            task_id=f"upload_{party}_batch",
            fateflow_conn_id="{{ params.host_conn_id }}" if party == "host" else "fateflow_default",
            file=str(HERE / "data" / f"{party}.csv"),  # in real life: the day's export
            namespace="{{ params.namespace }}",
            table_name=f"breast_hetero_{party}_{BATCH_DAY}",
            drop=True,  # a rerun of the day replaces its batch
            poll_interval=5,
        )
        for party in ("guest", "host")
    ]

    # [START howto_pick_deployed_model]
    @task
    def pick_model(params: dict[str, Any] | None = None) -> dict[str, str]:
        """The model to score with: ``params.model_version``, or the newest deployed version."""
        from airflow_provider_fateflow.client.errors import FateFlowNotFoundError
        from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

        hook = FateFlowHook("fateflow_default")
        model_id = params["model_id"]
        if params.get("model_version"):
            return {"model_id": model_id, "model_version": str(params["model_version"])}
        try:
            models = hook.model.query(model_id=model_id, role=hook.config.initiator_role,
                                      party_id=hook.config.initiator_party_id)
        except FateFlowNotFoundError:
            models = []
        deployed = [m for m in models if not m.parent]
        if not deployed:
            raise FateFlowNotFoundError(
                f"model {model_id} has no deployed version: deploy one (example_fateflow_train_and_deploy) "
                "or pass params.model_version", operation="model.query")
        newest = max(deployed, key=lambda m: (m.create_time or 0, m.model_version))
        log.info("Scoring with model %s version %s (trained by job %s).", model_id, newest.model_version,
                 newest.job_id)
        return {"model_id": model_id, "model_version": str(newest.model_version)}
    # [END howto_pick_deployed_model]

    model = pick_model()

    # [START howto_predict_job]
    predict = SubmitJobOperator(
        task_id="predict",
        conf=str(HERE / "conf" / "hetero_lr_predict_conf.json"),  # job_type predict, a deployed model version
        # no dsl: FATE uses the predict DSL the model was deployed with
        deferrable=True,
        poll_interval=10,
        timeout=timedelta(hours=2),
        retries=1,
    )
    # [END howto_predict_job]

    # [START howto_component_output_data]
    download = ComponentOutputDataOperator(
        task_id="download_predictions",
        job_id=PREDICT_JOB_ID,
        component_name="hetero_lr_0",
        output_dir="{{ params.output_dir }}/" + BATCH_DAY,
    )
    # [END howto_component_output_data]

    @task
    def summarize(directory: str) -> dict[str, Any]:
        """Count the scored rows (FATE writes ``data.csv`` and ``data.meta`` per output)."""
        rows = []
        for path in sorted(Path(directory).glob("*.csv")):
            with path.open(newline="") as fh:
                rows.extend(csv.DictReader(fh))
        positive = sum(1 for row in rows if str(row.get("predict_result")) == "1")
        log.info("%d rows scored, %d predicted positive; files in %s", len(rows), positive, directory)
        return {"rows": len(rows), "predicted_positive": positive, "directory": directory}

    # [START howto_table_delete]
    cleanup = [
        TableDeleteOperator(
            task_id=f"delete_{party}_batch",
            fateflow_conn_id="{{ params.host_conn_id }}" if party == "host" else "fateflow_default",
            namespace="{{ params.namespace }}",
            table_name=f"breast_hetero_{party}_{BATCH_DAY}",
        )
        for party in ("guest", "host")
    ]
    # [END howto_table_delete]

    [*uploads, model] >> predict >> download
    summary = summarize(download.output)
    summary >> cleanup
