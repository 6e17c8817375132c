"""Move a deployed model to another FATE Flow, back it up in the model store, and prove it restores.

What it shows:

* ``pick_model`` (a ``@task`` with ``FateFlowHook``): the newest deployed version of ``params.model_id``,
  or ``params.model_version``.
* ``ModelExportOperator`` downloads the model (the guest's part) as a zip to the worker.
* ``ModelImportOperator`` imports the zip into the target FATE Flow (``params.target_conn_id``) as
  ``params.target_model_id``. To copy between two servers keep the model id; on one server (as here by
  default) a different model id keeps the copy apart from the original.
* ``ModelStoreOperator`` stores the imported model in the target's model store (a FATE job, waited for),
  and ``ModelRestoreOperator`` restores it from there, so the backup is known to work.

Connections: ``fateflow_default`` (type ``fateflow``, the source FATE Flow, extras ``initiator_role``
``guest``, ``initiator_party_id`` ``9999``) and ``params.target_conn_id`` (the target; by default the same
connection). The target's model store (S3, COS...) is configured in its FATE Flow (``service_conf.yaml``).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_fateflow.operators.model import (
    ModelExportOperator,
    ModelImportOperator,
    ModelRestoreOperator,
    ModelStoreOperator,
)

log = logging.getLogger(__name__)
SOURCE_VERSION = "{{ ti.xcom_pull(task_ids='pick_model')['model_version'] }}"

with DAG(
    dag_id="example_fateflow_model_transfer",
    description="Export a deployed model, import it elsewhere, store it in the model store and restore it",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["example", "fateflow"],
    params={
        "model_id": Param("arbiter-10000#guest-9999#host-10000#model", type="string"),
        "model_version": Param(None, type=["null", "string"],
                               description="a deployed model version; empty: the newest deployed version"),
        "target_conn_id": Param("fateflow_default", type="string", description="connection of the target FATE Flow"),
        "target_model_id": Param("arbiter-10000#guest-9999#host-10000#model_transferred", type="string",
                                 description="model id on the target (keep the source's between two servers)"),
        "work_dir": Param(str(Path(tempfile.gettempdir()) / "fateflow" / "models"), type="string",
                          description="directory on the worker for the exported zip"),
    },
) as dag:

    @task
    def pick_model(params: dict[str, Any] | None = None) -> dict[str, str]:
        """``params.model_version``, or the newest deployed version of ``params.model_id``."""
        from airflow_provider_fateflow.client.errors import FateFlowNotFoundError
        from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

        if params.get("model_version"):
            return {"model_id": params["model_id"], "model_version": str(params["model_version"])}
        hook = FateFlowHook("fateflow_default")
        try:
            models = hook.model.query(model_id=params["model_id"], role=hook.config.initiator_role,
                                      party_id=hook.config.initiator_party_id)
        except FateFlowNotFoundError:
            models = []
        deployed = [m for m in models if not m.parent]
        if not deployed:
            raise FateFlowNotFoundError(f"model {params['model_id']} has no deployed version: deploy one "
                                        "(example_fateflow_train_and_deploy) or pass params.model_version",
                                        operation="model.query")
        newest = max(deployed, key=lambda m: (m.create_time or 0, m.model_version))
        log.info("Transferring model %s version %s.", params["model_id"], newest.model_version)
        return {"model_id": params["model_id"], "model_version": str(newest.model_version)}

    model = pick_model()

    # [START howto_model_export_import]
    export = ModelExportOperator(
        task_id="export",
        model_id="{{ params.model_id }}",
        model_version=SOURCE_VERSION,
        output_dir="{{ params.work_dir }}/{{ run_id }}",
    )  # returns the zip's path
    import_model = ModelImportOperator(
        task_id="import_to_target",
        fateflow_conn_id="{{ params.target_conn_id }}",
        file=export.output,
        model_id="{{ params.target_model_id }}",
        model_version=SOURCE_VERSION,
        force_update=True,  # a rerun replaces the copy
    )
    # [END howto_model_export_import]

    # [START howto_model_store_restore]
    store = ModelStoreOperator(
        task_id="store",
        fateflow_conn_id="{{ params.target_conn_id }}",
        model_id="{{ params.target_model_id }}",
        model_version=SOURCE_VERSION,
        extra_conf={"force_update": 1},
        poll_interval=5,
    )
    restore = ModelRestoreOperator(
        task_id="restore",
        fateflow_conn_id="{{ params.target_conn_id }}",
        model_id="{{ params.target_model_id }}",
        model_version=SOURCE_VERSION,
        poll_interval=5,
    )
    # [END howto_model_store_restore]

    model >> export >> import_model >> store >> restore
