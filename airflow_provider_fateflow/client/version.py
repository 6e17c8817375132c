"""``client.version``: server versions; also the cheapest health check (API.md §11)."""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client._base import Group, data_dict
from airflow_provider_fateflow.client.calls import ApiCall

__all__ = ["VersionGroup"]


class VersionGroup(Group):
    """Version queries."""

    __slots__ = ()

    def get(self, module: str | None = None) -> dict[str, Any]:
        """``POST version/get``: ``{"API": "v1", <module>: "<version>"}`` (default module FATE).

        :param module: e.g. ``"FATE"``, ``"FATEFlow"``, ``"FATEBoard"``, ``"EGGROLL"``; unknown -> NotFound.
        """
        return self._run(ApiCall(
            "version.get", "version/get", json={"module": module} if module else None,
            idempotent=True, parse=data_dict,
        ))
