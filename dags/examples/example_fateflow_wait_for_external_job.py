"""Wait for a FATE job someone submitted outside Airflow (FATE Board, ``flow job submit``, a notebook),
then collect its metrics and its logs.

What it shows:

* ``TaskStatusSensor`` (deferrable) waits for one component, ``params.metrics_component``; its metrics
  are read (``ComponentMetricsOperator``) as soon as it has finished, while the job may still run.
* ``JobStatusSensor`` (deferrable) waits for the whole job. A job that fails or is canceled fails the
  sensor with FATE's error report (which component, on which party, and why) in the task log; the
  "FATE Board" link opens the job.
* ``JobLogOperator`` downloads the job's logs (every party's) to the worker once it has ended.

Trigger it with the job id, e.g. ``airflow dags trigger example_fateflow_wait_for_external_job
--conf '{"job_id": "202611281258544015110"}'`` (or the Trigger form in the UI).

Connection: ``fateflow_default`` (type ``fateflow``), a FATE Flow that knows the job (any party's), with
the extras ``initiator_role``/``initiator_party_id`` of the party whose metrics to read and ``board_url``.
"""
from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_fateflow.operators.component import ComponentMetricsOperator
from airflow_provider_fateflow.operators.job import JobLogOperator
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor, TaskStatusSensor

JOB_ID = "{{ params.job_id }}"

with DAG(
    dag_id="example_fateflow_wait_for_external_job",
    description="Wait (deferrable) for a FATE job submitted elsewhere, then collect its metrics and logs",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["example", "fateflow"],
    params={
        "job_id": Param(type="string", minLength=1, description="the FATE job to wait for"),
        "metrics_component": Param("evaluation_0", type="string", description="component whose metrics to read"),
        "log_dir": Param(str(Path(tempfile.gettempdir()) / "fateflow" / "job-logs"), type="string",
                         description="directory on the worker for the downloaded logs"),
    },
) as dag:
    # [START howto_task_status_sensor]
    wait_for_component = TaskStatusSensor(
        task_id="wait_for_component",
        job_id=JOB_ID,
        component_name="{{ params.metrics_component }}",
        deferrable=True,
        poke_interval=30,
        timeout=timedelta(hours=12).total_seconds(),
        retries=1,
    )
    # [END howto_task_status_sensor]
    metrics = ComponentMetricsOperator(
        task_id="metrics",
        job_id=JOB_ID,
        component_name="{{ params.metrics_component }}",
    )

    # [START howto_job_status_sensor]
    wait_for_job = JobStatusSensor(
        task_id="wait_for_job",
        job_id=JOB_ID,
        deferrable=True,  # the sensor pokes once, then waits in the triggerer
        poke_interval=30,
        timeout=timedelta(hours=12).total_seconds(),
        retries=1,
    )
    # [END howto_job_status_sensor]

    # [START howto_job_log]
    logs = JobLogOperator(
        task_id="download_logs",
        job_id=JOB_ID,
        output_dir="{{ params.log_dir }}/{{ run_id }}",
    )
    # [END howto_job_log]

    wait_for_component >> metrics
    wait_for_job >> logs
