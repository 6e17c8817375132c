"""Component operators: metrics (with quality gates), output data, output model, parameters.

Thresholds of :class:`ComponentMetricsOperator` are strings like ``"auc >= 0.8"`` or
``"validate.ks > 0.3"``, parsed with a regular expression (never ``eval``). The name is matched
against the flattened metric keys ``<namespace>.<metric_name>.<key>`` (e.g. ``train.hetero_lr_0.auc``):
its last part must equal the key, and its other parts must appear, in order, in the namespace and
metric name. Every matching value must pass; a threshold that matches nothing is an error.
"""
from __future__ import annotations

import math
import operator as op
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from airflow_provider_fateflow.client.errors import FateFlowApiError, FateFlowInputError
from airflow_provider_fateflow.common import no_retry
from airflow_provider_fateflow.links.fateboard import FateBoardLink
from airflow_provider_fateflow.operators.base import AirflowSkipException, FateFlowBaseOperator
from airflow_provider_fateflow.operators.job import writable_directory

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "ComponentMetricsOperator",
    "ComponentOutputDataOperator",
    "ComponentOutputModelOperator",
    "ComponentParametersOperator",
    "MetricThresholdError",
    "Threshold",
    "parse_threshold",
    "flatten_metrics",
    "flatten_v2_metrics",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": op.ge, "<=": op.le, ">": op.gt, "<": op.lt, "==": op.eq, "!=": op.ne,
}
_THRESHOLD = re.compile(
    r"^\s*(?P<name>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


class MetricThresholdError(ValueError):
    """A metric did not meet its threshold: the task fails without a retry (the same metrics would miss again);
    ``on_threshold_miss="skip"`` skips instead."""


class Threshold:
    """One parsed threshold, e.g. ``auc >= 0.8``."""

    __slots__ = ("name", "op", "value", "text")

    def __init__(self, name: str, op_symbol: str, value: float, text: str) -> None:
        self.name, self.op, self.value, self.text = name, op_symbol, value, text

    def passes(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)

    def matches(self, key: str) -> bool:
        want = self.name.split(".")
        have = key.split(".")
        if want[-1] != have[-1]:
            return False
        rest = iter(have[:-1])
        return all(part in rest for part in want[:-1])

    def __repr__(self) -> str:
        return f"Threshold({self.text!r})"


def parse_threshold(text: str) -> Threshold:
    """Parse ``"<metric> <op> <number>"`` (ops: ``>= > <= < == !=``).

    :raises FateFlowInputError: not of that form.
    """
    match = _THRESHOLD.match(str(text))
    if not match:
        raise FateFlowInputError(
            f"threshold {text!r}: expected '<metric> <op> <number>', e.g. 'auc >= 0.8' (ops: >= > <= < == !=)"
        )
    return Threshold(match["name"], match["op"], float(match["value"]), str(text).strip())


def flatten_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``{"<namespace>.<metric_name>.<key>": value}`` for every named numeric data point (curves are skipped)."""
    flat: dict[str, float] = {}
    for namespace, names in (metrics or {}).items():
        if not isinstance(names, Mapping):
            continue
        for name, metric in names.items():
            data = metric.get("data") if isinstance(metric, Mapping) else None
            for point in data or []:
                if not isinstance(point, (list, tuple)) or len(point) != 2:
                    continue
                key, value = point
                if not isinstance(key, str) or isinstance(value, bool):
                    continue
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    continue
                if not math.isnan(number):
                    flat[f"{namespace}.{name}.{key}"] = number
    return flat


def flatten_v2_metrics(entries: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """FATE Flow 2.x metrics (``output.query_metric``) as ``{"<name>.<model>.<dataset>.<metric>": value}``.

    An evaluation task's entry is ``{"name": "evaluation", "data": {"lr_0": {"train_set": [{"metric": "auc",
    "val": 0.96}, [{"metric": "ks", ...}, ...]]}}}``: every numeric ``val`` is kept, tables and curves are not.
    """
    flat: dict[str, float] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, Mapping):
            if "metric" in node and "val" in node:
                value = node["val"]
                if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(float(value)):
                    flat[".".join((*path, str(node["metric"])))] = float(value)
                return
            for key, child in node.items():
                walk(child, (*path, str(key)))
        elif isinstance(node, (list, tuple)):
            for child in node:
                walk(child, path)

    for entry in entries or []:
        if isinstance(entry, Mapping):
            walk(entry.get("data"), (str(entry.get("name") or "metric"),))
    return flat


class _ComponentOperator(FateFlowBaseOperator):
    """Job id, component name, role and party (default: the connection's initiator role/party)."""

    template_fields: Sequence[str] = ("job_id", "component_name", "role", "party_id", "fateflow_conn_id")

    def __init__(self, *, job_id: str, component_name: str, role: str | None = None,
                 party_id: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.component_name = component_name
        self.role = role
        self.party_id = party_id

    def _args(self) -> tuple[str, str, str, int]:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        if not self.component_name:
            raise FateFlowInputError("component_name: missing")
        role, party = self._party(self.role, self.party_id)
        return str(self.job_id), str(self.component_name), role, party

    def _call(self, method: Callable[..., Any], job_id: str, role: str, party: int, component: str,
              *args: Any) -> Any:
        """Call a tracking method; on an API error, say so clearly when the role/party is not in the job."""
        try:
            return method(job_id, role, party, component, *args)
        except FateFlowApiError:
            self._check_party(job_id, role, party)
            raise

    def _check_party(self, job_id: str, role: str, party: int) -> None:
        """A clear error when the job has no such role/party (FATE's own message is obscure)."""
        rows = self.hook.job.query(job_id=job_id)
        if rows and not any(r.role == role and r.party_id == party for r in rows):
            parties = ", ".join(sorted({f"{r.role}/{r.party_id}" for r in rows}))
            raise FateFlowInputError(f"job {job_id} has no party {role}/{party}; it runs on {parties}")


class ComponentMetricsOperator(_ComponentOperator):
    """Fetch all metrics of a component, return them (XCom), and optionally gate on thresholds.

    Returns ``{"metrics": <FATE's metric_all>, "values": {"<ns>.<name>.<key>": value}}``; on FATE Flow 2.x
    ``metrics`` is ``output.query_metric``'s list and the keys are ``<name>.<model>.<dataset>.<metric>``
    (e.g. ``evaluation.lr_0.train_set.auc``), so ``"auc >= 0.8"`` gates both generations.

    :param job_id: the FATE job (templated).
    :param component_name: the component, e.g. ``evaluation_0`` (templated).
    :param role: role whose metrics to read (default: the connection's initiator role).
    :param party_id: party whose metrics to read (default: the connection's initiator party).
    :param thresholds: quality gates such as ``["auc >= 0.8", "ks > 0.3"]`` (templated; see the module).
    :param on_threshold_miss: ``"fail"`` (default: raise :class:`MetricThresholdError`) or ``"skip"``
        (the task and its downstream tasks are skipped, e.g. do not deploy a worse model).
    """

    template_fields: Sequence[str] = (*_ComponentOperator.template_fields, "thresholds")
    operator_extra_links = (FateBoardLink(),)

    def __init__(self, *, thresholds: Sequence[str] | str | None = None, on_threshold_miss: str = "fail",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.thresholds = thresholds
        self.on_threshold_miss = on_threshold_miss

    def execute(self, context: Context) -> dict[str, Any]:
        if self.on_threshold_miss not in ("fail", "skip"):
            raise FateFlowInputError(f"on_threshold_miss must be 'fail' or 'skip', got {self.on_threshold_miss!r}")
        raw = self.thresholds or []
        gates = [parse_threshold(t) for t in ([raw] if isinstance(raw, str) else raw)]
        job_id, component, role, party = self._args()
        self.remember_board_url(context, self._board_url(job_id, role, party))
        self.log.info("Metrics of component %s of FATE job %s (as %s/%s)%s", component, job_id, role, party,
                      f" - FATE Board: {self.fateflow_board_url}" if self.fateflow_board_url else "")
        v2 = self.hook.dialect == "v2"
        read = self.hook.output.query_metric if v2 else self.hook.component.metric_all
        metrics = self._call(read, job_id, role, party, component)
        if not metrics:
            self._check_party(job_id, role, party)
        values = flatten_v2_metrics(metrics) if v2 else flatten_metrics(metrics)
        result = {"metrics": metrics, "values": values}
        for key, value in sorted(values.items()):
            self.log.info("metric %s = %s", key, value)
        misses = []
        for gate in gates:
            matched = {k: v for k, v in values.items() if gate.matches(k)}
            if not matched:
                raise FateFlowInputError(
                    f"threshold {gate.text!r} matches no metric of {component} (job {job_id}, {role}/{party}); "
                    f"available: {sorted(values) or 'none'}"
                )
            for key, value in matched.items():
                if gate.passes(value):
                    self.log.info("threshold %s met: %s = %s", gate.text, key, value)
                else:
                    misses.append(f"{key} = {value} (wants {gate.op} {gate.value:g})")
        if misses:
            message = f"{component} of job {job_id} missed its thresholds: " + "; ".join(misses)
            context["ti"].xcom_push(key="return_value", value=result)
            if self.on_threshold_miss == "skip":
                self.log.warning("%s; skipping downstream tasks.", message)
                raise AirflowSkipException(message)
            raise no_retry(MetricThresholdError(message))  # the same metrics would miss again
        return result


class ComponentOutputDataOperator(_ComponentOperator):
    """Download a component's output data (CSV + meta per output) into a local directory; returns its path.

    :param output_dir: directory on the worker (templated); created if missing and checked writable
        before any request. Files land in ``<output_dir>/job_<job>_<cpn>_<role>_<party>_output_data/``.
    :param limit: rows per output (default -1: all).
    """

    template_fields: Sequence[str] = (*_ComponentOperator.template_fields, "output_dir")

    def __init__(self, *, output_dir: str, limit: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_dir = output_dir
        self.limit = limit

    def execute(self, context: Context) -> str:
        job_id, component, role, party = self._args()
        if int(self.limit) == 0:
            raise FateFlowInputError("limit must be -1 (all rows) or positive")
        directory = writable_directory(self.output_dir, "output_dir")
        path = self._call(self.hook.component.output_data, job_id, role, party, component, directory, int(self.limit))
        self.log.info("Output data of %s (job %s) written to %s", component, job_id, path)
        return str(path)


class ComponentOutputModelOperator(_ComponentOperator):
    """Return a component's output model: ``{"data": <model params>, "meta": {...}}``."""

    def execute(self, context: Context) -> dict[str, Any]:
        job_id, component, role, party = self._args()
        result = self._call(self.hook.component.output_model, job_id, role, party, component)
        if not (result or {}).get("data"):
            self._check_party(job_id, role, party)
            self.log.warning("Component %s of job %s has no output model.", component, job_id)
        return result


class ComponentParametersOperator(_ComponentOperator):
    """Return a component's parameters: ``{"module": ..., "ComponentParam": {...}}``."""

    def execute(self, context: Context) -> dict[str, Any]:
        job_id, component, role, party = self._args()
        return self._call(self.hook.component.parameters, job_id, role, party, component)
