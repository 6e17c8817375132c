"""FATE Flow operators (imported lazily: ``from airflow_provider_fateflow.operators import SubmitJobOperator``)."""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "job": ("SubmitJobOperator", "StopJobOperator", "RerunJobOperator", "CleanJobOperator", "QueueCleanOperator",
            "GeneratePredictDslOperator", "JobLogOperator"),
    "data": ("UploadDataOperator", "DownloadDataOperator", "TableInfoOperator", "TableDeleteOperator",
             "fateflow_table_asset", "table_asset_uri"),
    "component": ("ComponentMetricsOperator", "ComponentOutputDataOperator", "ComponentOutputModelOperator",
                  "ComponentParametersOperator", "MetricThresholdError"),
    "model": ("ModelDeployOperator", "ModelLoadOperator", "ModelBindOperator", "ModelStoreOperator",
              "ModelRestoreOperator", "ModelExportOperator", "ModelImportOperator"),
}
_INDEX = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_INDEX)


def __getattr__(name: str) -> Any:
    module = _INDEX.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
