"""Record shapes of FATE Flow 1.11.2: job, task, model and table records, ids, defaults and error texts.

Everything here is derived from ``fateflow-v1/recordings``: key sets, value types and the
texts of the errors the real server returns.
"""
from __future__ import annotations

import copy
import datetime as _dt
import threading
import time
import uuid
from typing import Any

from .params import user_fed, with_defaults

FLOW_ROOT = "/data/projects/fate/fateflow"
ROLE_ORDER = ("guest", "host", "arbiter", "local")

JOB_STATUSES = ("ready", "waiting", "running", "success", "failed", "canceled", "timeout")
END_STATUSES = {"success", "pass", "failed", "canceled", "timeout"}
LIST_STATUS_FILTER = {"success", "running", "waiting", "failed", "canceled"}

#: FATE 1.11 component modules the sandbox accepts (anything else: "provider does not exist").
KNOWN_MODULES = {
    "Reader", "DataTransform", "DataIO", "Intersection", "HeteroLR", "HomoLR", "HeteroSSHELR",
    "HeteroLinR", "HeteroPoisson", "HeteroSecureBoost", "HomoSecureBoost", "HeteroFastSecureBoost",
    "HeteroNN", "HomoNN", "Evaluation", "SecureAddExample", "FeatureScale", "HeteroFeatureBinning",
    "HeteroFeatureSelection", "HeteroPearson", "Union", "FederatedSample", "DataSplit",
    "HeteroDataSplit", "HomoDataSplit", "OneHotEncoder", "Sampler", "ColumnExpand", "LabelTransform",
    "DataStatistics", "PSI", "Upload", "Download", "ModelStore", "ModelRestore", "ModelLoader",
    "CacheLoader", "Writer", "ApiReader", "HeteroKmeans", "HeteroSSHELinR", "SecureInformationRetrieval",
    "PositiveUnlabeled", "HeteroLinearRegression", "FeatureImputation",
}
#: modules that produce a model (and therefore have one in the pipeline model).
MODEL_MODULES = {
    "DataTransform", "DataIO", "HeteroLR", "HomoLR", "HeteroSSHELR", "HeteroLinR", "HeteroPoisson",
    "HeteroSecureBoost", "HomoSecureBoost", "HeteroFastSecureBoost", "HeteroNN", "HomoNN",
    "FeatureScale", "HeteroFeatureBinning", "HeteroFeatureSelection", "OneHotEncoder",
    "LabelTransform", "HeteroKmeans", "HeteroSSHELinR", "FeatureImputation", "DataStatistics",
}
#: modules that run on the arbiter (all other components report ``pass`` there).
ARBITER_MODULES = {"HeteroLR", "HomoLR", "HeteroLinR", "HeteroPoisson", "HomoSecureBoost", "HeteroNN",
                   "HomoNN", "HeteroKmeans"}
#: learners whose output data are predictions.
PREDICT_MODULES = MODEL_MODULES - {"DataTransform", "DataIO", "FeatureScale", "HeteroFeatureBinning",
                                   "HeteroFeatureSelection", "OneHotEncoder", "LabelTransform",
                                   "FeatureImputation", "DataStatistics"}

PROVIDER_INFO: dict[str, Any] = {
    "class_path": {
        "anonymous_generator": "util.anonymous_generator_util.Anonymous",
        "data_format": "util.data_format_preprocess.DataFormatPreProcess",
        "extract_woe_array_dict": "protobuf.model_migrate.binning_model_migrate.extract_woe_array_dict",
        "feature_instance": "feature.instance.Instance",
        "feature_vector": "feature.sparse_vector.SparseVector",
        "hetero_model_merge": "protobuf.model_merge.merge_hetero_models.hetero_model_merge",
        "homo_model_convert": "protobuf.homo_model_convert.homo_model_convert",
        "interface": "components.components.Components",
        "merge_woe_array_dict": "protobuf.model_migrate.binning_model_migrate.merge_woe_array_dict",
        "model": "protobuf.generated",
        "model_migrate": "protobuf.model_migrate.model_migrate",
    },
    "env": {"PYTHONPATH": "/data/projects/fate/python", "PYTHON_ENV": ""},
    "name": "fate",
    "path": "/data/projects/fate/python/federatedml",
    "python_env": "",
    "version": "1.11.4",
}

GRPC_UNAVAILABLE = (
    "<_InactiveRpcError of RPC that terminated with:\n\tstatus = StatusCode.UNAVAILABLE\n\tdetails = "
    "\"failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:8000: Failed to connect to "
    "remote host: Connection refused\"\n\tdebug_error_string = \"UNKNOWN:Error received from peer  "
    "{grpc_message:\"failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:8000: Failed to "
    "connect to remote host: Connection refused\", grpc_status:14, created_time:\"{created}\"}}\"\n>"
)
NOT_DEPLOYED_LOAD = ("Only deployed models could be used to execute process of loading. "
                     "Please deploy model before loading.")
NOT_DEPLOYED_BIND = ("Only deployed models could be used to execute process of binding. "
                     "Please deploy model before binding.")
MODEL_STORE_ERROR = (
    "Traceback (most recent call last):\n  File \"xxx/fate_flow/worker/task_executor.py\", line 210, in _run_\n"
    "    cpn_output = run_object.run(cpn_input)\n                 ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    "  File \"xxx/fate_flow/components/_base.py\", line 156, in run\n    self._run(cpn_input=cpn_input)\n"
    "  File \"xxx/fate_flow/components/model_operation.py\", line 73, in _run\n"
    "    model_storage.store(**kwargs)\n"
    "ValueError: Region is required: enable_model_store is false and no model_store_address is configured\n"
)


def grpc_unavailable() -> str:
    """The gRPC error text FATE Flow returns when no FATE-Serving answers."""
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000+00:00")
    return GRPC_UNAVAILABLE.replace("{created}", created).replace("}}", "}")


def submit_traceback(line: int, source: str, exc_line: str, inner: list[str] | None = None) -> str:
    """Format a retmsg like the Python 3.11 traceback ``job/submit`` returns."""
    parts = ["Traceback (most recent call last):\n",
             f"  File \"{FLOW_ROOT}/python/fate_flow/scheduler/dag_scheduler.py\", line {line}, in submit\n",
             f"    {source}\n"]
    for item in inner or []:
        parts.append(item)
    parts.append(exc_line + "\n")
    return "".join(parts)


def now_ms() -> int:
    """Current time in epoch milliseconds."""
    return int(time.time() * 1000)


def fmt_date(ms: int | None) -> str | None:
    """Format epoch ms as FATE's ``%Y-%m-%d %H:%M:%S`` (local time), or None."""
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


class JobIdGenerator:
    """``%Y%m%d%H%M%S%f`` plus a one-digit per-process counter: 21 digits, unique in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = 0
        self._last = ""

    def next_id(self) -> str:
        """Return a fresh job id."""
        with self._lock:
            while True:
                jid = _dt.datetime.now().strftime("%Y%m%d%H%M%S%f") + str(self._counter % 10)
                self._counter += 1
                if jid > self._last:
                    self._last = jid
                    return jid
                time.sleep(0.000001)


def worker_id() -> str:
    """A uuid1 hex like FATE's worker ids."""
    return uuid.uuid1().hex


def sorted_roles(roles: dict[str, list[Any]]) -> dict[str, list[int]]:
    """Role dict with int party ids and sorted role keys, as in ``f_roles``."""
    return {r: [int(p) for p in roles[r]] for r in sorted(roles)}


def gen_model_id(roles: dict[str, list[Any]]) -> str:
    """``<role>-<party>#...#model`` with roles sorted, as ``model_utils.gen_model_id``."""
    parts = []
    for r in sorted(roles):
        parts.append(f"{r}-" + "_".join(str(p) for p in roles[r]))
    return "#".join(parts) + "#model"


def party_model_id(role: str, party_id: Any, model_id: str) -> str:
    """``<role>#<party>#<model_id>``."""
    return f"{role}#{party_id}#{model_id}"


def fill_job_parameters(conf: dict[str, Any], job_id: str, model_id: str) -> dict[str, Any]:
    """Return a copy of ``conf`` with ``job_parameters.common`` defaults filled in as the server does.

    Unknown top-level keys (for example the provider's ``airflow`` marker) are preserved.
    """
    conf = copy.deepcopy(conf)
    jp = conf.setdefault("job_parameters", {})
    common = jp.setdefault("common", {})
    cores = int(common.get("task_cores", 4) or 4)
    roles = sorted_roles(conf.get("role", {}))
    job_type = common.get("job_type", "train")
    common.setdefault("adaptation_parameters", {
        "if_initiator_baseline": True, "request_task_cores": cores, "task_cores_per_node": cores,
        "task_memory_per_node": 0, "task_nodes": 1})
    defaults = {
        "auto_retries": 0, "auto_retry_delay": 1, "computing_engine": "STANDALONE",
        "computing_partitions": cores, "eggroll_run": {}, "engines_address": {}, "federated_mode": "SINGLE",
        "federated_status_collect_type": "PUSH", "inheritance_info": {}, "job_type": job_type,
        "pulsar_run": {}, "rabbitmq_run": {}, "role_parameters": {}, "roles": roles, "spark_run": {},
        "task_conf": {}, "task_parallelism": 1,
    }
    for k, v in defaults.items():
        common.setdefault(k, v)
    if job_type != "predict":
        common["model_id"] = model_id
        common["model_version"] = job_id
    conf["dsl_version"] = 2 if str(conf.get("dsl_version", 2)) == "2" else conf.get("dsl_version")
    if "initiator" in conf:
        conf["initiator"] = {"party_id": int(conf["initiator"]["party_id"]), "role": conf["initiator"]["role"]}
    conf["role"] = roles
    return conf


def on_party_conf(runtime_conf: dict[str, Any]) -> dict[str, Any]:
    """The ``f_runtime_conf_on_party`` shape: job_parameters flattened, engines filled in."""
    conf = copy.deepcopy(runtime_conf)
    common = copy.deepcopy(conf.get("job_parameters", {}).get("common", {}))
    cores = common.get("adaptation_parameters", {}).get("request_task_cores", 4)
    common["adaptation_parameters"] = dict(common.get("adaptation_parameters", {}), if_initiator_baseline=False)
    common["eggroll_run"] = {"eggroll.session.processors.per.node": cores}
    common["engines_address"] = {k: {"cores_per_node": 20, "nodes": 1}
                                 for k in ("computing", "federation", "storage")}
    common["federation_engine"] = "STANDALONE"
    common["storage_engine"] = "STANDALONE"
    conf["job_parameters"] = dict(sorted(common.items()))
    return conf


def new_job_row(job_id: str, role: str, party_id: Any, runtime_conf: dict[str, Any], dsl: dict[str, Any],
                train_conf: dict[str, Any], description: str = "", now: int | None = None) -> dict[str, Any]:
    """A job record (``t_job`` row) in state waiting."""
    now = now or now_ms()
    init = runtime_conf["initiator"]
    roles = runtime_conf["role"]
    return {
        "f_apply_resource_time": None, "f_cancel_signal": False, "f_cancel_time": None, "f_cores": 0,
        "f_create_date": fmt_date(now), "f_create_time": now, "f_description": description,
        "f_dsl": dsl, "f_elapsed": None, "f_end_date": None, "f_end_scheduling_updates": 0,
        "f_end_time": None, "f_engine_name": None, "f_engine_type": None, "f_inheritance_info": {},
        "f_inheritance_status": "pass", "f_initiator_party_id": str(init["party_id"]),
        "f_initiator_role": init["role"],
        "f_is_initiator": role == init["role"] and str(party_id) == str(init["party_id"]),
        "f_job_id": job_id, "f_memory": 0, "f_name": "", "f_party_id": str(party_id), "f_progress": 0,
        "f_ready_signal": False, "f_ready_time": None, "f_remaining_cores": 0, "f_remaining_memory": 0,
        "f_rerun_signal": False, "f_resource_in_use": False, "f_return_resource_time": None,
        "f_role": role, "f_roles": roles, "f_runtime_conf": runtime_conf,
        "f_runtime_conf_on_party": on_party_conf(runtime_conf), "f_start_date": None, "f_start_time": None,
        "f_status": "waiting", "f_status_code": None, "f_tag": "", "f_train_runtime_conf": train_conf,
        "f_update_date": fmt_date(now), "f_update_time": now,
        "f_user": {r: {str(p): "" for p in roles[r]} for r in roles}, "f_user_id": "",
    }


def component_param(module: str, cpn: str, runtime_conf: dict[str, Any], role: str, idx: int) -> dict[str, Any]:
    """Merged parameters of one component at one party (common overridden by role)."""
    cp = runtime_conf.get("component_parameters", {})
    params = copy.deepcopy(cp.get("common", {}).get(cpn, {}))
    role_params = cp.get("role", {}).get(role, {})
    for key, val in role_params.items():
        idxs = [i.strip() for i in str(key).split("|")]
        if key == "all" or str(idx) in idxs:
            params.update(copy.deepcopy(val.get(cpn, {})))
    return params


def task_parameters(module: str, cpn: str, runtime_conf: dict[str, Any], role: str, party_id: Any,
                    idx: int) -> dict[str, Any]:
    """The ``f_component_parameters`` of a task."""
    params = component_param(module, cpn, runtime_conf, role, idx)
    cparam: dict[str, Any] = {"_name": f"{module}#{cpn}"}
    if module not in ("Reader", "Upload", "Download", "ModelStore", "ModelRestore"):
        cparam.update({"_feeded_deprecated_params": [], "_is_raw_conf": False,
                       "_user_feeded_params": user_fed(params)})
    cparam.update(with_defaults(module, params, role))
    code_path = module
    if module in ARBITER_MODULES or module in ("SecureAddExample", "HeteroSecureBoost", "Intersection"):
        code_path = f"{module.replace('Example', '')}{role.capitalize()}"
    return {
        "CodePath": code_path, "ComponentParam": cparam, "ComponentParameterSource": cpn,
        "dsl_version": 2, "initiator": runtime_conf["initiator"],
        "job_parameters": {"common": runtime_conf.get("job_parameters", {}).get("common", {})},
        "local": {"party_id": int(party_id), "role": role}, "module": module, "role": runtime_conf["role"],
    }


def new_task_row(job_id: str, cpn: str, module: str, role: str, party_id: Any, runtime_conf: dict[str, Any],
                 idx: int, now: int | None = None) -> dict[str, Any]:
    """A task record (``t_task`` row) in state waiting."""
    now = now or now_ms()
    init = runtime_conf["initiator"]
    return {
        "f_auto_retries": 0, "f_auto_retry_delay": 1, "f_cmd": {}, "f_component_module": module,
        "f_component_name": cpn,
        "f_component_parameters": task_parameters(module, cpn, runtime_conf, role, party_id, idx),
        "f_create_date": fmt_date(now), "f_create_time": now, "f_deepspeed_id": None, "f_elapsed": None,
        "f_end_date": None, "f_end_time": None, "f_engine_conf": {}, "f_error_report": "",
        "f_federated_mode": "SINGLE", "f_federated_status_collect_type": "PUSH",
        "f_initiator_party_id": str(init["party_id"]), "f_initiator_role": init["role"],
        "f_is_deepspeed": False, "f_job_id": job_id, "f_kill_status": False, "f_party_id": str(party_id),
        "f_party_status": "waiting", "f_provider_info": PROVIDER_INFO, "f_role": role, "f_run_ip": None,
        "f_run_on_this_party": True, "f_run_pid": None, "f_run_port": None, "f_start_date": None,
        "f_start_time": None, "f_status": "waiting", "f_status_code": None, "f_task_id": f"{job_id}_{cpn}",
        "f_task_version": 0, "f_update_date": fmt_date(now), "f_update_time": now, "f_worker_id": None,
    }


def task_cmd(task: dict[str, Any], port: int) -> list[Any]:
    """The ``f_cmd`` list FATE records for a started task."""
    jid, cpn, role, party = task["f_job_id"], task["f_component_name"], task["f_role"], task["f_party_id"]
    tid, wid, ver = task["f_task_id"], task["f_worker_id"], task["f_task_version"]
    base = f"{FLOW_ROOT}/jobs/{jid}/{role}/{party}/{cpn}/{tid}/{ver}/task_executor/{wid}"
    return ["/data/projects/python/venv/bin/python", f"{FLOW_ROOT}/python/fate_flow/worker/task_executor.py",
            "--job_id", jid, "--component_name", cpn, "--task_id", tid, "--task_version", ver,
            "--role", role, "--party_id", party, "--config", f"{base}/config.json",
            "--result", f"{base}/result.json", "--log_dir", f"{FLOW_ROOT}/logs/{jid}/{role}/{party}/{cpn}",
            "--parent_log_dir", f"{FLOW_ROOT}/logs/{jid}/{role}/{party}", "--worker_id", wid,
            "--run_ip", "127.0.0.1", "--run_port", str(port), "--job_server", f"127.0.0.1:{port}",
            "--session_id", f"{tid}_{ver}_{role}_{party}", "--federation_session_id", f"{tid}_{ver}"]


def human(record: dict[str, Any]) -> dict[str, Any]:
    """``to_human_model_dict``: drop the ``f_`` prefix."""
    return {k[2:] if k.startswith("f_") else k: v for k, v in record.items()}


def submit_result(job_id: str, role: str, party_id: Any, model_id: str, model_version: str, board_url: str,
                  root: str) -> dict[str, Any]:
    """``data`` of a successful job submit (also used by upload, download, store, restore)."""
    return {
        "board_url": f"{board_url.rstrip('/')}/index.html#/dashboard?job_id={job_id}&role={role}&party_id={party_id}",
        "code": 0,
        "dsl_path": f"{root}/jobs/{job_id}/job_dsl.json",
        "job_id": job_id,
        "logs_directory": f"{root}/logs/{job_id}",
        "message": "success",
        "model_info": {"model_id": model_id, "model_version": model_version},
        "pipeline_dsl_path": f"{root}/jobs/{job_id}/pipeline_dsl.json",
        "runtime_conf_on_party_path": f"{root}/jobs/{job_id}/{role}/{party_id}/job_runtime_on_party_conf.json",
        "runtime_conf_path": f"{root}/jobs/{job_id}/job_runtime_conf.json",
        "train_runtime_conf_path": f"{root}/jobs/{job_id}/train_runtime_conf.json",
    }
