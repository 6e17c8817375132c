"""Async transport and client on ``httpx.AsyncClient`` (for triggers).

Shares everything with the sync path but the socket: the same :class:`ApiCall` builders, signing
(:func:`prepare`), response classification (:func:`parse_response`) and retry rules. httpx is
imported here only.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from airflow_provider_fateflow.client.calls import MAX_JSON_BYTES, ApiCall, MultipartStream, parse_response, prepare
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.errors import (
    FateFlowConnectionError,
    FateFlowError,
    FateFlowResponseError,
    FateFlowTimeoutError,
)
from airflow_provider_fateflow.client.job import query_call, stop_call
from airflow_provider_fateflow.client.results import JobRecord, TaskRecord
from airflow_provider_fateflow.client.task import task_query_call
from airflow_provider_fateflow.client.transport import backoff_delay, log_retry, should_retry

__all__ = ["AsyncTransport", "AsyncFateFlowClient"]

log = logging.getLogger("airflow_provider_fateflow.client")


class AsyncTransport:
    """Runs :class:`ApiCall` s over one ``httpx.AsyncClient`` (JSON, query and form bodies; no
    multipart uploads and no file downloads, which stay on the sync path).

    :param config: the client configuration.
    :param client: an existing ``httpx.AsyncClient`` (tests); default: a new one, owned by this transport.
    :param sleep: async sleep used between retries (default ``asyncio.sleep``).
    :param max_json_bytes: largest JSON answer accepted, in bytes (default 16 MiB).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.config = config
        self._owns_client = client is None
        if client is None:
            proxy = None
            if config.proxies:
                proxy = config.proxies.get(config.scheme) or config.proxies.get("all")
            client = httpx.AsyncClient(
                verify=config.verify, proxy=proxy,
                timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
                headers={"User-Agent": config.user_agent, "Accept": "application/json, */*"},
            )
        self.client = client
        self.sleep = sleep
        self._max_json_bytes = max_json_bytes
        self._retrying: Any = None

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
            import tenacity

            policy = self.config.retry
            self._retrying = tenacity.AsyncRetrying(
                stop=tenacity.stop_after_attempt(policy.attempts),
                wait=lambda rs: backoff_delay(policy, rs.attempt_number, rs.outcome.exception()),
                retry=lambda rs: rs.outcome.failed and should_retry(rs.args[0], rs.outcome.exception()),
                before_sleep=lambda rs: log_retry(
                    rs.args[0].operation, rs.attempt_number, policy.attempts, rs.outcome.exception(),
                    rs.next_action.sleep if rs.next_action else 0.0,
                ),
                sleep=self.sleep,
                reraise=True,
            )
        return self._retrying

    async def _attempt(self, call: ApiCall) -> Any:
        if call.file is not None or call.download_to is not None:
            raise NotImplementedError(f"{call.operation}: uploads and downloads use the sync client")
        wire = prepare(call, self.config)
        content = wire.body.read() if isinstance(wire.body, MultipartStream) else wire.body
        started = time.monotonic()
        try:
            async with self.client.stream(wire.method, wire.url, content=content, headers=wire.headers) as resp:
                status = resp.status_code
                body = await self._read_bounded(call, resp)
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
            raise FateFlowTimeoutError(
                f"{'read' if sent else 'connect'} timeout ({type(exc).__name__}: {exc})",
                operation=call.operation, request_sent=sent,
            ) from None
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError)
            raise FateFlowConnectionError(
                f"{'connection lost' if sent else 'cannot connect'} ({type(exc).__name__}: {exc})",
                operation=call.operation, request_sent=sent,
            ) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s (%.3f s)", wire.method, wire.path_url.split("?", 1)[0], status,
                      time.monotonic() - started)
        return parse_response(call, status, resp.headers, body)

    async def _read_bounded(self, call: ApiCall, resp: httpx.Response) -> bytes:
        cap = self._max_json_bytes
        chunks = []
        total = 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise FateFlowResponseError(
                    f"answer of {total} bytes or more exceeds the {cap} byte limit for JSON answers",
                    operation=call.operation, http_status=resp.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the httpx client (when this transport created it)."""
        if self._owns_client:
            await self.client.aclose()

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


class AsyncFateFlowClient:
    """Async client for triggers: ``job.query``, ``job.stop``, ``task.query``; ``async with`` closes it.

    :param config: the client configuration.
    :param transport: a ready async transport (tests).
    """

    def __init__(self, config: ClientConfig, *, transport: AsyncTransport | None = None) -> None:
        self.config = config
        self.transport = transport or AsyncTransport(config)
        self.job = _AsyncJob(self.transport)
        self.task = _AsyncTask(self.transport)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncFateFlowClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
