"""``client.v2.output``: a FATE Flow 2.x task's metrics, model and data, with the v2 SDK's names and order."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client.calls import nf
from airflow_provider_fateflow.client.v2._group import V2Group, download_and_extract
from airflow_provider_fateflow.client.v2._wire import TASK_NOT_FOUND, V2Call, body, data_of, params, require

__all__ = ["OutputGroupV2"]

#: "No found task" (2000) and "No found output model" (2005).
_NO_MODEL = nf(2000, 2005)


class OutputGroupV2(V2Group):
    """Task outputs of FATE Flow 2.x (``fate_client.flow_sdk`` ``Output``). Every call names one task of one
    party: ``job_id, role, party_id, task_name``. Unknown task -> FateFlowNotFoundError (2000)."""

    __slots__ = ()

    def _task(self, operation: str, job_id: str, role: str, party_id: int | str, task_name: str) -> dict[str, Any]:
        return {"job_id": require(job_id, "job_id", operation), "role": require(role, "role", operation),
                "party_id": str(require(party_id, "party_id", operation)),
                "task_name": require(task_name, "task_name", operation)}

    def _get(self, operation: str, path: str, fields: Mapping[str, Any], parse: Any = data_of,
             not_found: Any = TASK_NOT_FOUND) -> Any:
        return self._run(V2Call(operation, path, method="GET", query=params(**fields), idempotent=True,
                                not_found=not_found, parse=parse))

    def query_metric_key(self, job_id: str, role: str, party_id: int | str, task_name: str) -> list[dict[str, Any]]:
        """The metric keys a task wrote: ``[{"name", "type", "groups", "step_axis"}]``."""
        return list(self._get("output.query_metric_key", "output/metric/key/query",
                              self._task("output.query_metric_key", job_id, role, party_id, task_name)) or [])

    def query_metric(self, job_id: str, role: str, party_id: int | str, task_name: str,
                     filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """A task's metrics (``GET output/metric/query``): for an evaluation task
        ``[{"data": {"lr_0": {"train_set": [{"metric": "auc", "val": 0.96}, ...]}}, "name": ..., ...}]``.

        :param filters: e.g. ``{"name": "evaluation"}``, sent as JSON.
        """
        fields = self._task("output.query_metric", job_id, role, party_id, task_name)
        if filters:
            fields["filters"] = dict(filters)
        return list(self._get("output.query_metric", "output/metric/query", fields) or [])

    def delete_metric(self, job_id: str, role: str, party_id: int | str, task_name: str) -> Any:
        """Delete a task's metrics (``POST output/metric/delete``)."""
        return self._run(V2Call("output.delete_metric", "output/metric/delete",
                                json=body(**self._task("output.delete_metric", job_id, role, party_id, task_name)),
                                not_found=TASK_NOT_FOUND, parse=data_of))

    def query_model(self, job_id: str, role: str, party_id: int | str, task_name: str) -> dict[str, Any]:
        """A task's model (``GET output/model/query``): ``{"output_model": {"data": ..., "meta": ...}}``.

        :raises FateFlowNotFoundError: unknown task (2000), or a task without a model (2005).
        """
        return dict(self._get("output.query_model", "output/model/query",
                              self._task("output.query_model", job_id, role, party_id, task_name),
                              not_found=_NO_MODEL) or {})

    def download_model(self, job_id: str, role: str, party_id: int | str, task_name: str,
                       path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Path:
        """Fetch a task's model files (``GET output/model/download``, a tar) and extract them safely into
        ``<path>/model_<job_id>_<role>_<party_id>_<task_name>/``."""
        fields = self._task("output.download_model", job_id, role, party_id, task_name)
        stem = f"model_{job_id}_{role}_{party_id}_{task_name}"
        return download_and_extract(self, "output.download_model", "output/model/download", query=params(**fields),
                                    target=Path(path) / stem, fallback_name=f"{stem}.tar", fmt="tar",
                                    not_found=_NO_MODEL, max_bytes=max_bytes)

    def delete_model(self, job_id: str, role: str, party_id: int | str, task_name: str) -> Any:
        """Delete a task's model (``POST output/model/delete``)."""
        return self._run(V2Call("output.delete_model", "output/model/delete",
                                json=body(**self._task("output.delete_model", job_id, role, party_id, task_name)),
                                not_found=_NO_MODEL, parse=data_of))

    def download_data(self, job_id: str, role: str, party_id: int | str, task_name: str,
                      path: str | os.PathLike[str], output_key: str | None = None, *,
                      max_bytes: int | None = None) -> Path:
        """Fetch a task's output data (``GET output/data/download``, a tar.gz: ``<output_key>/0.csv`` and
        ``.meta``) and extract it safely into ``<path>/data_<job_id>_<role>_<party_id>_<task_name>/``."""
        fields = self._task("output.download_data", job_id, role, party_id, task_name)
        fields["output_key"] = output_key
        stem = f"data_{job_id}_{role}_{party_id}_{task_name}"
        return download_and_extract(self, "output.download_data", "output/data/download", query=params(**fields),
                                    target=Path(path) / stem, fallback_name=f"{stem}.tar.gz",
                                    not_found=TASK_NOT_FOUND, max_bytes=max_bytes)

    def data_table(self, job_id: str, role: str, party_id: int | str, task_name: str) -> dict[str, Any]:
        """The tables a task wrote: ``{output_key: [{"name", "namespace"}]}`` (an answer without envelope)."""
        return dict(self._get("output.data_table", "output/data/table",
                              self._task("output.data_table", job_id, role, party_id, task_name)) or {})

    def data_display(self, job_id: str, role: str, party_id: int | str, task_name: str) -> dict[str, Any]:
        """A few rows of a task's output data: ``{output_key: [{"data": [[...], ...]}]}``."""
        return dict(self._get("output.data_display", "output/data/display",
                              self._task("output.data_display", job_id, role, party_id, task_name)) or {})
