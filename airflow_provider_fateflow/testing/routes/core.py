"""The state every FATE Flow app module shares, and job submission (``DAGScheduler.submit``).

:class:`FlowCore` holds the store, the engine, the id generator and the pending sandbox behaviours;
:class:`AppModule` is the base of the route modules (``job_app``, ``tracking_app``, ``data_app``,
``model_app``, ``table_app``, ``info_app``), one per FATE Flow 1.11.2 ``apps/*_app.py``.
"""
from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any, ClassVar

from ..engine import Engine, dsl_order
from ..records import (FLOW_ROOT, KNOWN_MODULES, JobIdGenerator, fill_job_parameters, gen_model_id, new_job_row,
                       new_task_row, now_ms, submit_result, submit_traceback)
from ..store import Store


#: Components that get no task at the arbiter (as recorded: it holds no data).
NO_ARBITER_MODULES = frozenset({"Reader", "DataTransform", "DataIO"})


class SubmitError(Exception):
    """A rejected submit; ``str()`` is the traceback-like retmsg."""


def none_mapping(where: str) -> TypeError:
    """The TypeError FATE raises when a JSON body is missing (``**None``)."""
    return TypeError(f"{where}() argument after ** must be a mapping, not NoneType")


def table_schema(table: dict[str, Any]) -> dict[str, Any]:
    """A stored table's ``schema`` as ``table_info`` and ``upload/history`` show it."""
    cols = table.get("columns") or []
    return {"header": ",".join(cols[1:]), "meta": {}, "sid": table.get("sid") or (cols[0] if cols else "id")}


class FlowCore:
    """Shared state of one FATE Flow: store, engine, ids, behaviours, and job submission.

    :param store: sqlite store.
    :param files_dir: directory for table, upload and model-store files.
    :param settings: shared mutable settings (pace, serving, model_store, hold, board_url, port, versions).
    """

    def __init__(self, store: Store, files_dir: Path, settings: dict[str, Any]) -> None:
        self.store = store
        self.files = files_dir
        self.settings = settings
        self.engine = Engine(store, files_dir, settings)
        self.ids = JobIdGenerator()
        self.behaviours: list[dict[str, Any]] = []
        self._block = threading.Lock()
        self.tmp = files_dir / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    @property
    def board(self) -> str:
        """FATE-Board base URL."""
        return str(self.settings.get("board_url") or "http://127.0.0.1:8080")

    def add_behaviour(self, beh: dict[str, Any]) -> None:
        """Queue a :meth:`FateFlowSandbox.behave` request for the next jobs that contain its component."""
        with self._block:
            self.behaviours.append(beh)

    def clear_behaviours(self) -> None:
        """Forget every pending behaviour."""
        with self._block:
            self.behaviours.clear()

    def _take_behaviours(self, components: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with self._block:
            for beh in self.behaviours:
                if beh["jobs"] > 0 and beh["component"] in components and beh["component"] not in out:
                    beh["jobs"] -= 1
                    out[beh["component"]] = {k: beh.get(k) for k in ("fail", "seconds", "role", "party_id")}
            self.behaviours = [b for b in self.behaviours if b["jobs"] > 0]
        return out


    # ================================================================== submit
    def submit(self, conf: Any, dsl: Any, job_id: str | None = None, kind: str | None = None,
               extra: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:
        """``DAGScheduler.submit``: validate, store rows and tasks, hand the job to the engine."""
        job_id = job_id or self.ids.next_id()
        if not isinstance(conf, dict):
            conf = {}
        conf = copy.deepcopy(conf)
        dsl = copy.deepcopy(dsl) if isinstance(dsl, dict) else {}
        missing = [k for k in ("initiator", "role") if k not in conf]
        if missing:
            raise SubmitError(submit_traceback(55, "job_utils.check_job_conf(runtime_conf, dsl)", "KeyError: '"
                              f"required parameters are missing: {','.join(missing)}; '", [
                                  f"  File \"{FLOW_ROOT}/python/fate_flow/utils/job_utils.py\", line 135, in check_job_conf\n",
                                  "    detect_utils.check_config(runtime_conf, ['initiator', 'role'])\n",
                                  f"  File \"{FLOW_ROOT}/python/fate_flow/utils/detect_utils.py\", line 42, in check_config\n",
                                  "    raise KeyError(error_string)\n"]))
        try:
            init_role = conf["initiator"]["role"]
            init_party = int(conf["initiator"]["party_id"])
            roles = {r: [int(p) for p in ps] for r, ps in conf["role"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SubmitError(submit_traceback(55, "job_utils.check_job_conf(runtime_conf, dsl)",
                                               f"{type(exc).__name__}: {exc}")) from exc
        if init_party not in roles.get(init_role, []):
            raise SubmitError(submit_traceback(55, "job_utils.check_job_conf(runtime_conf, dsl)",
                                               f"ValueError: initiator party id {init_party} not in role {init_role}"))
        common = (conf.get("job_parameters") or {}).get("common") or {}
        job_type = common.get("job_type", "train")
        if job_type != "predict" and str(conf.get("dsl_version", 1)) != "2":
            raise SubmitError(submit_traceback(66, 'raise Exception("only the v2 version runtime conf is supported")',
                                               "Exception: only the v2 version runtime conf is supported"))
        if "job_parameters" not in conf or not isinstance(conf["job_parameters"], dict):
            raise SubmitError(submit_traceback(70, "runtime_conf = config_adapter.update_common_parameters(...)",
                                               "KeyError: 'job_parameters'"))
        train_conf: dict[str, Any] = {}
        model_id = gen_model_id(roles)
        model_info_version = job_id
        if job_type == "predict":
            mid, mver = common.get("model_id"), common.get("model_version")
            if not mid or not mver:
                raise SubmitError(submit_traceback(84, "detect_utils.check_config(common, ['model_id', 'model_version'])",
                                                   "KeyError: 'required parameters are missing: model_id,model_version; '"))
            recs = self.store.models(str(mid), str(mver), init_role, init_party) or self.store.models(str(mid), str(mver))
            if not recs or recs[0].get("f_parent", True):
                raise SubmitError(submit_traceback(90, 'raise Exception(f"model has not been deployed yet")',
                                                   "Exception: model has not been deployed yet"))
            dsl = copy.deepcopy(recs[0]["f_inference_dsl"])
            train_conf = copy.deepcopy(recs[0]["f_train_runtime_conf"])
            model_id, model_info_version = str(mid), str(mver)
            kind = kind or "predict"
        # per-job sandbox behaviour: strip it before anything is stored
        behave: dict[str, dict[str, Any]] = {}
        cp = conf.get("component_parameters") or {}
        for cpn, params in list((cp.get("common") or {}).items()):
            if isinstance(params, dict) and "sandbox" in params:
                behave[cpn] = dict(params.pop("sandbox") or {})
        for role_params in (cp.get("role") or {}).values():
            for idx_params in (role_params or {}).values():
                for params in (idx_params or {}).values():
                    if isinstance(params, dict):
                        params.pop("sandbox", None)
        comps = (dsl.get("components") or {}) if isinstance(dsl, dict) else {}
        if not comps:
            raise SubmitError(submit_traceback(72, "dsl_parser = schedule_utils.get_job_dsl_parser(...)",
                                               "fate_flow.utils.dsl_exception.DSLNotExistError: No DSL exist"))
        bad_inputs = []
        has_data_input = False
        for name, c in comps.items():
            data = ((c or {}).get("input") or {}).get("data") or {}
            for refs in data.values():
                has_data_input = True
                for ref in refs if isinstance(refs, list) else [refs]:
                    src, _, out = str(ref).partition(".")
                    outs = ((comps.get(src) or {}).get("output") or {}).get("data") or []
                    if src not in comps or out not in outs:
                        bad_inputs.append((name, ref))
        if bad_inputs:
            name, ref = bad_inputs[0]
            raise SubmitError(submit_traceback(
                72, "dsl_parser = schedule_utils.get_job_dsl_parser(...)",
                f"fate_flow.utils.dsl_exception.ComponentInputDataValueError: Component {name}'s data input "
                f"{ref} is not valid, please check it"))
        if has_data_input and not any((c or {}).get("module") == "Reader" for c in comps.values()):
            raise SubmitError(submit_traceback(
                72, "dsl_parser = schedule_utils.get_job_dsl_parser(...)",
                "fate_flow.utils.dsl_exception.ModuleException: Reader component does not exist in dsl"))
        runtime_conf = fill_job_parameters(conf, job_id, model_id)
        if job_type == "predict":
            runtime_conf["job_parameters"]["common"]["model_id"] = model_id
            runtime_conf["job_parameters"]["common"]["model_version"] = model_info_version
        unknown = [(n, c.get("module")) for n, c in comps.items() if (c or {}).get("module") not in KNOWN_MODULES]
        ms = now_ms()
        parties: list[tuple[str, int, int]] = []
        for role in roles:
            for idx, p in enumerate(roles[role]):
                if (role, p) not in [(r, q) for r, q, _ in parties]:
                    parties.append((role, p, idx))
        with self.store.transaction():
            for role, p, _ in parties:
                row = new_job_row(job_id, role, p, runtime_conf, dsl, train_conf, description, ms)
                if unknown:
                    row.update({"f_status": "failed", "f_tag": "submit_failed"})
                self.store.put_job(row)
            if not unknown:
                order = dsl_order(dsl)
                for cpn in order:
                    for role, p, idx in parties:
                        if role == "arbiter" and comps[cpn]["module"] in NO_ARBITER_MODULES:
                            continue  # the arbiter reads no data: no reader/data_transform task there
                        self.store.put_task(
                            new_task_row(job_id, cpn, comps[cpn]["module"], role, p, runtime_conf, idx, ms))
        if unknown:  # the real server keeps the job (failed, tagged submit_failed) at every party
            name, module = unknown[0]
            msg = f"ValueError(\"component {name}, module {module}'s provider does not exist\")"
            resp = {r: {p: {"retcode": 100, "retmsg": msg}} for r, p, _ in parties}
            raise SubmitError(submit_traceback(144, 'raise Exception("create job failed", response)',
                                               f"Exception: ('create job failed', {resp!r})"))
        behave.update({k: v for k, v in self._take_behaviours(comps).items() if k not in behave})
        timeout = runtime_conf["job_parameters"]["common"].get("timeout")
        plan = {"job_id": job_id, "kind": kind or "train", "order": order,
                "modules": {c: comps[c]["module"] for c in order}, "dsl": dsl, "behave": behave,
                "timeout": float(timeout) if timeout else None,
                "cores": runtime_conf["job_parameters"]["common"]["adaptation_parameters"]["request_task_cores"]}
        plan.update(extra or {})
        self.engine.add_job(plan)
        return submit_result(job_id, init_role, init_party, model_id, model_info_version, self.board, FLOW_ROOT)

    def _local_job(self, module: str, cpn: str, params: dict[str, Any], party_id: int, extra: dict[str, Any],
                   kind: str, job_id: str | None = None, common: dict[str, Any] | None = None) -> dict[str, Any]:
        conf = {"dsl_version": 2, "initiator": {"role": "local", "party_id": party_id},
                "role": {"local": [party_id]}, "job_parameters": {"common": dict(common or {})},
                "component_parameters": {"role": {"local": {"0": {cpn: params}}}}}
        dsl = {"components": {cpn: {"module": module}}}
        data = self.submit(conf, dsl, job_id=job_id, kind=kind, extra=extra)
        # no task_cores in a local job's conf (as recorded): fill_job_parameters asks for 4 cores
        return data



class AppModule:
    """Base of a route module: shortcuts to the shared :class:`FlowCore` and the helpers several apps use.

    ``ROUTES`` maps a route (relative to ``/v1``) to ``(methods, handler name, mode)``; mode is ``"sync"``,
    ``"async"`` (a coroutine: reads a multipart body) or ``"file"`` (builds an archive: runs in a worker thread).
    """

    ROUTES: ClassVar[dict[str, tuple[tuple[str, ...], str, str]]] = {}

    def __init__(self, core: FlowCore) -> None:
        self.core = core
        self.store = core.store
        self.files = core.files
        self.settings = core.settings
        self.engine = core.engine
        self.ids = core.ids
        self.tmp = core.tmp

    @property
    def board(self) -> str:
        """FATE-Board base URL."""
        return self.core.board

    def submit(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """:meth:`FlowCore.submit`."""
        return self.core.submit(*args, **kwargs)

    def _local_job(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.core._local_job(*args, **kwargs)

    def _job_or_none(self, job_id: Any) -> list[dict[str, Any]]:
        return self.store.job_rows(str(job_id)) if job_id is not None else []

    def _fill_role_party(self, args: dict[str, Any]) -> dict[str, Any]:
        """``check_request_parameters``: missing role/party_id become the initiator's."""
        args = dict(args)
        if "role" not in args or "party_id" not in args:
            rows = self._job_or_none(args.get("job_id"))
            if rows:
                args.setdefault("role", rows[0]["f_initiator_role"])
                args.setdefault("party_id", rows[0]["f_initiator_party_id"])
        return args

    def _task(self, args: dict[str, Any]) -> dict[str, Any] | None:
        filters = {k: args[k] for k in ("job_id", "role", "party_id", "component_name") if k in args}
        if not filters.get("job_id"):
            return None
        tasks = self.store.query_tasks(filters)
        return tasks[-1] if tasks else None

