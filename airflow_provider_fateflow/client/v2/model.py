"""``client.v2.model``: FATE Flow 2.x model export, import and delete, with the v2 SDK's names and order."""
from __future__ import annotations

import os
from typing import Any

from airflow_provider_fateflow.client.calls import nf
from airflow_provider_fateflow.client.multipart import FilePart
from airflow_provider_fateflow.client.inputs import resolve_local_file
from airflow_provider_fateflow.client.v2._group import V2Group
from airflow_provider_fateflow.client.v2._wire import V2Call, body, data_of, require

__all__ = ["ModelGroupV2"]

_NO_MODEL = nf(2005)


class ModelGroupV2(V2Group):
    """Model operations of FATE Flow 2.x (``fate_client.flow_sdk`` ``Model``).

    In FATE Flow 2.2.0 ``load``, ``store``, ``restore`` and ``migrate`` are placeholders on the server
    (``# todo``: they answer code 0 and do nothing, as recorded); they are here for the SDK's shape.
    """

    __slots__ = ()

    def export(self, role: str, model_id: str, model_version: str, party_id: int | str, path: str) -> Any:
        """Write a party's model as a zip into the directory ``path`` **on the FATE Flow host**
        (``POST model/export``; ``<path>/<model_id>_<model_version>_<role>_<party_id>.zip``)."""
        op = "model.export"
        return self._run(V2Call(op, "model/export", json=body(
            model_id=require(model_id, "model_id", op), model_version=require(model_version, "model_version", op),
            party_id=require(party_id, "party_id", op), role=require(role, "role", op), path=require(path, "path", op),
        ), parse=data_of))

    def import_model(self, model_id: str, model_version: str, path: str | os.PathLike[str]) -> None:
        """Register an exported model zip from this machine under ``model_id``/``model_version``
        (``POST model/import``, multipart, streamed). Not retried."""
        op = "model.import_model"
        local = resolve_local_file(require(path, "path", op), "path")
        self._run(V2Call(op, "model/import", form={"model_id": str(require(model_id, "model_id", op)),
                                                    "model_version": str(require(model_version, "model_version", op))},
                         file=FilePart("file", str(local), local.name, None), parse=data_of))

    def delete_model(self, model_id: str, model_version: str, role: str | None = None,
                     party_id: int | str | None = None, task_name: str | None = None,
                     output_key: str | None = None) -> int:
        """Delete stored models (``POST model/delete``); returns how many were deleted.

        :raises FateFlowNotFoundError: nothing matched (2005 "No found output model").
        """
        op = "model.delete_model"
        data = self._run(V2Call(op, "model/delete", json=body(
            model_id=require(model_id, "model_id", op), model_version=require(model_version, "model_version", op),
            role=role, party_id=party_id, task_name=task_name, output_key=output_key,
        ), not_found=_NO_MODEL, parse=data_of))
        return int((data or {}).get("count") or 0)

    def _placeholder(self, name: str, fields: dict[str, Any]) -> Any:
        return self._run(V2Call(f"model.{name}", f"model/{name}", json=body(**fields), parse=data_of))

    def load(self, **fields: Any) -> Any:
        """``POST model/load`` (a no-op in 2.2.0)."""
        return self._placeholder("load", fields)

    def store(self, **fields: Any) -> Any:
        """``POST model/store`` (a no-op in 2.2.0)."""
        return self._placeholder("store", fields)

    def restore(self, **fields: Any) -> Any:
        """``POST model/restore`` (a no-op in 2.2.0)."""
        return self._placeholder("restore", fields)

    def migrate(self, **fields: Any) -> Any:
        """``POST model/migrate`` (a no-op in 2.2.0)."""
        return self._placeholder("migrate", fields)
