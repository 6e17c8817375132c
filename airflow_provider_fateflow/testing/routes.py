"""FATE Flow v1 route handlers (``apps/*_app.py`` of FATE-Flow 1.11.2), on top of the store and the engine."""
from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from . import archives
from .engine import Engine, dsl_order, read_table_rows
from .http import Ctx, Reply, error_response, result
from .models import DslGenerationError, deploy, export_zip, generate_predict_dsl, public, read_zip, zip_name
from .records import (FLOW_ROOT, KNOWN_MODULES, LIST_STATUS_FILTER, NOT_DEPLOYED_BIND, NOT_DEPLOYED_LOAD, JobIdGenerator,
                      fill_job_parameters, fmt_date, gen_model_id, grpc_unavailable, human, new_job_row, new_task_row,
                      now_ms, party_model_id, submit_traceback, submit_result)
from .store import Store

Handler = Callable[[Ctx], Reply]


class SubmitError(Exception):
    """A rejected submit; ``str()`` is the traceback-like retmsg."""


def _none_mapping(where: str) -> TypeError:
    return TypeError(f"{where}() argument after ** must be a mapping, not NoneType")


class FateFlowApp:
    """The FATE Flow v1 application: routes, submit logic and the shared state.

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
        self.routes: dict[str, tuple[tuple[str, ...], Handler]] = {}
        post = ("POST",)
        for path, fn in {
            "job/submit": self.job_submit, "job/stop": self.job_stop, "job/query": self.job_query,
            "job/clean": self.job_clean, "job/config": self.job_config, "job/log/download": self.job_log,
            "job/log/path": self.job_log_path, "job/list/job": self.job_list, "job/list/task": self.task_list,
            "job/task/query": self.task_query, "job/data/view/query": self.job_view,
            "job/dsl/generate": self.dsl_generate, "job/rerun": self.job_rerun, "job/url/get": self.job_url,
            "job/clean/queue": self.queue_clean, "job/parameter/update": self.job_parameter_update,
            "tracking/component/parameters": self.cpn_parameters,
            "tracking/component/metric/all": self.cpn_metric_all, "tracking/component/metrics": self.cpn_metrics,
            "tracking/component/metric_data": self.cpn_metric_data,
            "tracking/component/metric/delete": self.cpn_metric_delete,
            "tracking/component/output/model": self.cpn_output_model,
            "tracking/component/output/data": self.cpn_output_data,
            "tracking/component/output/data/table": self.cpn_output_table,
            "tracking/component/list": self.cpn_list, "tracking/component/summary/download": self.cpn_summary,
            "data/download": self.data_download, "data/upload/history": self.upload_history,
            "model/load": self.model_load, "model/bind": self.model_bind, "model/deploy": self.model_deploy,
            "model/query": self.model_query, "model/get/predict/dsl": self.predict_dsl,
            "model/get/predict/conf": self.predict_conf, "model/store": self.model_store,
            "model/restore": self.model_restore, "table/delete": self.table_delete, "table/list": self.table_list,
            "table/preview": self.table_preview, "table/table_info": self.table_info,
            "version/get": self.version_get, "info/fateboard": self.info_fateboard,
        }.items():
            self.routes[path] = (post, fn)
        self.routes["tracking/component/output/data/download"] = (("GET",), self.cpn_output_download)
        self.routes["table/download"] = (("GET",), self.table_download)
        self.routes["model/export"] = (("GET", "POST"), self.model_export)
        self.async_routes = {"data/upload": (post, self.data_upload), "model/import": (post, self.model_import)}
        #: routes that build an archive before answering: run in a worker thread, not on the event loop
        self.file_routes = frozenset({"job/log/download", "tracking/component/output/data/download",
                                      "table/download", "model/export"})

    # ================================================================== helpers
    @property
    def board(self) -> str:
        return str(self.settings.get("board_url") or "http://127.0.0.1:8080")

    def _take_behaviours(self, components: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with self._block:
            for beh in self.behaviours:
                if beh["jobs"] > 0 and beh["component"] in components and beh["component"] not in out:
                    beh["jobs"] -= 1
                    out[beh["component"]] = {k: beh.get(k) for k in ("fail", "seconds", "role", "party_id")}
            self.behaviours = [b for b in self.behaviours if b["jobs"] > 0]
        return out

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
        conf["job_parameters"]["common"].setdefault("task_cores", 4)
        dsl = {"components": {cpn: {"module": module}}}
        data = self.submit(conf, dsl, job_id=job_id, kind=kind, extra=extra)
        # local jobs do not echo task_cores (as recorded for upload jobs)
        return data

    # ================================================================== job
    def job_submit(self, ctx: Ctx) -> Reply:
        body = ctx.json
        if not isinstance(body, dict):
            raise _none_mapping("fate_flow.entity._job.JobConfigurationBase")
        job_id = self.ids.next_id()
        conf = body.get("job_runtime_conf", body.get("runtime_conf"))
        dsl = body.get("job_dsl", body.get("dsl"))
        try:
            data = self.submit(conf, dsl, job_id=job_id)
        except SubmitError as exc:
            return result(103, str(exc), job_id=job_id)
        return result(0, "success", data, job_id=job_id)

    def job_stop(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id")
        job_id = str(args["job_id"])
        if not self.store.job_rows(job_id):
            return result(102, "can not found job")
        status = args.get("stop_status") or "canceled"
        self.engine.stop_job(job_id, status)
        return result(0, "stop job on this party success; stop job on all party success")

    def job_query(self, ctx: Ctx) -> Reply:
        if not isinstance(ctx.json, dict):
            raise _none_mapping("fate_flow.operation.job_saver.JobSaver.query_job")
        jobs = self.store.query_jobs(ctx.json)
        if not jobs:
            return result(0, "no job could be found", [])
        return result(0, "success", jobs)

    def job_clean(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        tasks = self.store.query_tasks({k: v for k, v in args.items() if k in
                                        ("job_id", "role", "party_id", "component_name")}) if args else []
        if not tasks:
            raise Exception("no found task")
        job_id = tasks[0]["f_job_id"]
        for out in self.store.outputs(job_id, args.get("component_name")):
            self.store.delete_table(out["f_table_namespace"], out["f_table_name"])
        self.store.delete_metrics(job_id)
        return result(0, "success")

    def job_config(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        filters = {k: args[k] for k in ("job_id", "role", "party_id") if k in args}
        jobs = self.store.query_jobs(filters) if filters.get("job_id") else []
        if not jobs:
            return result(101, "find job failed")
        job = jobs[0]
        common = job["f_runtime_conf"]["job_parameters"]["common"]
        return result(0, "success", {
            "job_id": job["f_job_id"], "dsl": job["f_dsl"], "runtime_conf": job["f_runtime_conf"],
            "train_runtime_conf": job["f_train_runtime_conf"],
            "model_info": {"model_id": common.get("model_id"), "model_version": common.get("model_version")}})

    def job_log(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id")
        job_id = str(args["job_id"])
        if not self.store.job_rows(job_id):
            return error_response(404, f"Log file path: '{FLOW_ROOT}/logs/{job_id}' not found. "
                                       "Please check if the job id is valid.")
        path = archives.job_log_tar(job_id, self.store.tasks(job_id), str(self.tmp))
        return Reply(200, file=path, filename=f"job_{job_id}_log.tar.gz", content_type="application/x-tar")

    def job_log_path(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id")
        return result(0, "success", {"logs_directory": f"{FLOW_ROOT}/logs/{args['job_id']}"})

    def job_list(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        where, params = ["tag != 'submit_failed'"], []
        try:
            limit = int(args.get("limit", 0) or 0)
        except (TypeError, ValueError):
            return error_response(400, "Invalid parameter 'limit'.")
        try:
            page = int(args.get("page", 1) or 1)
        except (TypeError, ValueError):
            return error_response(400, "Invalid parameter 'page'.")
        order_by = args.get("order_by", "create_time")
        if order_by not in ("job_id", "task_version", "create_time", "start_time", "end_time", "elapsed"):
            return error_response(400, "Invalid parameter 'order_by'.")
        order = args.get("order", "desc")
        if order not in ("asc", "desc"):
            return error_response(400, "Invalid parameter 'order'.")
        for key in ("job_id", "description"):
            if args.get(key):
                where.append(f"{key} LIKE ?")
                params.append(f"%{args[key]}%")
        if args.get("party_id") not in (None, ""):
            try:
                params.append(str(int(args["party_id"])))
            except (TypeError, ValueError):
                return error_response(400, "Invalid parameter 'party_id'.")
            where.append("party_id = ?")
        for key, allowed in (("role", {"guest", "host", "arbiter", "local"}), ("status", LIST_STATUS_FILTER)):
            val = args.get(key)
            if val in (None, "", []):
                continue
            vals = val if isinstance(val, list) else [val]
            if not all(isinstance(v, str) and v in allowed for v in vals):
                return error_response(400, f"Invalid parameter '{key}'.")
            where.append(f"{key} IN ({','.join('?' * len(vals))})")
            params.extend(vals)
        count, recs = self.store.list_jobs(where, params, order_by if order_by != "task_version" else "create_time",
                                           order, limit, page)
        jobs = []
        for rec in recs:
            h = human(rec)
            own = int(rec["f_party_id"])
            h["party_id"] = own
            h["partners"] = sorted({int(p) for ps in rec["f_roles"].values() for p in ps} - {own})
            jobs.append(h)
        return result(0, "success", {"jobs": jobs, "count": count})

    def task_list(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        where, params = [], []
        for key in ("job_id", "component_name"):
            if args.get(key):
                where.append(f"{key} = ?")
                params.append(str(args[key]))
        if args.get("role"):
            if args["role"] not in ("guest", "host", "arbiter", "local"):
                return error_response(400, "Invalid parameter 'role'.")
            where.append("role = ?")
            params.append(args["role"])
        if args.get("party_id") not in (None, ""):
            try:
                params.append(str(int(args["party_id"])))
            except (TypeError, ValueError):
                return error_response(400, "Invalid parameter 'party_id'.")
            where.append("party_id = ?")
        order = args.get("order", "asc")
        if order not in ("asc", "desc"):
            return error_response(400, "Invalid parameter 'order'.")
        try:
            limit, page = int(args.get("limit", 0) or 0), int(args.get("page", 1) or 1)
        except (TypeError, ValueError):
            return error_response(400, "Invalid parameter 'limit'.")
        count, recs = self.store.list_tasks(where, params, order, limit, page)
        return result(0, "success", {"tasks": [human(r) for r in recs], "count": count})

    def task_query(self, ctx: Ctx) -> Reply:
        if not isinstance(ctx.json, dict):
            raise _none_mapping("fate_flow.operation.job_saver.JobSaver.query_task")
        tasks = self.store.query_tasks(ctx.json)
        if not tasks:
            return result(101, "find task failed")
        return result(0, "success", tasks)

    def job_view(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        if not args.get("job_id"):
            return result(101, "find data view failed")
        outs = self.store.outputs(str(args["job_id"]), args.get("component_name"), args.get("role"),
                                  args.get("party_id"))
        if not outs:
            return result(101, "find data view failed")
        return result(0, "success", outs)

    def dsl_generate(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        fail = error_response(210, "DSL generating failed. For more details, please check logs/fate_flow/fate_flow_stat.log.")
        try:
            cpn = args.get("cpn_str")
            if isinstance(cpn, str):
                cpn = [c.strip().strip("[]") for c in cpn.replace("\n", "").strip(" []").split(",")]
                cpn = [c.strip(" '\"") for c in cpn if c.strip()]
            train_dsl = args.get("train_dsl")
            train_dsl = json.loads(train_dsl) if isinstance(train_dsl, str) else train_dsl
            if not isinstance(train_dsl, dict) or not cpn:
                return fail
            dsl = generate_predict_dsl(train_dsl, list(cpn))
        except (DslGenerationError, ValueError, TypeError, AttributeError):
            return fail
        if args.get("filename"):
            path = os.path.join(str(self.tmp), uuid.uuid4().hex)
            Path(path).write_text(json.dumps(dsl, indent=4))
            return Reply(200, file=path, filename=str(args["filename"]), content_type="application/json")
        return result(0, "success", dsl)

    def job_rerun(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id")
        job_id = str(args["job_id"])
        rows = self.store.job_rows(job_id)
        if not rows:
            return result(102, "can not found job")
        if not self.engine.rerun(job_id):
            return result(103, f"job {job_id} status is {rows[0]['f_status']}, can not rerun")
        return result(0, "success")

    def job_url(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id", "role", "party_id")
        jobs = self.store.query_jobs({k: args[k] for k in ("job_id", "role", "party_id")})
        if not jobs:
            return result(101, "no found job")
        return result(0, "success", {"board_url": [
            f"{self.board.rstrip('/')}/index.html#/dashboard?job_id={j['f_job_id']}&role={j['f_role']}"
            f"&party_id={j['f_party_id']}" for j in jobs]})

    def queue_clean(self, ctx: Ctx) -> Reply:
        return result(0, "success", self.engine.clean_queue())

    def job_parameter_update(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id")
        rows = self.store.job_rows(str(args["job_id"]))
        if not rows:
            return result(102, "can not found job")
        if rows[0]["f_status"] not in ("waiting", "failed", "canceled", "timeout"):
            return result(103, "Only waiting or end-status jobs can update parameters")
        return result(0, "success", {"job_parameters": args.get("job_parameters", {}),
                                     "component_parameters": args.get("component_parameters", {})})

    # ================================================================== tracking
    def _task(self, args: dict[str, Any]) -> dict[str, Any] | None:
        filters = {k: args[k] for k in ("job_id", "role", "party_id", "component_name") if k in args}
        if not filters.get("job_id"):
            return None
        tasks = self.store.query_tasks(filters)
        return tasks[-1] if tasks else None

    def cpn_parameters(self, ctx: Ctx) -> Reply:
        if not isinstance(ctx.json, dict):
            raise _none_mapping("fate_flow.operation.job_saver.JobSaver.query_task")
        task = self._task(self._fill_role_party(ctx.json))
        if task is None:
            return result(101, "can not found this task")
        params = task["f_component_parameters"]
        return result(0, "success", {"ComponentParam": params.get("ComponentParam", {}),
                                     "module": task["f_component_module"]})

    def _metrics(self, args: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
        args = self._fill_role_party(args)
        if not all(k in args for k in ("job_id", "component_name", "role", "party_id")):
            return []
        return self.store.metrics(str(args["job_id"]), str(args["component_name"]), str(args["role"]),
                                  str(args["party_id"]))

    def cpn_metric_all(self, ctx: Ctx) -> Reply:
        ctx.require("job_id", "component_name")
        data: dict[str, Any] = {}
        for ns, name, points, meta in self._metrics(ctx.args):
            data.setdefault(ns, {})[name] = {"data": sorted(points, key=lambda kv: (str(type(kv[0])), kv[0])),
                                             "meta": meta}
        if not data:
            return result(0, "no data", {})
        return result(0, "success", data)

    def cpn_metrics(self, ctx: Ctx) -> Reply:
        ctx.require("job_id", "component_name")
        data: dict[str, list[str]] = {}
        for ns, name, _, _ in self._metrics(ctx.args):
            data.setdefault(ns, []).append(name)
        if not data:
            return result(0, "no data", {})
        return result(0, "success", data)

    def cpn_metric_data(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id", "component_name", "metric_namespace", "metric_name")
        for ns, name, points, meta in self._metrics(args):
            if ns == args["metric_namespace"] and name == args["metric_name"]:
                return result(0, "success", sorted(points, key=lambda kv: (str(type(kv[0])), kv[0])), meta=meta)
        return result(0, "no data", [], meta={})

    def cpn_metric_delete(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        if not args.get("job_id"):
            raise TypeError("'NoneType' object is not subscriptable")
        return result(0, "success", f"delete status: {self.store.delete_metrics(str(args['job_id']))}")

    def cpn_output_model(self, ctx: Ctx) -> Reply:
        args = self._fill_role_party(ctx.require("job_id", "component_name"))
        jobs = self.store.query_jobs({k: args[k] for k in ("job_id", "role", "party_id") if k in args})
        if not jobs:
            raise AttributeError("'NoneType' object has no attribute 'runtime_conf_on_party'")
        plan = self.store.get_plan(str(args["job_id"])) or {}
        entry = plan.get("models", {}).get(f"{args.get('role')}#{args.get('party_id')}", {}).get(
            str(args["component_name"]))
        if entry is None:
            return result(0, "no define_meta", {})
        return result(0, "success", entry["param"], meta={"meta_data": entry["meta"], "module_name": entry["module"]})

    def _output_tables(self, args: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        outs = self.store.outputs(str(args["job_id"]), str(args["component_name"]), str(args.get("role")),
                                  str(args.get("party_id")))
        tables = []
        for o in outs:
            t = self.store.get_table(o["f_table_namespace"], o["f_table_name"])
            if t is not None:
                tables.append((o["f_data_name"], t))
        return tables

    def cpn_output_data(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        args = self._fill_role_party(args)
        if self._task(args) is None:
            raise ValueError(f"no found task, please check if the parameters are correct:{ctx.json}")
        tables = self._output_tables(args)
        if not tables:
            return result(0, "no data", [], meta={"header": [], "total": [], "names": []})
        limit = int(args.get("limit", 100) or 100)
        data, headers, totals, names = [], [], [], []
        for name, t in tables:
            header, rows = read_table_rows(t, limit=limit if limit > 0 else 100)
            data.append(rows)
            headers.append(header)
            totals.append(t.get("count", len(rows)))
            names.append(name)
        return result(0, "success", data, meta={"header": headers, "total": totals, "names": names})

    def cpn_output_download(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        args = self._fill_role_party(args)
        if self._task(args) is None:
            raise ValueError(f"no found task, please check if the parameters are correct:{ctx.json}")
        limit = int(args.get("limit", -1) if args.get("limit") is not None else -1)
        if limit == 0:
            return error_response(210, "limit is 0")
        tables = self._output_tables(args)
        if not tables:
            return error_response(210, "no data")
        head = args.get("head", True) not in (False, 0, "0", "false", "False")
        path = archives.output_data_tar(tables, limit, head, str(self.tmp))
        name = (f"job_{args['job_id']}_{args['component_name']}_{args['role']}_{args['party_id']}"
                "_output_data.tar.gz")
        return Reply(200, file=path, filename=name, content_type="application/x-tar")

    def cpn_output_table(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id", "role", "party_id", "component_name")
        if not self.store.query_jobs({"job_id": args["job_id"]}):
            return result(100, "No found job")
        outs = self.store.outputs(str(args["job_id"]), str(args["component_name"]), str(args["role"]),
                                  str(args["party_id"]))
        if not outs:
            return result(100, "No found table, please check if the parameters are correct")
        return result(0, "success", [{"data_name": o["f_data_name"], "table_name": o["f_table_name"],
                                      "table_namespace": o["f_table_namespace"]} for o in outs])

    def cpn_list(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id")
        rows = self.store.job_rows(str(args["job_id"]))
        if not rows:
            return result(100, "No job matched, please make sure the job id is valid.")
        return result(0, "success", {"components": list(rows[0]["f_dsl"].get("components", {}))})

    def cpn_summary(self, ctx: Ctx) -> Reply:
        args = self._fill_role_party(ctx.require("job_id", "component_name"))
        summary = None
        for ns, name, points, meta in self._metrics(args):
            if meta.get("metric_type") == "EVALUATION_SUMMARY":
                summary = (summary or {})
                summary[name] = {k: v for k, v in points}
        plan = self.store.get_plan(str(args["job_id"])) or {}
        entry = plan.get("models", {}).get(f"{args.get('role')}#{args.get('party_id')}", {}).get(
            str(args["component_name"]))
        if entry and "iters" in entry.get("param", {}):
            summary = {"best_iteration": -1, "is_converged": False, "loss_history": [],
                       "iters": entry["param"]["iters"]}
        if summary is None:
            return error_response(210, "No component summary found, please check if arguments are specified correctly.")
        return result(0, "success", summary)

    # ================================================================== data
    async def data_upload(self, ctx: Ctx) -> Reply:
        job_id = self.ids.next_id()
        js = ctx.json if isinstance(ctx.json, dict) else None
        owned = False
        count = first = None
        if not (js and js.get("use_local_data") == 0):
            upload = ctx.files.get("file")
            if upload is None:
                from .app import bad_request_key_error
                raise bad_request_key_error()
            dest = self.files / "uploads" / f"{job_id}_{uuid.uuid4().hex}"
            upload.keep_as(dest)  # written to disk as it arrived (testing/uploads.py): a rename
            count, first = upload.lines, upload.first_line
            owned = True
            config: dict[str, Any] = dict(parse_qsl(ctx.query, keep_blank_values=True)) or dict(ctx.form)
            if "namespace" not in config or "table_name" not in config:
                config = json.loads(list(config.keys())[0])
            config["file"] = str(dest)
        else:
            config = dict(js)
        missing = [k for k in ("namespace", "table_name", "file", "head", "partition") if k not in config]
        if missing:
            if owned:
                os.unlink(config["file"])
            raise KeyError(f"required parameters are missing: {','.join(missing)}; ")
        config["name"] = config["table_name"]
        for key in ("head", "partition", "drop", "extend_sid", "auto_increasing_sid"):
            if key in config:
                config[key] = int(config[key])
        config["destroy"] = int(config.get("drop", 0)) > 0
        data: dict[str, Any] = {"table_name": config["table_name"], "namespace": config["namespace"]}
        if self.store.get_table(config["namespace"], config["table_name"]) and not config["destroy"]:
            if owned:
                os.unlink(config["file"])
            return result(100, "The data table already exists.If you still want to continue uploading, "
                               "please add the parameter --drop")
        if config["destroy"]:
            self.store.delete_table(str(config["namespace"]), str(config["table_name"]))
        params = {"auto_increasing_sid": bool(config.get("auto_increasing_sid", 0)), "block_size": 1,
                  "destroy": config["destroy"], "extend_sid": bool(config.get("extend_sid", 0)),
                  "file": config["file"], "head": config["head"], "id_delimiter": config.get("id_delimiter", ","),
                  "meta": config.get("meta", {}), "name": config["table_name"], "namespace": config["namespace"],
                  "partition": config["partition"], "schema": config.get("schema", {}),
                  "storage_address": config.get("storage_address"), "storage_engine": config.get("storage_engine", ""),
                  "with_meta": bool(config.get("with_meta", False))}
        party_id = int(config.get("party_id", 0) or 0)
        extra = {"upload": {"file": config["file"], "owned": owned, "count": count, "first_line": first,
                            "namespace": config["namespace"], "table_name": config["table_name"],
                            "head": config["head"], "partition": config["partition"],
                            "id_delimiter": config.get("id_delimiter", ","),
                            "extend_sid": config.get("extend_sid", 0)}}
        try:
            if config["partition"] < 1:
                raise SubmitError(submit_traceback(
                    60, "job_utils.check_job_conf(runtime_conf, dsl)",
                    f"ValueError: partition {config['partition']} is not a positive integer"))
            data.update(self._local_job("Upload", "upload_0", params, party_id, extra, "upload", job_id=job_id))
        except SubmitError as exc:
            data.update({"code": 103, "message": str(exc), "job_id": job_id})
        return result(0, "success", data, job_id=job_id)

    def data_download(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else None
        if args is None:
            raise TypeError("'NoneType' object is not subscriptable")
        missing = [k for k in ("namespace", "table_name", "output_path") if k not in args]
        if missing:
            raise KeyError(f"required parameters are missing: {','.join(missing)}; ")
        job_id = self.ids.next_id()
        params = {"delimiter": args.get("delimiter", ","), "name": args["table_name"], "namespace": args["namespace"],
                  "output_path": args["output_path"]}
        extra = {"download": {"namespace": args["namespace"], "table_name": args["table_name"],
                              "output_path": args["output_path"], "delimiter": args.get("delimiter", ",")}}
        data: dict[str, Any] = {}
        try:
            data.update(self._local_job("Download", "download_0", params, int(args.get("party_id", 0) or 0), extra,
                                        "download", job_id=job_id))
        except SubmitError as exc:
            data.update({"code": 103, "message": str(exc), "job_id": job_id})
        return result(0, "success", data, job_id=job_id)

    def upload_history(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        limit = int(args.get("limit", 10) or 10)
        filters: dict[str, Any] = {"component_name": "upload_0", "status": "success"}
        if args.get("job_id"):
            filters["job_id"] = str(args["job_id"])
        tasks = sorted(self.store.query_tasks(filters), key=lambda t: t["f_create_time"], reverse=True)
        out = []
        for t in tasks:
            p = t["f_component_parameters"]["ComponentParam"]
            table = self.store.get_table(str(p["namespace"]), str(p["name"]))
            if table is None or table.get("job_id") != t["f_job_id"]:
                continue
            out.append({t["f_job_id"]: {
                "notes": "", "schema": _schema(table),
                "upload_info": {"namespace": table["namespace"], "partition": table["partition"],
                                "table_name": table["name"], "upload_count": table["count"]}}})
            if len(out) >= limit:
                break
        return result(0, "success", out)

    # ================================================================== model
    def _model_args(self, args: dict[str, Any]) -> dict[str, Any] | Reply:
        """``load``/``bind`` arguments, completed from the guest model of ``job_id`` if given (a 101 reply if
        there is none); raises KeyError without ``initiator``, ``role`` or ``job_parameters``."""
        if "job_id" in args:
            recs = [r for r in self.store.models(model_version=str(args["job_id"])) if r["f_role"] == "guest"]
            if not recs:
                return result(101, f"Model with version {args['job_id']} can not be found in database. "
                                   "Please check if the model version is valid.")
            rec = recs[0]
            args = dict(args)
            args.setdefault("initiator", {"role": rec["f_initiator_role"], "party_id": rec["f_initiator_party_id"]})
            args.setdefault("role", rec["f_roles"])
            args.setdefault("job_parameters", {"model_id": rec["f_model_id"], "model_version": rec["f_model_version"]})
        missing = [k for k in ("initiator", "role", "job_parameters") if k not in args]
        if missing:
            raise KeyError(f"required parameters are missing: {','.join(missing)}; ")
        return args

    def model_load(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else None
        if args is None:
            raise TypeError("'NoneType' object is not subscriptable")
        args = self._model_args(args)
        if isinstance(args, Reply):
            return args
        mid = args["job_parameters"].get("model_id")
        mver = args["job_parameters"].get("model_version")
        data: dict[str, Any] = {"detail": {}}
        failed = False
        for role, parties in args["role"].items():
            if role == "arbiter":
                continue
            for p in parties:
                recs = self.store.models(str(mid), str(mver), role, str(p))
                if not recs:
                    code, msg = 100, f"Model {party_model_id(role, p, mid)} {mver} does not exist."
                elif recs[0].get("f_parent", True):
                    code, msg = 100, NOT_DEPLOYED_LOAD
                elif not self.settings.get("serving"):
                    code, msg = 100, grpc_unavailable()
                else:
                    code, msg = 0, "success"
                    rec = recs[0]
                    rec["f_loaded_times"] = rec.get("f_loaded_times", 0) + 1
                    self.store.put_model(rec)
                failed = failed or code != 0
                data.setdefault(role, {})[str(p)] = code
                data["detail"].setdefault(role, {})[str(p)] = {"retcode": code, "retmsg": msg}
        job_id = self.ids.next_id()
        if failed:
            return result(101, "failed", data, job_id=job_id)
        return result(0, "success", data, job_id=job_id)

    def model_bind(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else None
        if args is None:
            raise TypeError("'NoneType' object is not subscriptable")
        if not args.get("service_id"):
            return result(101, "no service id")
        args = self._model_args(args)
        if isinstance(args, Reply):
            return args
        init = args["initiator"]
        jp = args["job_parameters"]
        recs = self.store.models(str(jp.get("model_id")), str(jp.get("model_version")), init.get("role"),
                                 str(init.get("party_id")))
        if not recs:
            return result(100, f"Model {party_model_id(init.get('role'), init.get('party_id'), jp.get('model_id'))} "
                               f"{jp.get('model_version')} does not exist.")
        if recs[0].get("f_parent", True):
            return result(100, NOT_DEPLOYED_BIND)
        if not self.settings.get("serving"):
            return result(100, grpc_unavailable())
        return result(0, f"service id is {args['service_id']}")

    def model_deploy(self, ctx: Ctx) -> Reply:
        args = ctx.require("model_id", "model_version")
        if args.get("cpn_list") and args.get("predict_dsl"):
            return result(101, "Parameter 'cpn_list' and 'predict_dsl' can not be set at the same time.")
        cpn = args.get("cpn_list")
        if isinstance(cpn, str):
            cpn = [c.strip(" '\"") for c in cpn.strip(" []").split(",") if c.strip()]
        predict_dsl = args.get("predict_dsl")
        if isinstance(predict_dsl, str):
            predict_dsl = json.loads(predict_dsl)
        try:
            data = deploy(self.store, str(args["model_id"]), str(args["model_version"]), self.ids.next_id(),
                          cpn, predict_dsl)
        except DslGenerationError as exc:
            return result(101, f"Component {exc} not found in the train dsl.")
        if data is None:
            return error_response(404, f"Deploy model failed. Model {args['model_id']} {args['model_version']} "
                                       "not found.")
        return result(0, "success", data)

    def model_query(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        recs = self.store.models(args.get("model_id"), args.get("model_version"), args.get("role"),
                                 args.get("party_id"))
        if not recs:
            return result(100, "Query model info failed, cannot find model from db and local cache.")
        out = [public(r) for r in recs]
        qf = args.get("query_filters")
        if qf:
            out = [{k: v for k, v in r.items() if k in qf or k[2:] in qf} for r in out]
        return result(0, "success", out)

    def _initiator_model(self, args: dict[str, Any]) -> dict[str, Any] | None:
        recs = self.store.models(str(args["model_id"]), str(args["model_version"]))
        if not recs:
            return None
        for r in recs:
            if r["f_role"] == r["f_initiator_role"] and r["f_party_id"] == r["f_initiator_party_id"]:
                return r
        return recs[0]

    def predict_dsl(self, ctx: Ctx) -> Reply:
        args = ctx.require("model_id", "model_version")
        rec = self._initiator_model(args)
        if rec is None:
            return error_response(210, "No model found, please check if arguments are specified correctly.")
        return result(0, "success", rec["f_inference_dsl"])

    def predict_conf(self, ctx: Ctx) -> Reply:
        args = ctx.require("model_id", "model_version")
        rec = self._initiator_model(args)
        if rec is None:
            return error_response(210, "No model found, please check if arguments are specified correctly.")
        train = rec["f_train_runtime_conf"]
        readers = [c for c, v in rec["f_inference_dsl"].get("components", {}).items() if v.get("module") == "Reader"]
        role_params: dict[str, Any] = {}
        for role, parties in rec["f_roles"].items():
            if role == "arbiter":
                continue
            # FATE Flow's RuntimeConfParserV2.generate_predict_conf_template: placeholders by reader index
            role_params[role] = {
                str(i): {r: {"table": {"name": f"name_to_be_filled_{n}", "namespace": f"namespace_to_be_filled_{n}"}}
                         for n, r in enumerate(readers)}
                for i in range(len(parties))}
        return result(0, "success", {
            "dsl_version": 2, "initiator": train.get("initiator"), "role": rec["f_roles"],
            "job_parameters": {"common": {"job_type": "predict", "model_id": rec["f_model_id"],
                                          "model_version": rec["f_model_version"]}},
            "component_parameters": {"role": role_params}})

    def _model_operation(self, ctx: Ctx, op: str) -> Reply:
        args = ctx.require("model_id", "model_version", "role", "party_id")
        module = "ModelStore" if op == "store" else "ModelRestore"
        cpn = f"modeloperation_{op}_0"
        params = {"model_id": party_model_id(args["role"], args["party_id"], args["model_id"]),
                  "model_version": str(args["model_version"]),
                  "store_address": {"Bucket": None, "Region": None, "SecretId": None, "SecretKey": None,
                                    "storage": "tencent_cos"}}
        if op == "store":
            params["force_update"] = bool(args.get("force_update", False))
        else:
            params["hash_"] = args.get("sha256")
        extra = {"model_op": {"model_id": str(args["model_id"]), "model_version": str(args["model_version"]),
                              "role": args["role"], "party_id": str(args["party_id"])}}
        job_id = self.ids.next_id()
        data: dict[str, Any] = {}
        try:
            data.update(self._local_job(module, cpn, params, 0, extra, op, job_id=job_id))
        except SubmitError as exc:
            data.update({"code": 103, "message": str(exc), "job_id": job_id})
        return result(0, "success", data, job_id=job_id)

    def model_store(self, ctx: Ctx) -> Reply:
        return self._model_operation(ctx, "store")

    def model_restore(self, ctx: Ctx) -> Reply:
        return self._model_operation(ctx, "restore")

    def model_export(self, ctx: Ctx) -> Reply:
        args = ctx.require("role", "party_id", "model_id", "model_version")
        recs = self.store.models(str(args["model_id"]), str(args["model_version"]), args["role"], str(args["party_id"]))
        if not recs:
            return error_response(404, f"Model {party_model_id(args['role'], args['party_id'], args['model_id'])} "
                                       f"{args['model_version']} does not exist.")
        path = os.path.join(str(self.tmp), uuid.uuid4().hex + ".zip")
        Path(path).write_bytes(export_zip(recs[0]))
        return Reply(200, file=path, content_type="application/zip",
                     filename=zip_name(args["role"], args["party_id"], args["model_id"], args["model_version"]))

    async def model_import(self, ctx: Ctx) -> Reply:
        upload = ctx.files.get("file")
        if upload is None:
            return error_response(400, "`file` is required.")
        args = ctx.require("role", "party_id", "model_id", "model_version")
        raw = await upload.read()
        try:
            rec = read_zip(raw)
        except Exception as exc:  # noqa: BLE001
            return error_response(400, f"Invalid model file: {exc!r}")
        role, party = str(args["role"]), str(args["party_id"])
        parties = [str(p) for p in (rec.get("f_roles") or {}).get(role, [])]
        if party not in parties:
            return error_response(400, f"Party id \"{party}\" is not in role \"{role}\", please check if the party "
                                       "id and role is valid.")
        exists = self.store.models(str(args["model_id"]), str(args["model_version"]), role, party)
        if exists and str(args.get("force_update", "0")) in ("0", "False", "false", ""):
            return error_response(409, "Model already exists.")
        ms = now_ms()
        rec = dict(rec, f_model_id=str(args["model_id"]), f_model_version=str(args["model_version"]), f_role=role,
                   f_party_id=party, f_imported=1, f_update_time=ms, f_update_date=fmt_date(ms))
        rec.setdefault("f_create_time", ms)
        rec.setdefault("f_create_date", fmt_date(ms))
        self.store.put_model(rec)
        return result(0, "success", {"job_id": self.ids.next_id(), "model_id": str(args["model_id"]),
                                     "model_version": str(args["model_version"]), "party_id": party, "role": role})

    # ================================================================== table
    def table_info(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        name = args.get("table_name", args.get("name"))
        ns = args.get("namespace")
        table = self.store.get_table(str(ns), str(name)) if name is not None and ns is not None else None
        if table is None:
            return result(0, "success", {"address": None, "count": 0, "enable": True, "exist": 0, "extend_sid": False,
                                         "namespace": ns, "origin": None, "partition": None, "schema": None,
                                         "table_name": name})
        return result(0, "success", {
            "address": {"connector_name": None, "home": None, "name": table["name"], "namespace": table["namespace"],
                        "storage_type": "LMDB"},
            "count": table["count"], "enable": True, "exist": 1, "extend_sid": bool(table.get("extend_sid", False)),
            "namespace": table["namespace"], "origin": table.get("origin", "upload"),
            "partition": table["partition"], "schema": _schema(table), "table_name": table["name"]})

    def table_delete(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        ns, name = args.get("namespace"), args.get("table_name")
        if ns is None or name is None or not self.store.delete_table(str(ns), str(name)):
            return result(101, "no find table")
        return result(0, "success", {"namespace": ns, "table_name": name})

    def table_list(self, ctx: Ctx) -> Reply:
        args = ctx.require("job_id", "role", "party_id")
        rows = self.store.query_jobs({k: args[k] for k in ("job_id", "role", "party_id")})
        if not rows:
            return result(101, "no find job")
        out: dict[str, Any] = {}
        plan = self.store.get_plan(str(args["job_id"])) or {}
        for cpn in plan.get("order", []):
            outs = self.store.outputs(str(args["job_id"]), cpn, str(args["role"]), str(args["party_id"]))
            out[cpn] = {"input": [], "output": [{"namespace": o["f_table_namespace"], "name": o["f_table_name"]}
                                                for o in outs]}
        return result(0, "success", out)

    def table_preview(self, ctx: Ctx) -> Reply:
        args = ctx.require("name", "namespace")
        table = self.store.get_table(str(args["namespace"]), str(args["name"]))
        if table is None:
            return result(101, "no find table")
        header, rows = read_table_rows(table, limit=int(args.get("limit", 20) or 20))
        return result(0, "success", [dict(zip(header, r)) for r in rows])

    def table_download(self, ctx: Ctx) -> Reply:
        args = ctx.require("name", "namespace")
        table = self.store.get_table(str(args["namespace"]), str(args["name"]))
        if table is None:
            return error_response(210, "no found table")
        head = args.get("head", True) not in (False, 0, "0", "false", "False")
        path = archives.table_tar(table, head, str(self.tmp))
        return Reply(200, file=path, filename=f"table_{args['namespace']}_{args['name']}.tar.gz",
                     content_type="application/x-tar")

    # ================================================================== info
    def version_get(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        module = args.get("module") or "FATE"
        versions = {"FATE": self.settings.get("fate_version", "1.11.4"),
                    "FATEFlow": self.settings.get("flow_version", "1.11.2"), "FATEBoard": "1.11.2",
                    "EGGROLL": "2.5.3", "CENTOS": "7.2", "UBUNTU": "16.04", "PYTHON": "3.8", "JDK": "8",
                    "MAVEN": "3.6.3", "SPARK": "3.1.3", "PULSAR": "2.7.0", "RABBITMQ": "3.8.3"}
        if module not in versions:
            return error_response(404, f"No version info of module {module}.")
        return result(0, "success", {module: versions[module], "API": "v1"})

    def info_fateboard(self, ctx: Ctx) -> Reply:
        u = urlparse(self.board)
        if not u.hostname:
            return error_response(404, "fateboard is not configured")
        return result(0, "success", {"host": u.hostname, "port": u.port or 80})


def _schema(table: dict[str, Any]) -> dict[str, Any]:
    cols = table.get("columns") or []
    return {"header": ",".join(cols[1:]), "meta": {}, "sid": table.get("sid") or (cols[0] if cols else "id")}
