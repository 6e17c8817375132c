"""``FateFlowClient``: the synchronous client, one keep-alive session and the SDK's resource groups."""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client.component import ComponentGroup
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.data import DataGroup
from airflow_provider_fateflow.client.job import JobGroup
from airflow_provider_fateflow.client.model import ModelGroup
from airflow_provider_fateflow.client.queue import QueueGroup
from airflow_provider_fateflow.client.table import TableGroup
from airflow_provider_fateflow.client.task import TaskGroup
from airflow_provider_fateflow.client.transport import Transport
from airflow_provider_fateflow.client.version import VersionGroup

__all__ = ["FateFlowClient"]


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
        self.data = DataGroup(t, config, jobs=self.job)
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
