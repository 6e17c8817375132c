"""Pipeline models: records, predict-DSL generation, deploy, and the exported zip."""
from __future__ import annotations

import base64
import copy
import io
import json
import zipfile
from typing import Any

from .records import fmt_date, now_ms, party_model_id
from .store import Store


class DslGenerationError(Exception):
    """``job/dsl/generate`` failed (HTTP 210 on the wire)."""


def generate_predict_dsl(train_dsl: dict[str, Any], cpn_list: list[str]) -> dict[str, Any]:
    """Predict DSL from a train DSL and the components to keep (``DSLParserV2.deploy_component``)."""
    comps = train_dsl.get("components", {})
    out: dict[str, Any] = {}
    for name in cpn_list:
        if name not in comps:
            raise DslGenerationError(name)
    for name in comps:
        if name not in cpn_list:
            continue
        c = comps[name]
        if c.get("module") == "Reader" or not c.get("input"):
            out[name] = copy.deepcopy(c)
            continue
        new: dict[str, Any] = {"module": c["module"]}
        data = (c.get("input") or {}).get("data") or {}
        ndata: dict[str, Any] = {}
        for key, refs in data.items():
            if key == "validate_data":
                continue
            ndata["test_data" if key == "train_data" else key] = refs
        new["input"] = {"data": ndata}
        if "model" in (c.get("output") or {}):
            new["input"]["model"] = [f"pipeline.{name}.model"]
        if "data" in (c.get("output") or {}):
            new["output"] = {"data": list(c["output"]["data"])}
        out[name] = new
    return {"components": out}


def _strip(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def public(rec: dict[str, Any]) -> dict[str, Any]:
    """A model record without the sandbox's private keys."""
    return _strip(rec)


def build_model_records(store: Store, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One parent model record per party of a finished training job."""
    job_id = plan["job_id"]
    rows = store.job_rows(job_id)
    if not rows:
        return []
    conf = rows[0]["f_runtime_conf"]
    common = conf["job_parameters"]["common"]
    model_id, version = common["model_id"], common["model_version"]
    dsl = rows[0]["f_dsl"]
    deploy = [c for c, v in dsl.get("components", {}).items()
              if v.get("module") not in ("Evaluation",)]
    inference = generate_predict_dsl(dsl, deploy)
    ms = now_ms()
    out = []
    for row in rows:
        comps = plan.get("models", {}).get(f"{row['f_role']}#{row['f_party_id']}", {})
        out.append({
            "f_model_id": model_id, "f_model_version": version, "f_role": row["f_role"],
            "f_party_id": row["f_party_id"], "f_job_id": job_id, "f_initiator_role": row["f_initiator_role"],
            "f_initiator_party_id": row["f_initiator_party_id"], "f_roles": row["f_roles"],
            "f_runtime_conf": conf, "f_runtime_conf_on_party": row["f_runtime_conf_on_party"],
            "f_train_dsl": dsl, "f_train_runtime_conf": conf, "f_inference_dsl": inference,
            "f_parent": True, "f_parent_info": {}, "f_fate_version": "1.11.4", "f_size": 0,
            "f_description": "", "f_imported": 0, "f_job_status": "success", "f_archive_sha256": None,
            "f_archive_from_ip": None, "f_loaded_times": 0, "f_create_time": ms, "f_create_date": fmt_date(ms),
            "f_update_time": ms, "f_update_date": fmt_date(ms), "_components": comps,
        })
    return out


def deploy(store: Store, model_id: str, model_version: str, new_version: str, cpn_list: list[str] | None,
           predict_dsl: dict[str, Any] | None) -> dict[str, Any] | None:
    """Create a child model version at every party; returns the deploy ``data`` or None if not found."""
    parents = store.models(model_id, model_version)
    if not parents:
        return None
    data: dict[str, Any] = {"model_id": model_id, "model_version": new_version, "detail": {}}
    ms = now_ms()
    for p in parents:
        child = copy.deepcopy(p)
        if predict_dsl:
            inference = predict_dsl
        else:
            cpns = cpn_list or list(p["f_inference_dsl"].get("components", {}))
            inference = generate_predict_dsl(p["f_train_dsl"], cpns)
        keep = set(inference.get("components", {}))
        child.update({"f_model_version": new_version, "f_parent": False, "f_inference_dsl": inference,
                      "f_parent_info": {"parent_model_id": model_id, "parent_model_version": model_version},
                      "f_create_time": ms, "f_create_date": fmt_date(ms), "f_update_time": ms,
                      "f_update_date": fmt_date(ms),
                      "_components": {k: v for k, v in p.get("_components", {}).items() if k in keep}})
        store.put_model(child)
        role, party = p["f_role"], p["f_party_id"]
        data.setdefault(role, {})[party] = 0
        data["detail"].setdefault(role, {})[party] = {
            "retcode": 0, "retmsg": f"deploy model of role {role} {party} success"}
    return data


def export_zip(rec: dict[str, Any]) -> bytes:
    """The pipeline model of one party as FATE's export zip (member names as recorded)."""
    buf = io.BytesIO()
    comps: dict[str, Any] = rec.get("_components", {})
    model_id, version = rec["f_model_id"], rec["f_model_version"]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for d in ("define/", "run_parameters/", "variables/"):
            zf.writestr(d, b"")
        zf.writestr(".lock", b"")
        zf.writestr("import_model.json", json.dumps({
            "role": rec["f_role"], "party_id": int(rec["f_party_id"]), "model_id": model_id,
            "model_version": version, "file": "", "force_update": 0}, indent=4))
        for cpn in list(comps) + ["pipeline"]:
            zf.writestr(f"run_parameters/{cpn}/", b"")
        for cpn in comps:
            zf.writestr(f"run_parameters/{cpn}/run_parameters.json", json.dumps(rec["f_runtime_conf"]))
        zf.writestr("run_parameters/pipeline/run_parameters.json", "{}")
        define = "component_define:\n" + "".join(
            f"  {c}:\n    module_name: {v['module']}\n" for c, v in comps.items())
        define += "model_proto:\n" + "".join(
            f"  {c}:\n    model:\n      {v['name']}Meta: {v['name']}Meta\n      {v['name']}Param: {v['name']}Param\n"
            for c, v in comps.items())
        zf.writestr("define/define_meta.yaml", define)
        zf.writestr("variables/data/", b"")
        for cpn in list(comps) + ["pipeline"]:
            zf.writestr(f"variables/data/{cpn}/", b"")
        for cpn, v in comps.items():
            zf.writestr(f"variables/data/{cpn}/model/", b"")
            for kind in ("Meta", "Param"):
                payload = json.dumps(v["meta" if kind == "Meta" else "param"])
                zf.writestr(f"variables/data/{cpn}/model/{v['name']}{kind}.json", payload)
                zf.writestr(f"variables/data/{cpn}/model/{v['name']}{kind}", payload.encode())
        zf.writestr("variables/data/pipeline/pipeline/", b"")
        pipeline = {
            "inferenceDsl": base64.b64encode(json.dumps(rec["f_inference_dsl"]).encode()).decode(),
            "trainDsl": base64.b64encode(json.dumps(rec["f_train_dsl"]).encode()).decode(),
            "trainRuntimeConf": base64.b64encode(json.dumps(rec["f_train_runtime_conf"]).encode()).decode(),
            "roles": base64.b64encode(json.dumps(rec["f_roles"]).encode()).decode(),
            "modelId": model_id, "modelVersion": version, "parent": rec["f_parent"],
            "fateVersion": rec.get("f_fate_version", "1.11.4"),
            "sandboxRecord": _strip(rec) | {"_components": comps},
        }
        zf.writestr("variables/data/pipeline/pipeline/Pipeline.json", json.dumps(pipeline))
        zf.writestr("variables/data/pipeline/pipeline/Pipeline", json.dumps(pipeline).encode())
    return buf.getvalue()


def read_zip(data: bytes) -> dict[str, Any]:
    """The model record stored in an exported zip (raises on a zip that is not one of ours)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pipeline = json.loads(zf.read("variables/data/pipeline/pipeline/Pipeline.json"))
    rec = pipeline.get("sandboxRecord")
    if rec is None:
        roles = json.loads(base64.b64decode(pipeline["roles"]))
        rec = {"f_roles": roles, "f_model_id": pipeline.get("modelId"), "f_model_version": pipeline.get("modelVersion"),
               "f_parent": pipeline.get("parent", False)}
    return rec


def zip_name(role: str, party_id: Any, model_id: str, version: str) -> str:
    """``<role>#<party>#<model_id>_<version>.zip``."""
    return f"{party_model_id(role, party_id, model_id)}_{version}.zip"
