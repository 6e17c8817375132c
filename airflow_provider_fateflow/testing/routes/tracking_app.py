"""Tracking routes: component parameters, metrics, output model and data (``apps/tracking_app.py``)."""
from __future__ import annotations

from typing import Any

from .. import archives
from ..engine import read_table_rows
from ..http import Ctx, Reply, error_response, result
from .core import AppModule, none_mapping


class TrackingApp(AppModule):
    """Routes of ``fate_flow/apps/tracking_app.py``."""

    ROUTES = {
        "tracking/component/parameters": (("POST",), "cpn_parameters", "sync"),
        "tracking/component/metric/all": (("POST",), "cpn_metric_all", "sync"),
        "tracking/component/metrics": (("POST",), "cpn_metrics", "sync"),
        "tracking/component/metric_data": (("POST",), "cpn_metric_data", "sync"),
        "tracking/component/metric/delete": (("POST",), "cpn_metric_delete", "sync"),
        "tracking/component/output/model": (("POST",), "cpn_output_model", "sync"),
        "tracking/component/output/data": (("POST",), "cpn_output_data", "sync"),
        "tracking/component/output/data/download": (("GET",), "cpn_output_download", "file"),
        "tracking/component/output/data/table": (("POST",), "cpn_output_table", "sync"),
        "tracking/component/list": (("POST",), "cpn_list", "sync"),
        "tracking/component/summary/download": (("POST",), "cpn_summary", "sync"),
    }

    def cpn_parameters(self, ctx: Ctx) -> Reply:
        if not isinstance(ctx.json, dict):
            raise none_mapping("fate_flow.operation.job_saver.JobSaver.query_task")
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
