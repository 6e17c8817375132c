"""``client.component``: tracking of a job's components (API.md §5).

Most calls share the body ``{job_id, role, party_id, component_name}``; they are table-driven.
``role``/``party_id`` default to ``config.initiator_role``/``initiator_party_id``.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from airflow_provider_fateflow.client._base import (
    Group,
    body,
    data_and_meta,
    data_dict,
    data_list,
    download_and_extract,
    require,
)
from airflow_provider_fateflow.client.calls import ApiCall, NotFoundRule, envelope_data, nf

__all__ = ["ComponentGroup"]

_TASK_NOT_FOUND = nf(100, 101, fragments=("can not found this task", "no found task", "no found job", "no job matched"))


class _Op(NamedTuple):
    operation: str
    path: str
    parse: Callable[[Any], Any]
    not_found: NotFoundRule | None = None


_OPS = {
    "parameters": _Op("component.parameters", "tracking/component/parameters", data_dict, _TASK_NOT_FOUND),
    "metric_all": _Op("component.metric_all", "tracking/component/metric/all", data_dict, _TASK_NOT_FOUND),
    "metrics": _Op("component.metrics", "tracking/component/metrics", data_dict, _TASK_NOT_FOUND),
    "metric_data": _Op("component.metric_data", "tracking/component/metric_data", data_and_meta, _TASK_NOT_FOUND),
    # FATE 1.11 answers an unknown job here with a leaked AttributeError (retcode 100): the job lookup gave None
    "output_model": _Op("component.output_model", "tracking/component/output/model", data_and_meta,
                        nf(100, 101, fragments=(*_TASK_NOT_FOUND.fragments, "no attribute 'runtime_conf_on_party'"))),
    "output_data_preview": _Op("component.output_data_preview", "tracking/component/output/data", data_and_meta,
                               _TASK_NOT_FOUND),
    "output_data_table": _Op("component.output_data_table", "tracking/component/output/data/table", data_list,
                             nf(100, fragments=("no found table", "no found job"))),
    "summary": _Op("component.summary", "tracking/component/summary/download", envelope_data,
                   nf(210, fragments="no component summary found")),
}


class ComponentGroup(Group):
    """Component (tracking) operations, with the FATE Flow SDK's names and arguments."""

    __slots__ = ()

    def _tracking(self, name: str, job_id: str, role: str | None, party_id: int | str | None,
                  component_name: str, **extra: Any) -> Any:
        op = _OPS[name]
        role, party = self._role_party(role, party_id, op.operation)
        return self._run(ApiCall(
            op.operation, op.path,
            json=body(job_id=require(job_id, "job_id", op.operation), role=role, party_id=party,
                      component_name=require(component_name, "component_name", op.operation), **extra),
            idempotent=True, not_found=op.not_found, parse=op.parse,
        ))

    def parameters(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                   component_name: str = "") -> dict[str, Any]:
        """Component parameters: ``{"module": ..., "ComponentParam": {...}}``."""
        return self._tracking("parameters", job_id, role, party_id, component_name)

    def metric_all(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                   component_name: str = "") -> dict[str, Any]:
        """All metrics: ``{namespace: {name: {"data": [[k, v], ...], "meta": {...}}}}``; ``{}`` when none."""
        return self._tracking("metric_all", job_id, role, party_id, component_name)

    def metrics(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                component_name: str = "") -> dict[str, Any]:
        """Metric names: ``{namespace: [name, ...]}``; ``{}`` when none."""
        return self._tracking("metrics", job_id, role, party_id, component_name)

    def metric_data(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                    component_name: str = "", *, metric_namespace: str, metric_name: str) -> dict[str, Any]:
        """One metric: ``{"data": [[k, v], ...], "meta": {...}}``."""
        return self._tracking("metric_data", job_id, role, party_id, component_name,
                              metric_namespace=metric_namespace, metric_name=metric_name)

    def output_model(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                     component_name: str = "") -> dict[str, Any]:
        """Model output: ``{"data": <*Param>, "meta": {"meta_data": <*Meta>, ...}}``; empty data when none."""
        return self._tracking("output_model", job_id, role, party_id, component_name)

    def output_data_preview(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                            component_name: str = "") -> dict[str, Any]:
        """First rows of each output (``POST tracking/component/output/data``): ``{"data", "meta"}``."""
        return self._tracking("output_data_preview", job_id, role, party_id, component_name)

    def output_data_table(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                          component_name: str = "") -> list[dict[str, Any]]:
        """Output tables: ``[{"table_name", "table_namespace", "data_name"}]`` (asked of the named party)."""
        return self._tracking("output_data_table", job_id, role, party_id, component_name)

    def summary(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                component_name: str = "") -> Any:
        """Component summary (``POST tracking/component/summary/download``)."""
        return self._tracking("summary", job_id, role, party_id, component_name)

    get_summary = summary

    def output_data(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
                    component_name: str = "", output_path: str | os.PathLike[str] = ".", limit: int = -1,
                    *, max_bytes: int | None = None) -> Path:
        """Download output data (``GET .../output/data/download`` with a JSON body) and extract it safely.

        Files: ``<output_path>/job_<job_id>_<component>_<role>_<party_id>_output_data/<name>.csv|.meta``.
        The server builds the archive before it answers (bounded by the config's ``download_timeout``).

        :param limit: rows per output (-1 = all; 0 is refused by the server).
        :param max_bytes: refuse an archive that unpacks to more than this many bytes (default: the config's
            ``max_extract_bytes``, 2 GiB).
        :returns: the fresh output directory.
        :raises FateFlowNotFoundError: no output data (HTTP 210) or unknown task.
        """
        role, party = self._role_party(role, party_id, "component.output_data")
        require(job_id, "job_id", "component.output_data")
        require(component_name, "component_name", "component.output_data")
        stem = f"job_{job_id}_{component_name}_{role}_{party}_output_data"
        return download_and_extract(
            self, "component.output_data", "tracking/component/output/data/download", "GET",
            body(job_id=job_id, role=role, party_id=party, component_name=component_name, limit=limit),
            Path(output_path) / stem, f"{stem}.tar.gz", "tar.gz",
            not_found=nf(100, 210, fragments=("no data", "no found task", "limit is 0")), max_bytes=max_bytes,
        )

    def list(self, job_id: str) -> list[str]:
        """Component names of the job's DSL (``POST tracking/component/list``)."""
        return self._run(ApiCall(
            "component.list", "tracking/component/list", json=body(job_id=require(job_id, "job_id", "component.list")),
            idempotent=True, not_found=nf(100, fragments="no job matched"),
            parse=lambda env: list(data_dict(env).get("components") or []),
        ))

    def metric_delete(self, date: str | None = None, job_id: str | None = None) -> str:
        """Delete all metric rows of a job (``POST tracking/component/metric/delete``).

        :param date: ignored by FATE Flow 1.8+ (a warning is emitted; never sent).
        :param job_id: required.
        :returns: the server's ``data``, e.g. ``"delete status: True"``.
        """
        if date is not None:
            warnings.warn("metric_delete(date=...) is ignored by FATE Flow 1.8+; deleting by job_id",
                          UserWarning, stacklevel=2)
        return self._run(ApiCall(
            "component.metric_delete", "tracking/component/metric/delete",
            json=body(job_id=require(job_id, "job_id", "component.metric_delete")),
            parse=lambda env: str(env.get("data")),
        ))
