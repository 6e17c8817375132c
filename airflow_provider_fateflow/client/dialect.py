"""Which FATE Flow generation a server speaks, and the client for it.

``detect_dialect(config)`` sends ONE cheap request, ``GET /v2/server/fateflow``: a FATE Flow 2.x server
answers ``{"code": 0, "data": {instance: {"version": "2.2.0", ...}}}``; a 1.x server has no such route and
answers ``{"retcode": 100, "retmsg": "<NotFound '404: Not Found'>"}`` (HTTP 200, recorded from 1.11.2), and
then one ``POST /v1/version/get`` tells its FATE version. ``build_client(config)`` resolves
``api_version="auto"`` that way (once) and returns a :class:`FateFlowClient` (v1) or a
:class:`~airflow_provider_fateflow.client.v2.FateFlowV2Client`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_fateflow.client.calls import ApiCall
from airflow_provider_fateflow.client.config import ClientConfig, RetryPolicy, parse_api_version
from airflow_provider_fateflow.client.errors import FateFlowApiError, FateFlowResponseError

__all__ = ["DialectInfo", "detect_dialect", "adetect_dialect", "build_client", "build_async_client"]


@dataclass(frozen=True, slots=True)
class DialectInfo:
    """What :func:`detect_dialect` found.

    :param dialect: ``"v1"`` or ``"v2"``.
    :param version: the FATE Flow version (v2: ``server/fateflow``'s ``version``) or the FATE version (v1:
        ``version/get``'s ``FATE``); ``None`` when the server did not say.
    """

    dialect: str
    version: str | None

    def __str__(self) -> str:
        product = "FATE Flow" if self.dialect == "v2" else "FATE"
        return f"{self.dialect} ({product} {self.version or 'version unknown'})"


def _probe_call() -> ApiCall:
    return ApiCall("dialect.detect", "server/fateflow", method="GET", idempotent=True, dialect="raw",
                   parse=_judge)


def _judge(answer: Mapping[str, Any]) -> DialectInfo | None:
    """``DialectInfo`` for a v2 answer, ``None`` for a v1 one (its version needs a second call)."""
    if "code" in answer:
        data = answer.get("data")
        version = None
        if isinstance(data, Mapping):
            from airflow_provider_fateflow.client.v2.site import flow_version

            version = flow_version(dict(data))
        return DialectInfo("v2", version)
    if "retcode" in answer:
        return None
    raise FateFlowResponseError("the answer of GET /v2/server/fateflow is neither FATE Flow 1.x's nor 2.x's",
                                operation="dialect.detect")


def _probe_config(config: ClientConfig) -> ClientConfig:
    return replace(config, api_version="v2", retry=RetryPolicy(attempts=min(config.retry.attempts, 2)))


def _v1_version(data: Any) -> str | None:
    return str(data["FATE"]) if isinstance(data, Mapping) and data.get("FATE") else None


def detect_dialect(config: ClientConfig) -> DialectInfo:
    """Ask the server which generation it is (one GET; one more POST on a 1.x server for its version).

    :raises FateFlowConnectionError: the server cannot be reached.
    :raises FateFlowResponseError: the answer is neither generation's (e.g. an HTML page).
    """
    from airflow_provider_fateflow.client.transport import Transport

    with Transport(_probe_config(config)) as transport:
        try:
            found = transport.run(_probe_call())
        except FateFlowApiError as exc:
            if exc.http_status != 404:
                raise
            found = None  # a proxy or server that answers unknown routes with HTTP 404: not 2.x
        if found is not None:
            return found
    from airflow_provider_fateflow.client.version import VersionGroup

    v1 = replace(config, api_version="v1")
    with Transport(v1) as transport:
        try:
            data = VersionGroup(transport, v1).get()
        except FateFlowApiError:
            data = None
    return DialectInfo("v1", _v1_version(data))


async def adetect_dialect(config: ClientConfig) -> DialectInfo:
    """:func:`detect_dialect` on the async transport (for triggers)."""
    from airflow_provider_fateflow.client.aio import AsyncTransport

    async with AsyncTransport(_probe_config(config)) as transport:
        try:
            found = await transport.arun(_probe_call())
        except FateFlowApiError as exc:
            if exc.http_status != 404:
                raise
            found = None
        if found is not None:
            return found
    v1 = replace(config, api_version="v1")
    async with AsyncTransport(v1) as transport:
        try:
            data = await transport.arun(ApiCall("version.get", "version/get", idempotent=True))
        except FateFlowApiError:
            data = None
    return DialectInfo("v1", _v1_version(data))


def build_client(config: ClientConfig) -> Any:
    """The sync client for ``config.api_version`` (``auto``: detected once, here).

    :returns: :class:`~airflow_provider_fateflow.client.FateFlowClient` (v1) or
        :class:`~airflow_provider_fateflow.client.v2.FateFlowV2Client` (v2).
    """
    dialect = parse_api_version(config.api_version)
    if dialect == "auto":
        dialect = detect_dialect(config).dialect
    if dialect == "v2":
        from airflow_provider_fateflow.client.v2 import FateFlowV2Client

        return FateFlowV2Client(config)
    from airflow_provider_fateflow.client.sync import FateFlowClient

    return FateFlowClient(replace(config, api_version="v1") if config.api_version != "v1" else config)


async def build_async_client(config: ClientConfig) -> Any:
    """The async client for ``config.api_version`` (``auto``: detected once, here, without blocking)."""
    dialect = parse_api_version(config.api_version)
    if dialect == "auto":
        dialect = (await adetect_dialect(config)).dialect
    if dialect == "v2":
        from airflow_provider_fateflow.client.v2 import AsyncFateFlowV2Client

        return AsyncFateFlowV2Client(config)
    from airflow_provider_fateflow.client.aio import AsyncFateFlowClient

    return AsyncFateFlowClient(replace(config, api_version="v1") if config.api_version != "v1" else config)
