"""Synchronous transport: one keep-alive ``requests.Session`` per client.

Timeouts on every request, TLS/proxies from the config, HMAC signing, bounded JSON reads,
streamed uploads and downloads, and tenacity retries for idempotent calls only.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import requests.adapters
from requests import exceptions as rexc

from airflow_provider_fateflow.client.archive import content_disposition_filename, safe_filename
from airflow_provider_fateflow.client.calls import ApiCall, DownloadedFile, prepare
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.errors import (
    FateFlowConnectionError,
    FateFlowError,
    FateFlowResponseError,
    FateFlowTimeoutError,
)

from airflow_provider_fateflow.client.responses import MAX_JSON_BYTES, is_file_response, parse_response
from airflow_provider_fateflow.client.retry import build_retrying, should_retry

__all__ = ["Transport"]

log = logging.getLogger("airflow_provider_fateflow.client")

_DOWNLOAD_CHUNK = 1024 * 1024


class Transport:
    """Runs :class:`ApiCall` s over one ``requests.Session``.

    :param config: the client configuration.
    :param session: an existing session to use (default: a new one, owned and closed by this transport).
    :param sleep: sleep function used between retries (default ``time.sleep``; tests pass a recorder).
    :param max_json_bytes: largest JSON answer accepted, in bytes (default 16 MiB).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.config = config
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            adapter = _LargeBlockAdapter()
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = config.user_agent
        self.session.headers["Accept"] = "application/json, */*"
        _apply_environment(self.session, config)
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._download_timeout = (config.connect_timeout, max(config.read_timeout, config.download_timeout))
        self.sleep = sleep
        self._max_json_bytes = max_json_bytes
        self._retrying: Any = None  # tenacity.Retrying, built on the first retry

    # -- public -------------------------------------------------------------------------------------

    def run(self, call: ApiCall) -> Any:
        """Send ``call`` and return its parsed result, retrying only when that is safe.

        :raises FateFlowError: a typed error (classified before any retry decision).
        """
        try:
            return self._attempt(call)
        except FateFlowError as exc:
            if self.config.retry.attempts <= 1 or not should_retry(call, exc):
                raise
            first = exc
        return self._retry(call, first)

    def close(self) -> None:
        """Close the session (when this transport created it)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _retry(self, call: ApiCall, first: FateFlowError) -> Any:
        pending = [first]

        def attempt(c: ApiCall) -> Any:
            if pending:
                raise pending.pop()
            return self._attempt(c)

        return self._retrying_controller()(attempt, call)

    def _retrying_controller(self) -> Any:
        if self._retrying is None:
            self._retrying = build_retrying(self.config.retry, self.sleep, asynchronous=False)
        return self._retrying

    def _attempt(self, call: ApiCall) -> Any:
        wire = prepare(call, self.config)
        started = time.monotonic()
        try:
            resp = self.session.request(
                wire.method, wire.url, data=wire.body, headers=wire.headers, stream=True,
                timeout=self._timeout if call.download_to is None else self._download_timeout,
            )
        except rexc.RequestException as exc:
            raise _map_requests_error(call.operation, exc) from None
        finally:
            close = getattr(wire.body, "close", None)
            if close is not None:
                close()
        try:
            status = resp.status_code
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s -> %s (%.3f s)", wire.method, wire.path_url.split("?", 1)[0], status,
                          time.monotonic() - started)
            if call.download_to is not None and is_file_response(status, resp.headers):
                return call.parse(self._save_download(call, resp))
            body = self._read_bounded(call, resp)
        except rexc.RequestException as exc:
            raise _map_requests_error(call.operation, exc) from None
        finally:
            resp.close()
        return parse_response(call, status, resp.headers, body)

    def _read_bounded(self, call: ApiCall, resp: requests.Response) -> bytes:
        cap = self._max_json_bytes
        length = resp.headers.get("Content-Length")
        if length is not None and length.isdigit() and not resp.headers.get("Content-Encoding"):
            if int(length) > cap:
                raise _too_big(call, resp.status_code, int(length), cap)
            return resp.content
        chunks = []
        total = 0
        for chunk in resp.iter_content(64 * 1024):
            total += len(chunk)
            if total > cap:
                raise _too_big(call, resp.status_code, total, cap)
            chunks.append(chunk)
        return b"".join(chunks)

    def _save_download(self, call: ApiCall, resp: requests.Response) -> DownloadedFile:
        dest_dir = call.download_to or "."
        os.makedirs(dest_dir, exist_ok=True)
        name = safe_filename(
            content_disposition_filename(resp.headers.get("Content-Disposition")), call.download_name or "download.bin"
        )
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=dest_dir)
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in _body_as_it_arrives(resp):
                    fh.write(chunk)
                    size += len(chunk)
            final = os.path.join(dest_dir, name)
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return DownloadedFile(final, name, size, resp.headers.get("Content-Type"))


def _body_as_it_arrives(resp: requests.Response) -> Iterator[bytes]:
    """The body in pieces of what has arrived (at most 1 MiB each), decoded as ``iter_content`` would.

    ``iter_content(1 MiB)`` waits for each full MiB before the caller can write it, so the socket and the
    disk take turns; urllib3's ``read1`` (2.3+) returns what is there, and they overlap: a 1 GiB download to
    a loopback server ran at 0.3x of a plain copy with the first, 0.7-0.8x with the second. Errors are mapped
    to requests' exceptions the way ``iter_content`` maps them.
    """
    read1 = getattr(resp.raw, "read1", None)
    if read1 is None:  # urllib3 < 2.3
        yield from resp.iter_content(_DOWNLOAD_CHUNK)
        return
    from urllib3 import exceptions as uexc

    try:
        while chunk := read1(_DOWNLOAD_CHUNK):
            yield chunk
    except uexc.ProtocolError as exc:
        raise rexc.ChunkedEncodingError(exc) from exc
    except uexc.DecodeError as exc:
        raise rexc.ContentDecodingError(exc) from exc
    except uexc.ReadTimeoutError as exc:
        raise rexc.ConnectionError(exc) from exc
    except uexc.SSLError as exc:
        raise rexc.SSLError(exc) from exc


class _LargeBlockAdapter(requests.adapters.HTTPAdapter):
    """Sends streamed bodies (uploads) 1 MiB at a time.

    urllib3 reads and sends a file-like body 16 KiB at a time; for a 1 GiB upload to a loopback server
    that reached 0.30x of a plain copy, 0.84x with 1 MiB blocks (bench/bench_files.py).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = 1 << 20
        super().init_poolmanager(*args, **kwargs)


def _apply_environment(session: requests.Session, config: ClientConfig) -> None:
    """Resolve proxies and the CA bundle once, instead of on every request.

    ``requests`` re-reads the environment (``*_proxy``, ``no_proxy``, ``REQUESTS_CA_BUNDLE``, netrc)
    on every call when ``trust_env`` is on; that dominates the client-side cost of a small query.
    The same settings are resolved here once: explicit config first, then the environment.
    """
    from requests.utils import get_environ_proxies

    verify = config.verify
    if session.trust_env:
        session.proxies.update(get_environ_proxies(config.base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if verify is True and bundle:
            verify = bundle
        session.trust_env = False
    session.verify = verify
    if config.proxies:
        session.proxies.update(dict(config.proxies))


def _too_big(call: ApiCall, status: int, size: int, cap: int) -> FateFlowResponseError:
    return FateFlowResponseError(
        f"answer of {size} bytes or more exceeds the {cap} byte limit for JSON answers",
        operation=call.operation, http_status=status,
    )


def _connect_failed(exc: BaseException) -> bool:
    """True when the error happened while connecting (nothing was sent)."""
    if isinstance(exc, (rexc.ConnectTimeout, rexc.ProxyError)):
        return True
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        name = type(cur).__name__
        if name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"):
            return True
        reason = getattr(cur, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and cur.args and isinstance(cur.args[0], BaseException):
            nxt = cur.args[0]
        cur = nxt or cur.__cause__ or cur.__context__
    return False


def _map_requests_error(operation: str, exc: rexc.RequestException) -> FateFlowError:
    """Translate a requests exception into the client's error tree."""
    sent = not _connect_failed(exc)
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, rexc.Timeout):
        phase = "read" if sent else "connect"
        return FateFlowTimeoutError(f"{phase} timeout ({detail})", operation=operation, request_sent=sent)
    if isinstance(exc, rexc.SSLError):
        # certificate problems do not heal by retrying
        return FateFlowConnectionError(f"TLS error ({detail})", operation=operation, request_sent=False,
                                       transient=False)
    if isinstance(exc, (rexc.ChunkedEncodingError, rexc.ContentDecodingError)):
        return FateFlowConnectionError(f"answer cut off ({detail})", operation=operation, request_sent=True)
    if isinstance(exc, rexc.ConnectionError):
        what = "cannot connect" if not sent else "connection lost"
        return FateFlowConnectionError(f"{what} ({detail})", operation=operation, request_sent=sent)
    if isinstance(exc, (rexc.InvalidURL, rexc.MissingSchema, rexc.InvalidSchema)):
        return FateFlowConnectionError(f"invalid URL ({detail})", operation=operation, request_sent=False,
                                       transient=False)
    return FateFlowConnectionError(detail, operation=operation, request_sent=sent)
