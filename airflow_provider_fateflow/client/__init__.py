"""FATE Flow (v1 REST API) client. Imports nothing from Airflow.

``FateFlowClient(config)`` exposes the SDK's resource groups: ``.job``, ``.component``, ``.data``,
``.task``, ``.model``, ``.table``, ``.queue``, ``.version``; ``AsyncFateFlowClient`` (for triggers) has
the calls a wait needs. Importing this package loads only the configuration, the error tree and the
status words: DAG files are parsed every few seconds, so ``requests``, ``aiohttp``, the resource groups
and the result types load on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from airflow_provider_fateflow.client.config import ClientConfig, RetryPolicy
from airflow_provider_fateflow.client.errors import (
    FateFlowAmbiguousSubmitError,
    FateFlowApiError,
    FateFlowArchiveError,
    FateFlowAuthError,
    FateFlowConnectionError,
    FateFlowError,
    FateFlowInputError,
    FateFlowJobCanceledError,
    FateFlowJobError,
    FateFlowJobFailedError,
    FateFlowJobTimeoutError,
    FateFlowNotFoundError,
    FateFlowResponseError,
    FateFlowTimeoutError,
)
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus

#: Names loaded on first use, and the module that defines each.
_LAZY = {
    "FateFlowClient": "sync",
    "Transport": "transport",
    "AsyncFateFlowClient": "aio",
    "AsyncTransport": "aio",
    **{
        name: "results"
        for name in (
            "DeployResult", "DownloadResult", "JobConfigFiles", "JobList", "JobRecord", "LocalJobResult",
            "ModelImportResult", "ModelInfo", "PartyResults", "SubmitResult", "TableInfo", "TaskList",
            "TaskRecord", "UploadResult", "board_url",
        )
    },
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FateFlowClient", "AsyncFateFlowClient", "ClientConfig", "RetryPolicy", "Transport", "AsyncTransport",
    "JobStatus", "TaskStatus",
    "FateFlowError", "FateFlowConnectionError", "FateFlowTimeoutError", "FateFlowApiError", "FateFlowAuthError",
    "FateFlowNotFoundError", "FateFlowResponseError", "FateFlowInputError", "FateFlowArchiveError",
    "FateFlowJobError", "FateFlowJobFailedError", "FateFlowJobCanceledError", "FateFlowJobTimeoutError",
    "FateFlowAmbiguousSubmitError",
    "JobRecord", "JobList", "TaskRecord", "TaskList", "SubmitResult", "UploadResult", "LocalJobResult",
    "DownloadResult", "TableInfo", "DeployResult", "PartyResults", "ModelInfo", "ModelImportResult",
    "JobConfigFiles", "board_url",
]
