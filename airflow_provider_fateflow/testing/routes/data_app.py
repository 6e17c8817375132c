"""Data routes: upload, download, upload history (``apps/data_access_app.py``)."""
from __future__ import annotations

import json
import os
import uuid
from typing import Any
from urllib.parse import parse_qsl

from ..http import Ctx, Reply, bad_request_key_error, result
from ..records import submit_traceback
from .core import AppModule, SubmitError, table_schema


class DataApp(AppModule):
    """Routes of ``fate_flow/apps/data_app.py``."""

    ROUTES = {
        "data/upload": (("POST",), "data_upload", "async"),
        "data/download": (("POST",), "data_download", "sync"),
        "data/upload/history": (("POST",), "upload_history", "sync"),
    }

    async def data_upload(self, ctx: Ctx) -> Reply:
        job_id = self.ids.next_id()
        js = ctx.json if isinstance(ctx.json, dict) else None
        owned = False
        count = first = None
        if not (js and js.get("use_local_data") == 0):
            upload = ctx.files.get("file")
            if upload is None:
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
                "notes": "", "schema": table_schema(table),
                "upload_info": {"namespace": table["namespace"], "partition": table["partition"],
                                "table_name": table["name"], "upload_count": table["count"]}}})
            if len(out) >= limit:
                break
        return result(0, "success", out)
