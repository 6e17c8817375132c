"""FATE Flow (v1 REST API) client. Imports nothing from Airflow.

``FateFlowClient(config)`` exposes the SDK's resource groups: ``.job``, ``.component``, ``.data``,
``.task``, ``.model``, ``.table``, ``.queue``, ``.version``. ``AsyncFateFlowClient`` (for triggers) is
exported lazily from ``airflow_provider_fateflow.client.aio``, so importing the client does not load aiohttp.
"""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client.component import ComponentGroup
from airflow_provider_fateflow.client.config import ClientConfig, RetryPolicy
from airflow_provider_fateflow.client.data import DataGroup
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
from airflow_provider_fateflow.client.job import JobGroup
from airflow_provider_fateflow.client.model import ModelGroup
from airflow_provider_fateflow.client.queue import QueueGroup
from airflow_provider_fateflow.client.results import (
    DeployResult,
    DownloadResult,
    JobConfigFiles,
    JobList,
    JobRecord,
    LocalJobResult,
    ModelImportResult,
    ModelInfo,
    PartyResults,
    SubmitResult,
    TableInfo,
    TaskList,
    TaskRecord,
    UploadResult,
    board_url,
)
from airflow_provider_fateflow.client.status import JobStatus, TaskStatus
from airflow_provider_fateflow.client.table import TableGroup
from airflow_provider_fateflow.client.task import TaskGroup
from airflow_provider_fateflow.client.transport import Transport
from airflow_provider_fateflow.client.version import VersionGroup


class FateFlowClient:
    """Synchronous FATE Flow client: one keep-alive session, the SDK's resource groups.

    :param config: server address, keys, timeouts, retry policy.
    :param transport: a ready transport (tests); default ``Transport(config)``.
    """

    def __init__(self, config: ClientConfig, *, transport: Transport | None = None) -> None:
        self.config = config
        self.transport = transport or Transport(config)
        t = self.transport
        self.job = JobGroup(t, config)
        self.component = ComponentGroup(t, config)
        self.data = DataGroup(t, config)
        self.task = TaskGroup(t, config)
        self.model = ModelGroup(t, config)
        self.table = TableGroup(t, config)
        self.queue = QueueGroup(t, config)
        self.version = VersionGroup(t, config)

    def close(self) -> None:
        """Close the HTTP session."""
        self.transport.close()

    def __enter__(self) -> FateFlowClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FateFlowClient({self.config.base_url!r})"


def __getattr__(name: str) -> Any:
    if name in ("AsyncFateFlowClient", "AsyncTransport"):
        from airflow_provider_fateflow.client import aio

        return getattr(aio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FateFlowClient", "AsyncFateFlowClient", "ClientConfig", "RetryPolicy", "Transport", "JobStatus", "TaskStatus",
    "FateFlowError", "FateFlowConnectionError", "FateFlowTimeoutError", "FateFlowApiError", "FateFlowAuthError",
    "FateFlowNotFoundError", "FateFlowResponseError", "FateFlowInputError", "FateFlowArchiveError",
    "FateFlowJobError", "FateFlowJobFailedError", "FateFlowJobCanceledError", "FateFlowJobTimeoutError",
    "FateFlowAmbiguousSubmitError",
    "JobRecord", "JobList", "TaskRecord", "TaskList", "SubmitResult", "UploadResult", "LocalJobResult",
    "DownloadResult", "TableInfo", "DeployResult", "PartyResults", "ModelInfo", "ModelImportResult",
    "JobConfigFiles", "board_url",
]
