"""Job operators: submit, stop, rerun, clean, queue clean, predict DSL, logs."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_fateflow.client.errors import FateFlowInputError, FateFlowNotFoundError
from airflow_provider_fateflow.client.inputs import load_json_arg, party_id_int, validate_dsl, validate_job_conf
from airflow_provider_fateflow.client.wait import STALE_GRACE, watched_row
from airflow_provider_fateflow.operators.base import FateFlowBaseOperator, FateFlowJobOperator, JobRef

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_fateflow.client.results import JobRecord

__all__ = [
    "SubmitJobOperator",
    "StopJobOperator",
    "RerunJobOperator",
    "CleanJobOperator",
    "QueueCleanOperator",
    "GeneratePredictDslOperator",
    "JobLogOperator",
    "load_rendered_json",
    "writable_directory",
]


def load_rendered_json(operator: FateFlowBaseOperator, value: Any, what: str, context: Context,
                       render_files: bool) -> dict[str, Any]:
    """A dict from a dict (already rendered by Airflow) or a JSON file path (its strings rendered here).

    Reading the file ourselves avoids the ``.json`` ``template_ext`` trap: a path is just a string.
    :raises FateFlowInputError: unreadable file, invalid JSON, not an object.
    """
    if value is None:
        raise FateFlowInputError(f"{what}: missing")
    from_file = not isinstance(value, Mapping) and not (isinstance(value, str) and value.lstrip().startswith("{"))
    data = load_json_arg(value, what)
    if from_file and render_files:
        data = operator.render_template(data, context)
    return data


def _typed(value: Any) -> Any:
    """A rendered override value: JSON when it reads as JSON (``"16"`` -> 16), else the string itself."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def apply_overrides(conf: dict[str, Any], overrides: Mapping[str, Any] | None) -> None:
    """Set ``overrides`` (``{"dotted.path": value}``) in ``conf``, creating missing levels.

    :raises FateFlowInputError: not a dict, an empty path, or a path through a value that is not an object.
    """
    if not overrides:
        return
    if not isinstance(overrides, Mapping):
        raise FateFlowInputError(f"conf_overrides must be a dict of dotted paths, got {type(overrides).__name__}")
    for path, value in overrides.items():
        keys = [k for k in str(path).split(".")]
        if not all(keys):
            raise FateFlowInputError(f"conf_overrides: {path!r} is not a dotted path such as 'job_parameters.common.x'")
        node: Any = conf
        for depth, key in enumerate(keys[:-1]):
            node = node.setdefault(key, {}) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                where = ".".join(keys[: depth + 1])
                raise FateFlowInputError(f"conf_overrides: {path!r}: {where!r} in the conf is not an object")
        node[keys[-1]] = _typed(value)


def conf_summary(conf: Mapping[str, Any]) -> str:
    """One line: the initiator, the parties, the job type and the tables the readers read."""
    initiator = conf.get("initiator") or {}
    parties = ", ".join(f"{role} {ids}" for role, ids in (conf.get("role") or {}).items())
    common = (conf.get("job_parameters") or {}).get("common") or {}
    tables = []
    for role, by_party in ((conf.get("component_parameters") or {}).get("role") or {}).items():
        for party, components in (by_party or {}).items():
            for name, params in (components or {}).items():
                table = (params or {}).get("table") if isinstance(params, Mapping) else None
                if isinstance(table, Mapping) and table.get("name"):
                    tables.append(f"{role}[{party}] {name}: {table.get('namespace')}/{table.get('name')}")
    return (f"initiator {initiator.get('role')}/{initiator.get('party_id')}; parties {parties or '?'}; "
            f"job_type {common.get('job_type', 'train')}" + (f"; tables {'; '.join(tables)}" if tables else ""))


def writable_directory(path: Any, what: str) -> Path:
    """Create ``path`` if needed and check it can be written, before any request.

    :raises FateFlowInputError: not a directory, or not writable.
    """
    if not path:
        raise FateFlowInputError(f"{what}: missing")
    directory = Path(os.fspath(path)).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FateFlowInputError(f"{what}: cannot create {str(directory)!r}: {err.strerror or err}") from None
    if not directory.is_dir():
        raise FateFlowInputError(f"{what}: {str(directory)!r} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FateFlowInputError(f"{what}: {str(directory)!r} is not writable")
    return directory


class SubmitJobOperator(FateFlowJobOperator):
    """Submit a FATE job (DSL v2), wait for it by default, and return its job id.

    Pushes ``job_id``, ``model_id``, ``model_version`` and ``board_url`` to XCom; the "FATE Board"
    extra link opens the job. Retries reattach to the job an earlier try submitted (see
    :mod:`airflow_provider_fateflow.operators.base`).

    .. note:: A training job's ``model_version`` is a *parent* version: deploy it
        (:class:`~airflow_provider_fateflow.operators.model.ModelDeployOperator`) before predict, load or bind.

    :param conf: FATE Flow 1.x: the job runtime conf, a dict (rendered by Airflow) or the path of a JSON file on
        the worker (read at execute time; its string values are rendered with Jinja when ``render_files``).
    :param dsl: FATE Flow 1.x: the job DSL, a dict or a JSON file path; may be None for predict jobs.
    :param dag_schema: FATE Flow 2.x (a connection with ``api_version`` ``v2`` or ``auto``): the job's DAG,
        ``{"schema_version", "dag": {...}}`` as a dict, a JSON or YAML file (its strings rendered when
        ``render_files``), or what ``fate_client``'s pipeline builds. Give ``dag_schema`` for 2.x and
        ``conf``/``dsl`` for 1.x: the other is refused before anything is sent.
    :param render_files: render Jinja in the string values of conf/DSL files (default True).
    :param conf_overrides: values set in the loaded conf (or DAG schema), by dotted path (templated), e.g.
        ``{"component_parameters.common.hetero_lr_0.max_iter": "{{ params.max_iter }}"}``. A rendered value
        that reads as JSON becomes that JSON value (``"16"`` -> ``16``, ``"0.1"``, ``"true"``, ``"[1, 2]"``),
        since FATE refuses a number given as a string; write ``'"16"'`` for the string. Missing levels are
        created.

    Once loaded, the conf actually submitted (overrides and the provider's ``airflow`` marker included)
    replaces the file path in the task's Rendered Templates, and a one-line summary is logged.
    :param wait_for_completion: wait until the job ends (default True).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status queries (default 10).
    :param timeout: job deadline in seconds from the job's creation; the job is stopped and the task
        fails when it passes (default None).
    :param fateflow_conn_id: the Airflow connection (default ``fateflow_default``).
    :param hook_params: hook parameters (timeouts in seconds, retries).
    """

    template_fields: Sequence[str] = ("conf", "dsl", "dag_schema", "conf_overrides", "fateflow_conn_id")
    template_fields_renderers = {"conf": "json", "dsl": "json", "dag_schema": "json", "conf_overrides": "json"}
    #: the conf and DSL as submitted (not their file paths) become the Rendered Templates
    overwrite_rtif_after_execution = True

    def __init__(self, *, conf: dict[str, Any] | str | None = None, dsl: dict[str, Any] | str | None = None,
                 dag_schema: Any = None, render_files: bool = True, conf_overrides: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conf = conf
        self.dsl = dsl
        self.dag_schema = dag_schema
        self.render_files = render_files
        self.conf_overrides = conf_overrides

    @property
    def _v2(self) -> bool:
        return self.hook.dialect == "v2"

    def _validate(self, context: Context) -> None:
        if self._v2:
            self._validate_v2(context)
            return
        if self.dag_schema is not None:
            raise FateFlowInputError(
                f"dag_schema is a FATE Flow 2.x job, but connection {self.fateflow_conn_id!r} speaks FATE Flow 1.x "
                "(/v1): give conf and dsl, or set the connection's api_version to v2 (or auto)")
        if self.conf is None:
            raise FateFlowInputError("conf: missing (the job's runtime conf, a dict or a JSON file path)")
        conf = load_rendered_json(self, self.conf, "job conf", context, self.render_files)
        apply_overrides(conf, self.conf_overrides)
        validate_job_conf(conf)
        dsl = None
        if self.dsl is not None:
            dsl = load_rendered_json(self, self.dsl, "job dsl", context, self.render_files)
            validate_dsl(dsl)
        self._job_conf, self._job_dsl = conf, dsl

    def _validate_v2(self, context: Context) -> None:
        from airflow_provider_fateflow.client.v2._wire import load_dag_schema

        if self.conf is not None or self.dsl is not None:
            raise FateFlowInputError(
                f"connection {self.fateflow_conn_id!r} speaks FATE Flow 2.x (/v2): give dag_schema; conf and dsl "
                "are FATE Flow 1.x's")
        if self.dag_schema is None:
            raise FateFlowInputError("dag_schema: missing (the FATE Flow 2.x job's DAG)")
        from_file = isinstance(self.dag_schema, (str, os.PathLike)) and not str(self.dag_schema).lstrip().startswith("{")
        schema = load_dag_schema(self.dag_schema)
        if from_file and self.render_files:
            schema = self.render_template(schema, context)
        apply_overrides(schema, self.conf_overrides)
        self._v2_schema = schema

    def _lookup_party(self, context: Context) -> tuple[str, int] | None:
        if self._v2:
            return None  # a 2.x job is found by its marker alone (job/list/query)
        initiator = self._job_conf["initiator"]
        return str(initiator["role"]), party_id_int(initiator["party_id"], "conf.initiator.party_id")

    def _find_by_marker(self, context: Context, marker: str) -> JobRef | None:
        if not self._v2:
            return super()._find_by_marker(context, marker)
        record = self.hook.job.find_by_marker(marker, since_ms=self._since_ms(context))  # transient errors raise
        if record is None:
            return None
        return JobRef(job_id=record.job_id, role=None, party_id=None, marker=marker,
                      extra={"model_id": record.model_id, "model_version": record.model_version})

    def _submit(self, context: Context, marker: str) -> JobRef:
        if self._v2:
            self.dag_schema = self._v2_schema  # what FATE receives, for the UI
            result = self.hook.job.submit(self._v2_schema, marker=marker)
            self.log.info("Submitted FATE job %s (FATE Flow 2.x; model %s, version %s).", result.job_id,
                          result.model_id, result.model_version)
            return JobRef(job_id=result.job_id, role=None, party_id=None, board_url=result.board_url,
                          created=time.time(), extra={"model_id": result.model_id, "model_version": result.model_version})
        from airflow_provider_fateflow.client.job import with_marker

        role, party = self._lookup_party(context)  # type: ignore[misc]
        self.log.info("Submitting FATE job: %s", conf_summary(self._job_conf))
        self.conf = with_marker(self._job_conf, marker)  # what FATE receives, for the UI
        self.dsl = self._job_dsl
        result = self.hook.job.submit(self._job_conf, self._job_dsl, marker=marker)
        self.log.info("Submitted FATE job %s (model %s, version %s).", result.job_id, result.model_id,
                      result.model_version)
        return JobRef(job_id=result.job_id, role=role, party_id=party, board_url=result.board_url,
                      created=time.time(),
                      extra={"model_id": result.model_id, "model_version": result.model_version})

    def _extra_xcom(self, ref: JobRef) -> dict[str, Any]:
        return {"model_id": ref.extra.get("model_id"), "model_version": ref.extra.get("model_version")}


class StopJobOperator(FateFlowBaseOperator):
    """Stop a FATE job (``job/stop``); returns FATE's message.

    :param job_id: the job to stop (templated).
    :param stop_status: ``"canceled"`` (FATE's default) or ``"failed"``.
    :param missing_ok: do not fail when FATE does not know the job (default False).
    """

    template_fields: Sequence[str] = ("job_id", "fateflow_conn_id")

    def __init__(self, *, job_id: str, stop_status: str | None = None, missing_ok: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.stop_status = stop_status
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> str | None:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        if self.stop_status not in (None, "canceled", "failed"):
            raise FateFlowInputError(f"stop_status must be 'canceled' or 'failed', got {self.stop_status!r}")
        try:
            message = self.hook.job.stop(str(self.job_id), self.stop_status)
        except FateFlowNotFoundError:
            if not self.missing_ok:
                raise
            self.log.warning("FATE job %s not found; nothing to stop.", self.job_id)
            return None
        self.log.info("Stopped FATE job %s: %s", self.job_id, message)
        return message


class RerunJobOperator(FateFlowJobOperator):
    """Rerun a FATE job (from one component, or its failed components) and wait for it.

    The job keeps its id; the task returns it. A retry of this task reattaches when the rerun is still
    running or has succeeded, and reruns again after a terminal failure.

    :param job_id: the job to rerun (templated).
    :param component_name: rerun from this component (default: FATE's choice, the failed ones).
    :param force: rerun even components that succeeded (default False).
    :param role: role to query the job with (default: the job's initiator).
    :param party_id: party to query the job with (default: the job's initiator).

    Right after ``job/rerun`` FATE still reports the old run's status until its scheduler loop picks the
    rerun up (about 2 s): the wait does not judge a status older than the rerun (for up to 60 s). A rerun
    of a job that already succeeded (without ``force``) does nothing in FATE and succeeds at once.
    """

    template_fields: Sequence[str] = ("job_id", "component_name", "fateflow_conn_id")
    job_kind = "rerun of job"

    def __init__(self, *, job_id: str, component_name: str | None = None, force: bool = False,
                 role: str | None = None, party_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.component_name = component_name
        self.force = force
        self.role = role
        self.party_id = party_id

    def _validate(self, context: Context) -> None:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")

    def _before(self) -> JobRecord:
        """The row the rerun is watched with (``role``/``party_id``, else the initiator's), as it is now."""
        role = self.role or None
        party = None if self.party_id in (None, "") else party_id_int(self.party_id, "party_id")
        rows = self.hook.job.query(job_id=str(self.job_id), role=role, party_id=party)
        row = watched_row(rows, role, party)
        if row is None:
            raise FateFlowNotFoundError(f"FATE job {self.job_id} not found"
                                        + (f" on {role}/{party}" if role or party is not None else ""),
                                        operation="job.query")
        return row

    def _find_by_marker(self, context: Context, marker: str) -> JobRef | None:
        row = self._before()  # a retry: the earlier try may have rerun this very job
        return JobRef(job_id=str(self.job_id), role=row.role, party_id=row.party_id, marker=marker,
                      board_url=self._board_url(str(self.job_id), row.role, row.party_id))

    def _submit(self, context: Context, marker: str) -> JobRef:
        before = self._before()
        ref = JobRef(job_id=str(self.job_id), role=before.role, party_id=before.party_id, created=time.time(),
                     board_url=self._board_url(str(self.job_id), before.role, before.party_id))
        if before.status.is_success and not self.force:
            # FATE answers a rerun of a successful job with success and does nothing: it stays successful.
            self.log.info("FATE job %s already succeeded: nothing to rerun (force=True reruns it).", self.job_id)
            return ref
        message = self.hook.job.rerun(str(self.job_id), self.component_name, self.force)
        self.log.info("Rerunning FATE job %s (it was %s): %s", self.job_id, before.status_raw, message)
        if before.status.is_terminal and before.end_time is not None:
            # Until FATE's scheduler loop picks the rerun up (about 2 s) the job still shows the old run's end
            # status: the wait ignores an end that is not newer than this one.
            ref.stale_end_time = before.end_time
            ref.stale_until = time.time() + STALE_GRACE
        return ref


class CleanJobOperator(FateFlowBaseOperator):
    """Clean a job's sessions, output tables and metrics (``job/clean``); returns FATE's message.

    :param job_id: the job (templated).
    :param role: only this role's tasks (optional).
    :param party_id: only this party's tasks (optional).
    :param component_name: only this component (optional).
    :param missing_ok: do not fail when the job has no tasks (default False).
    """

    template_fields: Sequence[str] = ("job_id", "component_name", "fateflow_conn_id")

    def __init__(self, *, job_id: str, role: str | None = None, party_id: int | None = None,
                 component_name: str | None = None, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.role = role
        self.party_id = party_id
        self.component_name = component_name
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> str | None:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        try:
            message = self.hook.job.clean(str(self.job_id), self.role, self.party_id, self.component_name)
        except FateFlowNotFoundError:
            if not self.missing_ok:
                raise
            self.log.warning("FATE job %s has no tasks to clean.", self.job_id)
            return None
        self.log.info("Cleaned FATE job %s: %s", self.job_id, message)
        return message


class QueueCleanOperator(FateFlowBaseOperator):
    """Cancel every job waiting in this FATE Flow's queue (``job/clean/queue``).

    Returns ``{job_id: status code}`` (0 = stopped on all parties).
    """

    def execute(self, context: Context) -> dict[str, int]:
        result = self.hook.queue.clean()
        self.log.info("Canceled %d waiting FATE job(s): %s", len(result or {}), ", ".join(sorted(result or {})))
        return dict(result or {})


class GeneratePredictDslOperator(FateFlowBaseOperator):
    """Generate a predict DSL from a training DSL and the components to keep; returns it (XCom).

    :param train_dsl: the training DSL, a dict or a JSON file path (templated).
    :param components: component names, a list or a comma-separated string (templated).
    :param render_files: render Jinja in a DSL file's string values (default True).
    """

    template_fields: Sequence[str] = ("train_dsl", "components", "fateflow_conn_id")
    template_fields_renderers = {"train_dsl": "json"}

    def __init__(self, *, train_dsl: dict[str, Any] | str, components: list[str] | str,
                 render_files: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_dsl = train_dsl
        self.components = components
        self.render_files = render_files

    def execute(self, context: Context) -> dict[str, Any]:
        dsl = load_rendered_json(self, self.train_dsl, "train dsl", context, self.render_files)
        validate_dsl(dsl, what="train dsl")
        components = self.components
        if isinstance(components, str):
            components = [c.strip() for c in components.strip("[] \n").split(",") if c.strip()]
        if not components:
            raise FateFlowInputError("components: give at least one component name")
        unknown = sorted(set(components) - set(dsl["components"]))
        if unknown:
            raise FateFlowInputError(f"components {unknown} are not in the training DSL "
                                     f"(it has {sorted(dsl['components'])})")
        predict = self.hook.job.generate_dsl(dsl, list(components))
        self.log.info("Predict DSL with components %s", sorted((predict or {}).get("components") or {}))
        return predict


class JobLogOperator(FateFlowBaseOperator):
    """Download a job's logs into ``<output_dir>/job_<job_id>_log/`` (extracted safely); returns that path.

    :param job_id: the job (templated).
    :param output_dir: a directory on the worker; created if missing, checked writable before any request.
    """

    template_fields: Sequence[str] = ("job_id", "output_dir", "fateflow_conn_id")

    def __init__(self, *, job_id: str, output_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.output_dir = output_dir

    def execute(self, context: Context) -> str:
        if not self.job_id:
            raise FateFlowInputError("job_id: missing")
        directory = writable_directory(self.output_dir, "output_dir")
        path = self.hook.job.log(str(self.job_id), directory)
        files = sum(1 for p in Path(path).rglob("*") if p.is_file())
        self.log.info("Downloaded %d log file(s) of FATE job %s to %s", files, self.job_id, path)
        return str(path)
