"""``client.v2.site`` and ``client.v2.service``: the site's party and the server's own description."""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client.v2._group import V2Group
from airflow_provider_fateflow.client.v2._wire import V2Call, data_of

__all__ = ["SiteGroupV2", "ServiceGroupV2", "fateflow_info_call", "flow_version"]


class SiteGroupV2(V2Group):
    """``fate_client.flow_sdk`` ``Site``."""

    __slots__ = ()

    def info(self) -> dict[str, Any]:
        """``{"party_id": ...}`` of this site (``GET site/info/query``).

        :raises FateFlowApiError: retcode 3000 "Site is standalone" on a standalone deployment.
        """
        return dict(self._run(V2Call("site.info", "site/info/query", method="GET", idempotent=True,
                                     parse=data_of)) or {})


def fateflow_info_call() -> Any:
    """``GET server/fateflow``: ``{instance_id: {"host", "http_port", "grpc_port", "version", ...}}``."""
    return V2Call("service.get_fateflow_info", "server/fateflow", method="GET", idempotent=True,
                  parse=lambda e: dict(data_of(e) or {}))


def flow_version(info: dict[str, Any]) -> str | None:
    """The FATE Flow version in a ``server/fateflow`` answer (the first instance's ``version``)."""
    for instance in info.values():
        if isinstance(instance, dict) and instance.get("version"):
            return str(instance["version"])
    return None


class ServiceGroupV2(V2Group):
    """``fate_client.flow_sdk`` ``Service``."""

    __slots__ = ()

    def get_fateflow_info(self) -> dict[str, Any]:
        """The FATE Flow instances the server knows, with their ports and version."""
        return self._run(fateflow_info_call())
