"""Job routes: submit, stop, query, list, rerun, logs, DSL generation, queue (``apps/job_app.py``)."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from .. import archives
from ..http import Ctx, Reply, error_response, result
from ..models import DslGenerationError, generate_predict_dsl
from ..records import FLOW_ROOT, LIST_STATUS_FILTER, human
from .core import AppModule, SubmitError, none_mapping


class JobApp(AppModule):
    """Routes of ``fate_flow/apps/job_app.py``."""

    ROUTES = {
        "job/submit": (("POST",), "job_submit", "sync"),
        "job/stop": (("POST",), "job_stop", "sync"),
        "job/query": (("POST",), "job_query", "sync"),
        "job/clean": (("POST",), "job_clean", "sync"),
        "job/config": (("POST",), "job_config", "sync"),
        "job/log/download": (("POST",), "job_log", "file"),
        "job/log/path": (("POST",), "job_log_path", "sync"),
        "job/list/job": (("POST",), "job_list", "sync"),
        "job/list/task": (("POST",), "task_list", "sync"),
        "job/task/query": (("POST",), "task_query", "sync"),
        "job/data/view/query": (("POST",), "job_view", "sync"),
        "job/dsl/generate": (("POST",), "dsl_generate", "sync"),
        "job/rerun": (("POST",), "job_rerun", "sync"),
        "job/url/get": (("POST",), "job_url", "sync"),
        "job/clean/queue": (("POST",), "queue_clean", "sync"),
        "job/parameter/update": (("POST",), "job_parameter_update", "sync"),
    }

    def job_submit(self, ctx: Ctx) -> Reply:
        body = ctx.json
        if not isinstance(body, dict):
            raise none_mapping("fate_flow.entity._job.JobConfigurationBase")
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
            raise none_mapping("fate_flow.operation.job_saver.JobSaver.query_job")
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
            raise none_mapping("fate_flow.operation.job_saver.JobSaver.query_task")
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
        # FATE Flow only raises the rerun signal here and answers at once; the scheduler loop does the rest
        # (and finds nothing to rerun in a job that succeeded: it stays as it is)
        self.engine.rerun(job_id)
        return result(0, "rerun job success")

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
