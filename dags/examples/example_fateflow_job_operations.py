"""The FATE Flow chores of whoever is on call, as one DAG run by hand: choose ``action`` in the Trigger form.

What it shows, one branch per ``params.action``:

* ``rerun``: ``RerunJobOperator`` reruns a failed job from its failed components (the job keeps its id;
  what succeeded does not run again) and waits in the triggerer; then ``ComponentParametersOperator`` and
  ``ComponentOutputModelOperator`` show what ``params.component`` was given and what it learnt.
* ``stop``: ``StopJobOperator`` stops a job on every party.
* ``clean_queue``: ``QueueCleanOperator`` cancels every job waiting in FATE Flow's queue.
* ``archive_table``: ``TableInfoOperator`` checks that the table exists and how big it is,
  ``DownloadDataOperator`` downloads its rows to the worker (``local_dir``).

Trigger it with, e.g., ``airflow dags trigger example_fateflow_job_operations --conf
'{"action": "rerun", "job_id": "202611281258544015110"}'``.

Connection: ``fateflow_default`` (type ``fateflow``), the FATE Flow of the initiating party, with the
extras ``initiator_role``/``initiator_party_id`` (whose view of the components to read) and ``board_url``.
"""
from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_fateflow.operators.component import (
    ComponentOutputModelOperator,
    ComponentParametersOperator,
)
from airflow_provider_fateflow.operators.data import DownloadDataOperator, TableInfoOperator
from airflow_provider_fateflow.operators.job import QueueCleanOperator, RerunJobOperator, StopJobOperator

JOB_ID = "{{ params.job_id }}"
FIRST_TASK = {"rerun": "rerun", "stop": "stop", "clean_queue": "clean_queue", "archive_table": "table_info"}

with DAG(
    dag_id="example_fateflow_job_operations",
    description="On-call chores: rerun a failed job, stop a job, clean the queue, archive a table",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["example", "fateflow"],
    params={
        "action": Param("rerun", enum=sorted(FIRST_TASK), description="what to do"),
        "job_id": Param(None, type=["null", "string"], description="rerun, stop: the FATE job"),
        "component": Param("hetero_lr_0", type="string", description="rerun: the component to inspect"),
        "namespace": Param("experiment", type="string", description="archive_table: the table's namespace"),
        "table_name": Param("breast_hetero_guest", type="string", description="archive_table: the table"),
        "archive_dir": Param(str(Path(tempfile.gettempdir()) / "fateflow" / "archive"), type="string",
                             description="archive_table: directory on the worker"),
    },
) as dag:

    @task.branch
    def choose(params: dict[str, Any] | None = None) -> str:
        """The first task of the chosen action (a job id is checked before anything is sent)."""
        action = params["action"]
        if action in ("rerun", "stop") and not params.get("job_id"):
            raise ValueError(f"action {action!r} needs params.job_id")
        return FIRST_TASK[action]

    chosen = choose()

    # [START howto_rerun_job]
    rerun = RerunJobOperator(
        task_id="rerun",
        job_id=JOB_ID,  # reruns the failed components; force=True reruns everything
        deferrable=True,
        poll_interval=10,
        timeout=timedelta(hours=2),
        retries=1,
    )
    # [END howto_rerun_job]
    # [START howto_component_parameters_and_model]
    parameters = ComponentParametersOperator(
        task_id="component_parameters",
        job_id=JOB_ID,
        component_name="{{ params.component }}",
    )  # returns {"module": ..., "ComponentParam": {...}}
    model = ComponentOutputModelOperator(
        task_id="component_model",
        job_id=JOB_ID,
        component_name="{{ params.component }}",
    )  # returns {"data": <model parameters, e.g. weights>, "meta": {...}}
    # [END howto_component_parameters_and_model]
    rerun >> [parameters, model]

    # [START howto_stop_job]
    stop = StopJobOperator(task_id="stop", job_id=JOB_ID, stop_status="canceled")
    # [END howto_stop_job]

    # [START howto_queue_clean]
    clean_queue = QueueCleanOperator(task_id="clean_queue")  # returns {job_id: 0 when stopped everywhere}
    # [END howto_queue_clean]

    # [START howto_table_info_and_download]
    table_info = TableInfoOperator(
        task_id="table_info",
        namespace="{{ params.namespace }}",
        table_name="{{ params.table_name }}",
        fail_if_missing=True,
    )  # returns {"namespace", "table_name", "exists", "count", "partition", "schema"}
    download = DownloadDataOperator(
        task_id="download_table",
        namespace="{{ params.namespace }}",
        table_name="{{ params.table_name }}",
        local_dir="{{ params.archive_dir }}/{{ dag_run.run_after | ds_nodash }}",  # table.csv + table.meta
    )
    # [END howto_table_info_and_download]
    table_info >> download

    chosen >> [rerun, stop, clean_queue, table_info]
