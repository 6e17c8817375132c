"""Model operators: deploy, load, bind, store, restore, export, import.

A training job's ``model_version`` (its job id) is a *parent* version that FATE never treats as
deployed (API.md §8.7): predict jobs, ``model/load`` and ``model/bind`` need the NEW version that
``model/deploy`` returns. :class:`ModelLoadOperator` and :class:`ModelBindOperator` accept either: given
a training job id (a parent version) they deploy it first (``deploy_if_needed=True``) and use the new
version; given a deployed version they use it as is. One parent version is deployed once per DAG run: a
load or bind whose upstream tasks (a :class:`ModelDeployOperator`, or a load that deployed) already deployed
that parent version uses that deployment (XCom ``fateflow_deployment``), so bind binds the version load
loaded.
"""
from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_fateflow.client.errors import FateFlowInputError, FateFlowNotFoundError
from airflow_provider_fateflow.client.inputs import load_json_arg
from airflow_provider_fateflow.client.wait import watched_row
from airflow_provider_fateflow.operators.base import FateFlowBaseOperator, FateFlowJobOperator, JobRef
from airflow_provider_fateflow.operators.job import writable_directory

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_fateflow.client.results import PartyResults

__all__ = [
    "ModelDeployOperator",
    "ModelLoadOperator",
    "ModelBindOperator",
    "ModelStoreOperator",
    "ModelRestoreOperator",
    "ModelExportOperator",
    "ModelImportOperator",
    "DEPLOYMENT_XCOM_KEY",
]

#: XCom key of a deployment a task made: ``{"parent_version", "model_id", "model_version"}``.
DEPLOYMENT_XCOM_KEY = "fateflow_deployment"


def _party_results(result: PartyResults) -> dict[str, Any]:
    """The XCom of a load or bind (docs/operators.md): ``ok``, FATE's ``message`` and each party's outcome."""
    return {"ok": result.ok, "message": result.message,
            "parties": {role: {str(party): {"ok": code == 0, "message": result.party_message(role, party)}
                               for party, code in parties.items()}
                        for role, parties in result.parties.items()}}


class _ModelMixin(FateFlowBaseOperator):
    """Resolves ``job_id`` / ``model_id`` + ``model_version`` to a model, deploying a parent version."""

    def _model_of_job(self, job_id: str) -> tuple[str, str]:
        row = watched_row(self.hook.job.query(job_id=str(job_id)), None, None)
        if row is None:
            raise FateFlowNotFoundError(f"FATE job {job_id} not found", operation="job.query")
        if not row.model_id:
            raise FateFlowInputError(f"job {job_id} has no model (no model_id in its runtime conf)")
        return row.model_id, row.model_version or str(job_id)

    def _is_parent(self, model_id: str | None, model_version: str) -> bool:
        try:
            records = self.hook.model.query(model_id=model_id, model_version=str(model_version))
        except FateFlowNotFoundError:
            records = []
        if not records:
            raise FateFlowNotFoundError(
                f"no model with version {model_version}" + (f" (model id {model_id})" if model_id else "")
                + ": give a training job id, or a version returned by model deploy", operation="model.query")
        return any(bool(r.parent) for r in records)

    def _remember_deployment(self, context: Context, parent_version: str, model_id: str, model_version: str) -> None:
        context["ti"].xcom_push(key=DEPLOYMENT_XCOM_KEY, value={
            "parent_version": str(parent_version), "model_id": model_id, "model_version": model_version})

    def _earlier_deployment(self, context: Context, parent_version: str) -> tuple[str, str] | None:
        """``(model_id, version)`` an upstream task of this DAG run deployed ``parent_version`` as, if any."""
        upstream = [t.task_id for t in self.get_flat_relatives(upstream=True) if isinstance(t, _ModelMixin)]
        if not upstream:
            return None
        try:
            found = context["ti"].xcom_pull(task_ids=upstream, key=DEPLOYMENT_XCOM_KEY)
        except Exception as err:  # looking is a nicety: deploying again is what happened before
            self.log.warning("Could not read the deployments of upstream tasks: %s", err)
            return None
        for value in found or []:
            if isinstance(value, dict) and value.get("parent_version") == str(parent_version):
                return str(value["model_id"]), str(value["model_version"])
        return None

    def _deployed_version(self, model_id: str | None, version: str, deploy_if_needed: bool,
                          context: Context) -> tuple[str | None, str]:
        if not self._is_parent(model_id, version):
            return model_id, version
        if not deploy_if_needed:
            raise FateFlowInputError(
                f"model version {version} is a training (parent) version, which FATE never loads or binds: "
                "deploy it first (ModelDeployOperator) or set deploy_if_needed=True"
            )
        earlier = self._earlier_deployment(context, version)
        if earlier is not None:
            self.log.info("Model version %s is a training (parent) version, deployed upstream in this DAG run as "
                          "%s: using that.", version, earlier[1])
            return earlier
        if not model_id:
            model_id, _ = self._model_of_job(version)
        deployed = self.hook.model.deploy(model_id, version)
        self.log.info("Model version %s is a training (parent) version: deployed it as %s.", version,
                      deployed.model_version)
        context["ti"].xcom_push(key="deployed_model_version", value=deployed.model_version)
        self._remember_deployment(context, version, deployed.model_id, deployed.model_version)
        return deployed.model_id, deployed.model_version


class ModelDeployOperator(_ModelMixin):
    """Deploy a trained model; returns the NEW model version (pushes ``model_id`` and ``model_version``).

    :param model_id: the model id (templated); with ``model_version``, or give ``job_id``.
    :param model_version: the training model version (templated).
    :param job_id: a training job id instead of model id and version (templated).
    :param cpn_list: components to deploy (list or comma-separated string); exclusive with ``predict_dsl``.
    :param predict_dsl: a predict DSL (dict) to deploy with.
    :param components_checkpoint: ``{component: {"step_index"|"step_name": ...}}``.
    """

    template_fields: Sequence[str] = ("model_id", "model_version", "job_id", "cpn_list", "predict_dsl",
                                      "fateflow_conn_id")
    template_fields_renderers = {"predict_dsl": "json"}

    def __init__(self, *, model_id: str | None = None, model_version: str | None = None, job_id: str | None = None,
                 cpn_list: list[str] | str | None = None, predict_dsl: dict[str, Any] | None = None,
                 components_checkpoint: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.model_version = model_version
        self.job_id = job_id
        self.cpn_list = cpn_list
        self.predict_dsl = predict_dsl
        self.components_checkpoint = components_checkpoint

    def execute(self, context: Context) -> str:
        if self.cpn_list and self.predict_dsl:
            raise FateFlowInputError("cpn_list and predict_dsl are mutually exclusive")
        model_id, version = self.model_id, self.model_version
        if not (model_id and version):
            if not self.job_id:
                raise FateFlowInputError("give model_id and model_version, or job_id (a training job)")
            model_id, version = self._model_of_job(str(self.job_id))
        result = self.hook.model.deploy(str(model_id), str(version), self.cpn_list or None,
                                        self.predict_dsl or None, self.components_checkpoint or None)
        self.log.info("Deployed model %s version %s as version %s.", model_id, version, result.model_version)
        context["ti"].xcom_push(key="model_id", value=result.model_id)
        context["ti"].xcom_push(key="model_version", value=result.model_version)
        self._remember_deployment(context, str(version), result.model_id, result.model_version)
        return result.model_version


class _ServingOperator(_ModelMixin):
    template_fields: Sequence[str] = ("conf", "job_id", "model_id", "model_version", "fateflow_conn_id")
    template_fields_renderers = {"conf": "json"}

    def __init__(self, *, conf: dict[str, Any] | str | None = None, job_id: str | None = None,
                 model_id: str | None = None, model_version: str | None = None, deploy_if_needed: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conf = conf
        self.job_id = job_id
        self.model_id = model_id
        self.model_version = model_version
        self.deploy_if_needed = deploy_if_needed

    def _resolve(self, context: Context) -> tuple[dict[str, Any] | None, str | None, str | None]:
        """``(conf, model_id, version)``: the conf (model version replaced by the deployed one), or a version."""
        if self.conf:
            conf = load_json_arg(self.conf, "conf")
            params = conf.get("job_parameters") or {}
            if params.get("model_version"):
                model_id, version = self._deployed_version(params.get("model_id"), str(params["model_version"]),
                                                           self.deploy_if_needed, context)
                conf["job_parameters"] = {**params, "model_id": model_id, "model_version": version}
                return conf, model_id, version
            return conf, None, None
        version = self.job_id or self.model_version
        if not version:
            raise FateFlowInputError("give job_id (training job or deployed version), model_version, or conf")
        model_id, version = self._deployed_version(self.model_id, str(version), self.deploy_if_needed, context)
        return None, model_id, version


class ModelLoadOperator(_ServingOperator):
    """Publish a deployed model to FATE-Serving (``model/load``).

    Returns ``{"model_id", "model_version", "ok", "message", "parties"}`` (``parties``: ``{role: {party_id:
    {"ok", "message"}}}``); pushes ``model_version``.

    :param job_id: a training job id or a deployed model version (templated).
    :param model_id: the model id (optional; speeds up the lookup).
    :param model_version: same as ``job_id``.
    :param conf: a full load conf instead (initiator, role, job_parameters.model_id/model_version).
    :param deploy_if_needed: deploy a training (parent) version first (default True).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        conf, model_id, version = self._resolve(context)
        result = self.hook.model.load(conf=conf) if conf is not None else self.hook.model.load(job_id=version)
        result.raise_for_failure("model.load")
        self.log.info("Loaded model %s version %s into FATE-Serving.", model_id, version)
        context["ti"].xcom_push(key="model_version", value=version)
        return {"model_id": model_id, "model_version": version, **_party_results(result)}


class ModelBindOperator(_ServingOperator):
    """Bind a FATE-Serving ``service_id`` to a loaded model (``model/bind``).

    Returns ``{"service_id", "model_id", "model_version", "message"}``.

    :param service_id: the serving service id (templated).
    :param job_id: a training job id or a deployed model version (templated).
    :param conf: a full bind conf instead (``service_id`` may be given there).
    :param servings: ``["host:port", ...]`` of FATE-Serving (default: FATE Flow's registry).
    """

    template_fields: Sequence[str] = (*_ServingOperator.template_fields, "service_id")

    def __init__(self, *, service_id: str | None = None, servings: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_id = service_id
        self.servings = servings

    def execute(self, context: Context) -> dict[str, Any]:
        conf, model_id, version = self._resolve(context)
        payload: dict[str, Any] = dict(conf or {})
        if self.service_id:
            payload["service_id"] = str(self.service_id)
        if not payload.get("service_id"):
            raise FateFlowInputError("service_id: missing")
        if self.servings:
            payload["servings"] = list(self.servings)
        result = self.hook.model.bind(payload) if conf is not None else self.hook.model.bind(payload, job_id=version)
        result.raise_for_failure("model.bind")
        self.log.info("Bound service %s to model %s version %s: %s", payload["service_id"], model_id, version,
                      result.message)
        return {"service_id": payload["service_id"], "model_id": model_id, "model_version": version,
                "message": result.message}


class _ModelJobOperator(FateFlowJobOperator):
    """Store/restore: a local FATE job, waited for by the engine."""

    template_fields: Sequence[str] = ("model_id", "model_version", "role", "party_id", "fateflow_conn_id")
    marker_lookup = False
    operation = "store"

    def __init__(self, *, model_id: str, model_version: str, role: str | None = None,
                 party_id: int | str | None = None, extra_conf: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.model_version = model_version
        self.role = role
        self.party_id = party_id
        self.extra_conf = extra_conf

    def _validate(self, context: Context) -> None:
        if not self.model_id or not self.model_version:
            raise FateFlowInputError("model_id and model_version are required")

    def _conf(self) -> dict[str, Any]:
        role, party = self._party(self.role, self.party_id)
        return {**(self.extra_conf or {}), "model_id": str(self.model_id), "model_version": str(self.model_version),
                "role": role, "party_id": party}

    def _submit(self, context: Context, marker: str) -> JobRef:
        call = self.hook.model.store if self.operation == "store" else self.hook.model.restore
        result = call(self._conf())
        self.log.info("Model %s job %s started for %s/%s.", self.operation, result.job_id, self.model_id,
                      self.model_version)
        return JobRef(job_id=result.job_id, role=result.role, party_id=result.party_id, created=time.time(),
                      board_url=result.board_url)

    def _result(self, context: Context, ref: JobRef, waited: bool) -> dict[str, Any]:
        return {"job_id": ref.job_id, "model_id": str(self.model_id), "model_version": str(self.model_version)}


class ModelStoreOperator(_ModelJobOperator):
    """Store a model in the remote model store (a local FATE job, waited for).

    Returns ``{"job_id", "model_id", "model_version"}``.

    :param model_id: the model id (templated).
    :param model_version: the model version (templated).
    :param role: the party's role (default: the connection's initiator role).
    :param party_id: the party (default: the connection's initiator party).
    :param extra_conf: more fields, e.g. ``{"force_update": 1}``.
    """

    job_kind = "model store job"
    operation = "store"


class ModelRestoreOperator(_ModelJobOperator):
    """Restore a model from the remote model store (a local FATE job, waited for).

    Same parameters as :class:`ModelStoreOperator` (``extra_conf`` may carry ``sha256``).
    """

    job_kind = "model restore job"
    operation = "restore"


class ModelExportOperator(FateFlowBaseOperator):
    """Download a model as a zip into a local directory; returns the zip's path.

    On FATE Flow 2.x FATE writes the zip itself, into ``output_dir`` **on the FATE Flow host**
    (``<model_id>_<model_version>_<role>_<party_id>.zip``).

    :param model_id: the model id (templated).
    :param model_version: the model version (templated).
    :param output_dir: a directory on the worker (created, checked writable before any request).
    :param role: the party's role (default: the connection's initiator role).
    :param party_id: the party (default: the connection's initiator party).
    """

    template_fields: Sequence[str] = ("model_id", "model_version", "output_dir", "role", "party_id",
                                      "fateflow_conn_id")

    def __init__(self, *, model_id: str, model_version: str, output_dir: str, role: str | None = None,
                 party_id: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.model_version = model_version
        self.output_dir = output_dir
        self.role = role
        self.party_id = party_id

    def execute(self, context: Context) -> str:
        if not self.model_id or not self.model_version:
            raise FateFlowInputError("model_id and model_version are required")
        role, party = self._party(self.role, self.party_id)
        if self.hook.dialect == "v2":  # FATE Flow 2.x writes the zip on its own host, into output_dir
            self.hook.model.export(role, str(self.model_id), str(self.model_version), party, str(self.output_dir))
            path = Path(str(self.output_dir)) / f"{self.model_id}_{self.model_version}_{role}_{party}.zip"
            self.log.info("FATE Flow exported model %s version %s (%s/%s) to %s on its host", self.model_id,
                          self.model_version, role, party, path)
            return str(path)
        directory = writable_directory(self.output_dir, "output_dir")
        path = self.hook.model.export({"role": role, "party_id": party, "model_id": str(self.model_id),
                                       "model_version": str(self.model_version)}, directory)
        self.log.info("Exported model %s version %s (%s/%s) to %s", self.model_id, self.model_version, role, party,
                      path)
        return str(path)


class ModelImportOperator(FateFlowBaseOperator):
    """Import an exported model zip; returns ``{"job_id", "model_id", "model_version", "role", "party_id"}``.

    :param file: the zip on the worker (templated); checked before any request.
    :param model_id: the model id (templated).
    :param model_version: the model version (templated).
    :param role: the party's role (default: the connection's initiator role).
    :param party_id: the party (default: the connection's initiator party).
    :param force_update: replace an existing model (default False).
    """

    template_fields: Sequence[str] = ("file", "model_id", "model_version", "role", "party_id", "fateflow_conn_id")

    def __init__(self, *, file: str, model_id: str, model_version: str, role: str | None = None,
                 party_id: int | str | None = None, force_update: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file = file
        self.model_id = model_id
        self.model_version = model_version
        self.role = role
        self.party_id = party_id
        self.force_update = force_update

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_fateflow.client.inputs import resolve_local_file

        if not self.file:
            raise FateFlowInputError("file: missing")
        path = resolve_local_file(self.file, "model zip")
        if not self.model_id or not self.model_version:
            raise FateFlowInputError("model_id and model_version are required")
        role, party = self._party(self.role, self.party_id)
        result = self.hook.model.imp({"role": role, "party_id": party, "model_id": str(self.model_id),
                                      "model_version": str(self.model_version),
                                      "force_update": 1 if self.force_update else 0}, path)
        self.log.info("Imported model %s version %s (job %s).", result.model_id, result.model_version, result.job_id)
        return {"job_id": result.job_id, "model_id": result.model_id, "model_version": result.model_version,
                "role": result.role, "party_id": result.party_id}
