"""FATE Flow 2.x (``/v2``) client: the v2 SDK's groups over the shared transports, feeding the same typed
records (JobRecord, TaskRecord, TableInfo, SubmitResult, ...) and error tree as the v1 client.

``FateFlowV2Client(config)`` has ``.job``, ``.task``, ``.data``, ``.table``, ``.output``, ``.model``, ``.log``,
``.site``, ``.service``; ``AsyncFateFlowV2Client`` the calls a wait needs. Imports nothing from Airflow.
"""
from __future__ import annotations

from airflow_provider_fateflow.client.v2.client import AsyncFateFlowV2Client, FateFlowV2Client

__all__ = ["FateFlowV2Client", "AsyncFateFlowV2Client"]
