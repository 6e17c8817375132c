"""A local FATE Flow v1 server (the sandbox) for tests, demos and users' own DAG tests.

Importing this package is cheap: it imports neither Airflow nor FastAPI/uvicorn; the server
modules are loaded only when a sandbox starts.

>>> from airflow_provider_fateflow.testing import FateFlowSandbox
>>> with FateFlowSandbox() as sb:               # doctest: +SKIP
...     requests.post(f"{sb.base_url}/v1/version/get").json()
"""
from __future__ import annotations

from .config import SandboxConfig
from .sandbox import FateFlowSandbox, free_port

__all__ = ["FateFlowSandbox", "SandboxConfig", "free_port"]
