"""Table routes: info, delete, list, preview, download (``apps/table_app.py``)."""
from __future__ import annotations

from typing import Any

from .. import archives
from ..engine import read_table_rows
from ..http import Ctx, Reply, error_response, result
from .core import AppModule, table_schema


class TableApp(AppModule):
    """Routes of ``fate_flow/apps/table_app.py``."""

    ROUTES = {
        "table/delete": (("POST",), "table_delete", "sync"),
        "table/list": (("POST",), "table_list", "sync"),
        "table/preview": (("POST",), "table_preview", "sync"),
        "table/table_info": (("POST",), "table_info", "sync"),
        "table/download": (("GET",), "table_download", "file"),
    }

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
            "partition": table["partition"], "schema": table_schema(table), "table_name": table["name"]})

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
