"""``client.model``: deploy, load/bind to FATE-Serving, store/restore, export/import (API.md §8)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client._base import Group, body, data_dict, data_list, given_once, require
from airflow_provider_fateflow.client.calls import ApiCall, nf
from airflow_provider_fateflow.client.multipart import FilePart
from airflow_provider_fateflow.client.errors import FateFlowInputError
from airflow_provider_fateflow.client.inputs import load_json_arg, party_id_int, resolve_local_file, validate_job_conf
from airflow_provider_fateflow.client.results import (
    DeployResult,
    LocalJobResult,
    ModelImportResult,
    ModelInfo,
    PartyResults,
)

__all__ = ["ModelGroup"]

_MODEL_NOT_FOUND = nf(100, 101, 210, fragments=(
    "can not be found", "no model found", "cannot find", "cannot found", "can not found", "not found", "does not exist",
))


def _deploy_result(envelope: Mapping[str, Any]) -> DeployResult:
    return DeployResult.from_data(data_dict(envelope))


def _import_result(envelope: Mapping[str, Any]) -> ModelImportResult:
    data = data_dict(envelope)
    party = data.get("party_id")
    return ModelImportResult(
        job_id=data.get("job_id"), model_id=data.get("model_id"),
        model_version=None if data.get("model_version") is None else str(data["model_version"]),
        role=data.get("role"), party_id=None if party is None else int(party), raw=data,
    )


def _check_model_conf(conf: Mapping[str, Any], operation: str) -> None:
    validate_job_conf(conf, check_dsl_version=False)
    params = conf.get("job_parameters")
    if not isinstance(params, Mapping) or not params.get("model_id") or not params.get("model_version"):
        raise FateFlowInputError("conf.job_parameters: model_id and model_version are required", operation=operation)


class ModelGroup(Group):
    """Model operations, with the FATE Flow SDK's names and arguments."""

    __slots__ = ()

    def deploy(self, model_id: str, model_version: str, cpn_list: list[str] | str | None = None,
               predict_dsl: Mapping[str, Any] | None = None,
               components_checkpoint: Mapping[str, Any] | None = None) -> DeployResult:
        """Deploy a trained model (``POST model/deploy``); returns the NEW model version.

        :param cpn_list: components to deploy (list or comma string); exclusive with ``predict_dsl``.
        :param predict_dsl: a predict DSL dict.
        :param components_checkpoint: ``{component: {"step_index"|"step_name": ...}}``.
        :raises FateFlowNotFoundError: no such model (HTTP 404).
        """
        if cpn_list is not None and predict_dsl is not None:
            raise FateFlowInputError("cpn_list and predict_dsl are mutually exclusive", operation="model.deploy")
        return self._run(ApiCall(
            "model.deploy", "model/deploy",
            json=body(model_id=require(model_id, "model_id", "model.deploy"),
                      model_version=require(model_version, "model_version", "model.deploy"),
                      cpn_list=cpn_list, predict_dsl=predict_dsl, components_checkpoint=components_checkpoint),
            parse=_deploy_result,
        ))

    def load(self, conf: Mapping[str, Any] | str | os.PathLike[str] | None = None,
             job_id: str | None = None) -> PartyResults:
        """Publish a deployed model to FATE-Serving (``POST model/load``).

        Exactly one of ``conf`` or ``job_id`` (the deployed model version). By job id the client sends
        ``{"job_id": ...}`` itself (the SDK crashes there).

        :raises FateFlowApiError: some party failed (101 "failed"; ``data`` and the message carry the detail).
        """
        if (conf is None) == (job_id is None):
            raise FateFlowInputError("give exactly one of conf or job_id", operation="model.load")
        if conf is not None:
            payload = load_json_arg(conf, "load conf")
            _check_model_conf(payload, "model.load")
        else:
            payload = {"job_id": str(job_id)}
        return self._run(ApiCall(
            "model.load", "model/load", json=payload,
            not_found=nf(101, fragments="can not be found in database"), parse=PartyResults.from_envelope,
        ))

    def bind(self, conf: Mapping[str, Any] | str | os.PathLike[str], job_id: str | None = None) -> PartyResults:
        """Bind a ``service_id`` to a loaded model in FATE-Serving (``POST model/bind``).

        :param conf: ``service_id`` plus (unless ``job_id`` is given) initiator, role, job_parameters.
        """
        payload = load_json_arg(conf, "bind conf")
        if job_id is None:
            _check_model_conf(payload, "model.bind")
        else:
            payload["job_id"] = str(job_id)
        return self._run(ApiCall(
            "model.bind", "model/bind", json=payload,
            not_found=nf(101, fragments="can not be found in database"), parse=PartyResults.from_envelope,
        ))

    def _local_job(self, envelope: Mapping[str, Any]) -> LocalJobResult:
        data = data_dict(envelope)
        job_id = str(data.get("job_id") or envelope["jobId"])
        return LocalJobResult.from_data(data, job_id, self._config.board_url)

    def store(self, conf: Mapping[str, Any] | str | os.PathLike[str]) -> LocalJobResult:
        """Store a model in the remote model store (``POST model/store``): a local job; checks ``data.code``.

        :param conf: model_id, model_version, role, party_id (all required by the server), force_update.
        """
        return self._run(ApiCall("model.store", "model/store", json=load_json_arg(conf, "store conf"),
                                 check_data_code=True, parse=self._local_job))

    def restore(self, conf: Mapping[str, Any] | str | os.PathLike[str]) -> LocalJobResult:
        """Restore a model from the model store (``POST model/restore``): a local job; checks ``data.code``."""
        return self._run(ApiCall("model.restore", "model/restore", json=load_json_arg(conf, "restore conf"),
                                 check_data_code=True, parse=self._local_job))

    def export(self, conf: Mapping[str, Any] | str | os.PathLike[str] | None = None,
               output_path: str | os.PathLike[str] | None = None, *,
               conf_path: Mapping[str, Any] | str | os.PathLike[str] | None = None) -> Path:
        """Download a model zip (``GET model/export`` with a JSON body) into a directory, not extracted.

        ``export(conf_path)`` with ``output_path`` inside the conf (the SDK's way) and
        ``export(conf, output_path)`` both work; an argument wins over the conf's key.

        :param conf: role, party_id, model_id, model_version (and ``output_path``): a dict or a JSON file path
            (``conf_path`` is the SDK's name for it).
        :param output_path: the local directory (default: the conf's ``output_path``).
        :returns: the zip's path; its name comes from Content-Disposition (it contains ``#``).
        :raises FateFlowInputError: a missing key or no output directory (before sending).
        :raises FateFlowNotFoundError: no such model (HTTP 404).
        """
        c = load_json_arg(given_once("model.export", conf=conf, conf_path=conf_path), "export conf")
        output_path = output_path if output_path is not None else c.get("output_path")
        if output_path in (None, ""):
            raise FateFlowInputError("export: give output_path (an argument or a conf key)", operation="model.export")
        for key in ("role", "party_id", "model_id", "model_version"):
            if c.get(key) in (None, ""):
                raise FateFlowInputError(f"export conf.{key}: missing", operation="model.export")
        payload = body(role=c["role"], party_id=c["party_id"], model_id=c["model_id"], model_version=c["model_version"])
        fallback = f"{payload['role']}#{payload['party_id']}#{payload['model_id']}_{payload['model_version']}.zip"
        downloaded = self._run(ApiCall(
            "model.export", "model/export", method="GET", json=payload, idempotent=True,
            download_to=os.fspath(output_path), download_name=fallback, parse=lambda f: f,
        ))
        return Path(downloaded.path)

    export_model = export

    def imp(self, conf: Mapping[str, Any] | str | os.PathLike[str] | None = None,
            file: str | os.PathLike[str] | None = None, *,
            conf_path: Mapping[str, Any] | str | os.PathLike[str] | None = None) -> ModelImportResult:
        """Import an exported model zip (``POST model/import``, multipart; not retried).

        ``imp(conf_path)`` with ``file`` inside the conf (the SDK's way) and ``imp(conf, file)`` both work; an
        argument wins over the conf's key. Form fields: every other conf key as ``str(value)``,
        ``force_update`` as ``0``/``1``; file part ``file``.

        :param conf: role, party_id, model_id, model_version, force_update (and ``file``): a dict or a JSON
            file path (``conf_path`` is the SDK's name for it).
        :param file: the zip on this machine (default: the conf's ``file``).
        :raises FateFlowInputError: no or a missing zip (before sending).
        """
        c = load_json_arg(given_once("model.import", conf=conf, conf_path=conf_path), "import conf")
        file = file if file is not None else c.get("file")
        if file in (None, ""):
            raise FateFlowInputError("import: give file (an argument or a conf key)", operation="model.import")
        path = resolve_local_file(file, "model import file")
        form = {k: str(v) for k, v in c.items() if v is not None and k not in ("file", "from_database")}
        form["force_update"] = "1" if c.get("force_update") not in (None, 0, "0", False, "False", "false") else "0"
        if "party_id" in c:
            form["party_id"] = str(party_id_int(c["party_id"], "import conf.party_id"))
        return self._run(ApiCall(
            "model.import", "model/import", form=form, file=FilePart("file", str(path), path.name, None),
            parse=_import_result,
        ))

    import_model = imp

    def query(self, model_id: str | None = None, model_version: str | None = None, role: str | None = None,
              party_id: int | str | None = None) -> list[ModelInfo]:
        """Model records (``POST model/query``).

        :raises FateFlowNotFoundError: nothing matched (retcode 100).
        """
        return self._run(ApiCall(
            "model.query", "model/query",
            json=body(model_id=model_id, model_version=model_version, role=role, party_id=party_id),
            idempotent=True, not_found=_MODEL_NOT_FOUND,
            parse=lambda env: [ModelInfo.from_dict(m) for m in data_list(env)],
        ))

    get_model_info = query

    def get_predict_dsl(self, model_id: str, model_version: str) -> dict[str, Any]:
        """The deployed model's inference DSL (``POST model/get/predict/dsl``)."""
        return self._predict_template("model.get_predict_dsl", "model/get/predict/dsl", model_id, model_version)

    def get_predict_conf(self, model_id: str, model_version: str) -> dict[str, Any]:
        """A predict runtime-conf template (``POST model/get/predict/conf``)."""
        return self._predict_template("model.get_predict_conf", "model/get/predict/conf", model_id, model_version)

    def _predict_template(self, operation: str, path: str, model_id: str, model_version: str) -> dict[str, Any]:
        return self._run(ApiCall(
            operation, path,
            json=body(model_id=require(model_id, "model_id", operation),
                      model_version=require(model_version, "model_version", operation)),
            idempotent=True, not_found=nf(210), parse=data_dict,
        ))
