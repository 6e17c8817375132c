"""Apache Airflow provider for FATE Flow (FATE 1.x, v1 REST API)."""
from __future__ import annotations

__version__ = "0.2.0"
