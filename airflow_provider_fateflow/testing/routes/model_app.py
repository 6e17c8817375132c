"""Model routes: load, bind, deploy, query, predict DSL/conf, store/restore, export/import (``apps/model_app.py``)."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from ..http import Ctx, Reply, error_response, result
from ..models import DslGenerationError, deploy, export_zip, public, read_zip, zip_name
from ..records import NOT_DEPLOYED_BIND, NOT_DEPLOYED_LOAD, fmt_date, grpc_unavailable, now_ms, party_model_id
from .core import AppModule, SubmitError


class ModelApp(AppModule):
    """Routes of ``fate_flow/apps/model_app.py``."""

    ROUTES = {
        "model/load": (("POST",), "model_load", "sync"),
        "model/bind": (("POST",), "model_bind", "sync"),
        "model/deploy": (("POST",), "model_deploy", "sync"),
        "model/query": (("POST",), "model_query", "sync"),
        "model/get/predict/dsl": (("POST",), "predict_dsl", "sync"),
        "model/get/predict/conf": (("POST",), "predict_conf", "sync"),
        "model/store": (("POST",), "model_store", "sync"),
        "model/restore": (("POST",), "model_restore", "sync"),
        "model/export": (("GET", "POST"), "model_export", "file"),
        "model/import": (("POST",), "model_import", "async"),
    }

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
