"""Default component parameters, as FATE 1.11's param classes fill them in for every task.

A real FATE Flow stores the whole parameter object of a component in the task's
``ComponentParam`` (``component/parameters``, ``task/query``): the user's values over the param
class's defaults. The key sets below are those of the recorded FATE Flow 1.11.2
(``shared/fateflow-v1/recordings``: ``component.parameters__success``, ``task.query__*``); the values
of keys the recorded job set itself are FATE's defaults (``federatedml/param/*_param.py``).
"""
from __future__ import annotations

import copy
from typing import Any

_CV = {"history_value_type": "score", "mode": "hetero", "n_splits": 5, "need_cv": False,
       "output_fold_history": True, "random_seed": 1, "role": "guest", "shuffle": True}
_CALLBACK = {"callbacks": [], "early_stopping_rounds": None, "metrics": [], "save_freq": 1,
             "use_first_metric_only": False, "validation_freqs": None}

_LR: dict[str, Any] = {
    "alpha": 1.0, "batch_size": -1, "batch_strategy": "full", "callback_param": _CALLBACK, "cv_param": _CV,
    "decay": 1, "decay_sqrt": True, "early_stop": "diff", "early_stopping_rounds": None,
    "encrypt_param": {"key_length": 1024, "method": "Paillier"},
    "encrypted_mode_calculator_param": {"mode": "strict", "re_encrypted_rate": 1},
    "floating_point_precision": 23,
    "init_param": {"fit_intercept": True, "init_const": 1, "init_method": "zeros", "random_seed": None},
    "learning_rate": 0.01, "masked_rate": 5, "max_iter": 100, "metrics": ["auc", "ks"], "multi_class": "ovr",
    "optimizer": "rmsprop", "penalty": "L2", "predict_param": {"threshold": 0.5}, "shuffle": True,
    "sqn_param": {"memory_M": 5, "random_seed": None, "sample_size": 5000, "update_interval_L": 3},
    "stepwise_param": {"direction": "both", "max_step": 10, "mode": "hetero", "need_stepwise": False,
                       "nvmax": None, "nvmin": 2, "role": "guest", "score_name": "AIC"},
    "tol": 0.0001, "use_first_metric_only": False, "validation_freqs": None,
}

_DATA_TRANSFORM: dict[str, Any] = {
    "data_type": "float64", "default_value": 0, "delimitor": ",", "exclusive_data_type": None,
    "input_format": "dense", "label_name": "y", "label_type": "int", "match_id_index": 0, "match_id_name": "",
    "missing_fill": False, "missing_fill_method": None, "missing_impute": None, "need_run": True,
    "outlier_impute": None, "outlier_replace": False, "outlier_replace_method": None, "outlier_replace_value": 0,
    "output_format": "dense", "tag_value_delimitor": ":", "tag_with_value": False, "with_label": False,
    "with_match_id": False,
}

_BINARY = ["auc", "ks", "lift", "gain", "accuracy", "precision", "recall", "roc", "confusion_mat", "psi",
           "f1_score", "quantile_pr"]
_METRICS = {"binary": _BINARY,
            "clustering": ["jaccard_similarity_score", "fowlkes_mallows_score", "adjusted_rand_score",
                           "davies_bouldin_index", "distance_measure", "contingency_matrix"],
            "multi": ["accuracy", "precision", "recall"],
            "regression": ["explained_variance", "mean_absolute_error", "mean_squared_error",
                           "median_absolute_error", "r2_score", "root_mean_squared_error"]}
_EVALUATION: dict[str, Any] = {
    "allowed_metrics": _METRICS, "default_metrics": _METRICS, "eval_type": "binary", "metrics": None,
    "need_run": True, "pos_label": 1, "run_clustering_arbiter_metric": False, "unfold_multi_result": False,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "HeteroLR": _LR, "HomoLR": dict(_LR, cv_param=dict(_CV, mode="homo")),
    "DataTransform": _DATA_TRANSFORM, "DataIO": _DATA_TRANSFORM, "Evaluation": _EVALUATION,
}
#: the keys of a param whose ``role`` member is the task's role
_ROLE_MEMBERS = ("cv_param", "stepwise_param")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


def user_fed(params: dict[str, Any], prefix: str = "") -> list[str]:
    """``_user_feeded_params``: every key the user gave, nested ones dotted (``cv_param.need_cv``)."""
    out: list[str] = []
    for key, val in params.items():
        out.append(prefix + key)
        if isinstance(val, dict) and key not in ("table", "schema", "meta"):
            out.extend(user_fed(val, f"{prefix}{key}."))
    return out


def with_defaults(module: str, params: dict[str, Any], role: str) -> dict[str, Any]:
    """A component's parameters at one party, completed with the defaults of its param class."""
    base = DEFAULTS.get(module)
    if base is None:
        return copy.deepcopy(params)
    base = copy.deepcopy(base)
    for member in _ROLE_MEMBERS:
        if isinstance(base.get(member), dict) and "role" in base[member]:
            base[member]["role"] = role
    return _merge(base, params)
