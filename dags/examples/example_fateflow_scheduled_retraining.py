"""Retrain every week and whenever the training table changes; put the new model in service only if it is better.

What it shows:

* Scheduling on time OR data: ``AssetOrTimeSchedule`` runs the DAG every Monday at 03:00 UTC and also
  when an upload adds a new version of the guest's training table to the ``fateflow-upload/breast_hetero_guest``
  AssetAlias (``example_fateflow_train_and_deploy`` does). The alias resolves to the table's Asset
  ``fateflow://<host>:<port>/<namespace>/<table>``, so this DAG does not need to know the FATE Flow address.
* ``TableExistsSensor`` (deferrable) waits until both training tables exist.
* ``SubmitJobOperator`` (deferrable) retrains; ``ComponentMetricsOperator`` reads the candidate's AUC.
* A branch compares it with the current champion's AUC (kept in the Airflow Variable
  ``fateflow_champion_<service_id>``): a better model is promoted (``ModelDeployOperator``,
  ``ModelLoadOperator``, ``ModelBindOperator``, then it becomes the champion); otherwise the champion
  stays and ``keep_champion`` records why.
* ``CleanJobOperator``, mapped over the jobs that lost (the old champion's, or the rejected candidate's),
  deletes their output tables and metrics in FATE. Models are not touched.

Connection: ``fateflow_default`` (type ``fateflow``, the guest's FATE Flow, extras ``initiator_role``
``guest``, ``initiator_party_id`` ``9999``, ``board_url``). Parties are in ``conf/hetero_lr_conf.json``.

There is no ``start_date``: the first run is the next Monday 03:00 UTC or the next upload, not the moment
the DAG is unpaused. Trigger it by hand to run it now.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, AssetAlias, Param, TaskGroup, Variable, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_fateflow.operators.component import ComponentMetricsOperator
from airflow_provider_fateflow.operators.job import CleanJobOperator, SubmitJobOperator
from airflow_provider_fateflow.operators.model import ModelBindOperator, ModelDeployOperator, ModelLoadOperator
from airflow_provider_fateflow.sensors.fateflow import TableExistsSensor

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)
#: Filled by the guest upload of example_fateflow_train_and_deploy (its ``asset_alias``).
TRAINING_TABLE = AssetAlias("fateflow-upload/breast_hetero_guest")
CANDIDATE_JOB_ID = "{{ ti.xcom_pull(task_ids='retrain') }}"
DEPLOYED_VERSION = "{{ ti.xcom_pull(task_ids='promote.deploy') }}"


def champion_key(service_id: str) -> str:
    """The Airflow Variable that holds the champion of a FATE-Serving service."""
    return f"fateflow_champion_{service_id}"


with DAG(
    dag_id="example_fateflow_scheduled_retraining",
    description="Weekly or on new data: retrain, compare AUC with the champion, promote only a better model",
    # [START howto_asset_or_time_schedule]
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * 1", timezone="UTC"),  # Mondays 03:00 UTC
        assets=TRAINING_TABLE,  # ... or when an upload makes a new version of the table
    ),
    # [END howto_asset_or_time_schedule]
    catchup=False,
    max_active_runs=1,  # two retrainings must not race for the champion
    doc_md=__doc__,
    tags=["example", "fateflow"],
    params={
        "namespace": Param("experiment", type="string"),
        "guest_table": Param("breast_hetero_guest", type="string"),
        "host_table": Param("breast_hetero_host", type="string"),
        "service_id": Param("breast-cancer-lr-weekly", type="string", description="FATE-Serving service id"),
        "min_improvement": Param(0.0, type="number", minimum=0,
                                 description="promote only if the AUC beats the champion's by more than this"),
    },
) as dag:
    # [START howto_table_exists_sensor]
    wait_for_tables = [
        TableExistsSensor(
            task_id=f"wait_for_{party}_table",
            namespace="{{ params.namespace }}",
            table_name="{{ params." + party + "_table }}",
            min_rows=1,
            deferrable=True,  # the wait costs no worker slot
            poke_interval=60,
            timeout=timedelta(hours=6).total_seconds(),
            retries=1,
        )
        for party in ("guest", "host")
    ]
    # [END howto_table_exists_sensor]

    retrain = SubmitJobOperator(
        task_id="retrain",
        conf=str(HERE / "conf" / "hetero_lr_conf.json"),
        dsl=str(HERE / "conf" / "hetero_lr_dsl.json"),
        deferrable=True,
        poll_interval=10,
        timeout=timedelta(hours=2),
        retries=1,
    )
    evaluate = ComponentMetricsOperator(task_id="evaluate", job_id=CANDIDATE_JOB_ID, component_name="evaluation_0")

    # [START howto_compare_with_champion]
    @task.branch
    def compare_with_champion(metrics: dict[str, Any], params: dict[str, Any] | None = None) -> str:
        """Promote the candidate only if its AUC beats the champion's; push the decision to XCom."""
        context = get_current_context()
        ti = context["ti"]
        aucs = [v for k, v in metrics["values"].items() if k.endswith(".auc")]
        if not aucs:
            raise ValueError(f"evaluation_0 reported no AUC: {sorted(metrics['values'])}")
        candidate = {
            "job_id": ti.xcom_pull(task_ids="retrain"),
            "model_id": ti.xcom_pull(task_ids="retrain", key="model_id"),
            "model_version": ti.xcom_pull(task_ids="retrain", key="model_version"),
            "auc": max(aucs),
            "board_url": ti.xcom_pull(task_ids="retrain", key="board_url"),
        }
        champion = Variable.get(champion_key(params["service_id"]), default=None, deserialize_json=True)
        margin = float(params["min_improvement"])
        if champion is None:
            promote, reason = True, f"no champion for service {params['service_id']} yet"
        elif candidate["auc"] > float(champion["auc"]) + margin:
            promote, reason = True, (f"candidate AUC {candidate['auc']:.4f} beats champion AUC "
                                     f"{float(champion['auc']):.4f} (job {champion['job_id']})")
        else:
            promote, reason = False, (f"candidate AUC {candidate['auc']:.4f} does not beat champion AUC "
                                      f"{float(champion['auc']):.4f} (job {champion['job_id']}) by more than {margin}")
        ti.xcom_push(key="decision", value={"promote": promote, "reason": reason, "candidate": candidate,
                                           "champion": champion})
        log.info("%s: %s", "Promote" if promote else "Keep the champion", reason)
        return "promote.deploy" if promote else "keep_champion"
    # [END howto_compare_with_champion]

    decide = compare_with_champion(evaluate.output)

    with TaskGroup("promote") as promote:
        deploy = ModelDeployOperator(task_id="deploy", job_id=CANDIDATE_JOB_ID)
        load = ModelLoadOperator(task_id="load", job_id=DEPLOYED_VERSION,
                                 model_id="{{ ti.xcom_pull(task_ids='promote.deploy', key='model_id') }}")
        bind = ModelBindOperator(task_id="bind", job_id=DEPLOYED_VERSION, service_id="{{ params.service_id }}",
                                 model_id="{{ ti.xcom_pull(task_ids='promote.deploy', key='model_id') }}")

        @task
        def crown(params: dict[str, Any] | None = None) -> list[str]:
            """The candidate becomes the champion; returns the old champion's job (to clean up)."""
            ti = get_current_context()["ti"]
            decision = ti.xcom_pull(task_ids="compare_with_champion", key="decision")
            champion = {**decision["candidate"], "deployed_version": ti.xcom_pull(task_ids="promote.deploy"),
                        "service_id": params["service_id"], "run_id": ti.run_id}
            Variable.set(champion_key(params["service_id"]), champion, serialize_json=True)
            log.info("New champion for service %s: %s", params["service_id"], champion)
            old = decision["champion"]
            return [old["job_id"]] if old and old.get("job_id") != champion["job_id"] else []

        deploy >> load >> bind >> crown()

    @task
    def keep_champion() -> list[str]:
        """Record why the champion stays (the run's log and this task's XCom); returns the rejected job."""
        decision = get_current_context()["ti"].xcom_pull(task_ids="compare_with_champion", key="decision")
        log.info("Kept the champion: %s", decision["reason"])
        return [decision["candidate"]["job_id"]]

    kept = keep_champion()

    @task(trigger_rule="none_failed_min_one_success")
    def jobs_to_clean() -> list[str]:
        """The jobs that lost: the old champion's (after a promotion) or the rejected candidate's."""
        ti = get_current_context()["ti"]
        return (ti.xcom_pull(task_ids="promote.crown") or []) + (ti.xcom_pull(task_ids="keep_champion") or [])

    to_clean = jobs_to_clean()
    # [START howto_clean_job]
    clean = CleanJobOperator.partial(task_id="clean_up_old_jobs", missing_ok=True).expand(job_id=to_clean)
    # [END howto_clean_job]

    wait_for_tables >> retrain >> evaluate >> decide >> [promote, kept]
    [promote, kept] >> to_clean >> clean
