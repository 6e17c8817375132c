"""``FateFlowV2Client`` and ``AsyncFateFlowV2Client``: FATE Flow 2.x over the shared transports."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.results import JobRecord, TableInfo, TaskRecord
from airflow_provider_fateflow.client.transport import Transport
from airflow_provider_fateflow.client.v2.data import DataGroupV2
from airflow_provider_fateflow.client.v2.job import JobGroupV2, query_call, stop_call
from airflow_provider_fateflow.client.v2.log import LogGroupV2
from airflow_provider_fateflow.client.v2.model import ModelGroupV2
from airflow_provider_fateflow.client.v2.output import OutputGroupV2
from airflow_provider_fateflow.client.v2.site import ServiceGroupV2, SiteGroupV2
from airflow_provider_fateflow.client.v2.table import TableGroupV2, table_query_call
from airflow_provider_fateflow.client.v2.task import TaskGroupV2, task_query_call

__all__ = ["FateFlowV2Client", "AsyncFateFlowV2Client", "v2_config"]


def v2_config(config: ClientConfig) -> ClientConfig:
    """``config`` with the ``/v2`` API root (a config built for auto-detection may say ``auto``)."""
    return config if config.api_version == "v2" else replace(config, api_version="v2")


class FateFlowV2Client:
    """Synchronous FATE Flow 2.x client with the v2 SDK's groups: ``job``, ``task``, ``data``, ``table``,
    ``output``, ``model``, ``log``, ``site``, ``service``.

    Requests are signed (appId, Timestamp, Nonce, Signature) when the config has ``app_key`` (the app id) and
    ``secret_key`` (the app token).

    :param config: server address, keys, timeouts, retry policy (its ``api_version`` is taken as ``v2``).
    :param transport: a ready transport (tests); default ``Transport(config)``.
    """

    dialect = "v2"

    def __init__(self, config: ClientConfig, *, transport: Transport | None = None) -> None:
        self.config = config = v2_config(config)
        self.transport = t = transport or Transport(config)
        self.job = JobGroupV2(t, config)
        self.task = TaskGroupV2(t, config)
        self.data = DataGroupV2(t, config)
        self.table = TableGroupV2(t, config)
        self.output = OutputGroupV2(t, config)
        self.model = ModelGroupV2(t, config)
        self.log = LogGroupV2(t, config)
        self.site = SiteGroupV2(t, config)
        self.service = ServiceGroupV2(t, config)

    def close(self) -> None:
        """Close the HTTP session."""
        self.transport.close()

    def __enter__(self) -> FateFlowV2Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FateFlowV2Client({self.config.base_url!r})"


class _AsyncJobV2:
    __slots__ = ("_t",)

    def __init__(self, transport: Any) -> None:
        self._t = transport

    async def query(self, job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
                    status: str | None = None) -> list[JobRecord]:
        """Same as the sync ``job.query``."""
        return await self._t.arun(query_call(job_id, role, party_id, status))

    async def stop(self, job_id: str) -> str:
        """Same as the sync ``job.stop`` (not retried once sent)."""
        return await self._t.arun(stop_call(job_id))


class _AsyncTaskV2:
    __slots__ = ("_t",)

    def __init__(self, transport: Any) -> None:
        self._t = transport

    async def query(self, job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
                    task_name: str | None = None, status: str | None = None) -> list[TaskRecord]:
        """Same as the sync ``task.query``."""
        return await self._t.arun(task_query_call(job_id, role, party_id, task_name, status))


class _AsyncTableV2:
    __slots__ = ("_t",)

    def __init__(self, transport: Any) -> None:
        self._t = transport

    async def query(self, namespace: str, name: str) -> TableInfo:
        """Same as the sync ``table.query``."""
        return await self._t.arun(table_query_call(namespace, name))


class AsyncFateFlowV2Client:
    """Async FATE Flow 2.x client for triggers (aiohttp): ``job.query``, ``job.stop``, ``task.query``,
    ``table.query``; ``async with`` closes it.

    :param config: the client configuration (its ``api_version`` is taken as ``v2``).
    :param transport: a ready async transport (tests).
    """

    dialect = "v2"

    def __init__(self, config: ClientConfig, *, transport: Any = None) -> None:
        from airflow_provider_fateflow.client.aio import AsyncTransport

        self.config = config = v2_config(config)
        self.transport = transport or AsyncTransport(config)
        self.job = _AsyncJobV2(self.transport)
        self.task = _AsyncTaskV2(self.transport)
        self.table = _AsyncTableV2(self.transport)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncFateFlowV2Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
