"""Async transport and client on ``aiohttp`` (for triggers).

Shares everything with the sync path but the socket: the same :class:`ApiCall` builders, signing
(:func:`prepare`), response classification (:func:`parse_response`) and retry rules. aiohttp is
imported here only. It costs about 0.2 ms of CPU per poll on loopback, where httpx cost 1-4.5 ms
(measured side by side against the sandbox), and a triggerer runs thousands of polls.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from airflow_provider_fateflow.client.calls import ApiCall, prepare
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.errors import (
    FateFlowConnectionError,
    FateFlowError,
    FateFlowResponseError,
    FateFlowTimeoutError,
)
from airflow_provider_fateflow.client.job import query_call, stop_call
from airflow_provider_fateflow.client.results import JobRecord, TableInfo, TaskRecord
from airflow_provider_fateflow.client.table import table_info_call
from airflow_provider_fateflow.client.task import task_query_call
from airflow_provider_fateflow.client.multipart import MultipartStream
from airflow_provider_fateflow.client.responses import MAX_JSON_BYTES, parse_response
from airflow_provider_fateflow.client.retry import build_retrying, should_retry

__all__ = ["AsyncTransport", "AsyncFateFlowClient"]

log = logging.getLogger("airflow_provider_fateflow.client")

_SSL_CONTEXTS: dict[bool | str, ssl.SSLContext | bool] = {}


def ssl_for(verify: bool | str) -> ssl.SSLContext | bool:
    """The TLS setting for ``verify``, built once per process.

    Building an ``SSLContext`` loads the CA bundle (about 30 ms of blocking CPU): a thousand
    triggers must share it, not build one each.
    """
    cached = _SSL_CONTEXTS.get(verify)
    if cached is None:
        if verify is False:
            cached = False
        elif isinstance(verify, str):
            import os

            cached = ssl.create_default_context(**({"capath": verify} if os.path.isdir(verify) else {"cafile": verify}))
        else:
            import certifi  # the CA bundle requests uses, so both transports trust the same roots

            cached = ssl.create_default_context(cafile=certifi.where())
        _SSL_CONTEXTS[verify] = cached
    return cached


def _environment_proxy(config: ClientConfig) -> str | None:
    """The proxy for the server's URL: the config's, else the environment's (resolved once)."""
    proxies = dict(config.proxies or {})
    if not proxies:
        # the environment's proxies, minus the hosts no_proxy names (what requests does, from the stdlib)
        import urllib.request

        if urllib.request.proxy_bypass_environment(config.host):
            return None
        proxies = urllib.request.getproxies_environment()
    return proxies.get(config.scheme) or proxies.get("all")


def _map_aiohttp_error(operation: str, exc: BaseException) -> FateFlowError:
    """Translate an aiohttp/asyncio failure into the client's error tree (classified before any retry)."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ClientSSLError):
        # certificate problems do not heal by retrying
        return FateFlowConnectionError(f"TLS error ({detail})", operation=operation, request_sent=False,
                                       transient=False)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FateFlowTimeoutError(f"connect timeout ({detail})", operation=operation, request_sent=False)
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's socket read timeout is one
        return FateFlowTimeoutError(f"read timeout ({detail})", operation=operation, request_sent=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FateFlowConnectionError(f"cannot connect ({detail})", operation=operation, request_sent=False)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FateFlowConnectionError(f"answer cut off ({detail})", operation=operation, request_sent=True)
    return FateFlowConnectionError(f"connection lost ({detail})", operation=operation, request_sent=True)


class AsyncTransport:
    """Runs :class:`ApiCall` s over one ``aiohttp.ClientSession`` (JSON, query and form bodies; no
    multipart uploads and no file downloads, which stay on the sync path).

    The session is opened on the first request, inside the running event loop.

    :param config: the client configuration.
    :param session: an existing ``aiohttp.ClientSession`` (tests); default: a new one, owned by this transport.
    :param sleep: async sleep used between retries (default ``asyncio.sleep``).
    :param max_json_bytes: largest JSON answer accepted, in bytes (default 16 MiB).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None
        self._proxy = _environment_proxy(config)
        self.sleep = sleep
        self._max_json_bytes = max_json_bytes
        self._retrying: Any = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            config = self.config
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ssl_for(config.verify)),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout
                ),
                headers={"User-Agent": config.user_agent, "Accept": "application/json, */*"},
            )
        return self._session

    async def arun(self, call: ApiCall) -> Any:
        """Send ``call`` and return its parsed result; retries only what is safe (see ``should_retry``)."""
        try:
            return await self._attempt(call)
        except FateFlowError as exc:
            if self.config.retry.attempts <= 1 or not should_retry(call, exc):
                raise
            first = exc
        pending = [first]

        async def attempt(c: ApiCall) -> Any:
            if pending:
                raise pending.pop()
            return await self._attempt(c)

        return await self._controller()(attempt, call)

    def _controller(self) -> Any:
        if self._retrying is None:
            self._retrying = build_retrying(self.config.retry, self.sleep, asynchronous=True)
        return self._retrying

    async def _attempt(self, call: ApiCall) -> Any:
        if call.file is not None or call.download_to is not None:
            raise NotImplementedError(f"{call.operation}: uploads and downloads use the sync client")
        wire = prepare(call, self.config)
        content = wire.body.read() if isinstance(wire.body, MultipartStream) else wire.body
        started = time.monotonic()
        try:
            async with self._client_session().request(
                wire.method, wire.url, data=content, headers=wire.headers, proxy=self._proxy
            ) as resp:
                status = resp.status
                body = await self._read_bounded(call, resp)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _map_aiohttp_error(call.operation, exc) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s (%.3f s)", wire.method, wire.path_url.split("?", 1)[0], status,
                      time.monotonic() - started)
        return parse_response(call, status, resp.headers, body)

    async def _read_bounded(self, call: ApiCall, resp: aiohttp.ClientResponse) -> bytes:
        cap = self._max_json_bytes
        if resp.content_length is not None and resp.content_length <= cap:
            return await resp.read()
        chunks = []
        total = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > cap:
                raise FateFlowResponseError(
                    f"answer of {total} bytes or more exceeds the {cap} byte limit for JSON answers",
                    operation=call.operation, http_status=resp.status,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the aiohttp session (when this transport created it)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _AsyncJob:
    __slots__ = ("_t",)

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def query(self, job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
                    status: str | None = None, component_name: str | None = None) -> list[JobRecord]:
        """Same as the sync ``job.query``."""
        return await self._t.arun(query_call(job_id, role, party_id, status, component_name))

    async def stop(self, job_id: str, stop_status: str | None = None) -> str:
        """Same as the sync ``job.stop`` (not retried once sent)."""
        return await self._t.arun(stop_call(job_id, stop_status))


class _AsyncTask:
    __slots__ = ("_t",)

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def query(self, job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
                    component_name: str | None = None, status: str | None = None) -> list[TaskRecord]:
        """Same as the sync ``task.query``."""
        return await self._t.arun(task_query_call(job_id, role, party_id, component_name, status))


class _AsyncTable:
    __slots__ = ("_t",)

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def info(self, namespace: str, table_name: str) -> TableInfo:
        """Same as the sync ``table.info``."""
        return await self._t.arun(table_info_call(namespace, table_name))


class AsyncFateFlowClient:
    """Async client for triggers: ``job.query``, ``job.stop``, ``task.query``, ``table.info``;
    ``async with`` closes it.

    :param config: the client configuration.
    :param transport: a ready async transport (tests).
    """

    def __init__(self, config: ClientConfig, *, transport: AsyncTransport | None = None) -> None:
        self.config = config
        self.transport = transport or AsyncTransport(config)
        self.job = _AsyncJob(self.transport)
        self.task = _AsyncTask(self.transport)
        self.table = _AsyncTable(self.transport)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncFateFlowClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
