"""Client configuration: where FATE Flow lives and how to talk to it (no Airflow imports)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["ClientConfig", "RetryPolicy", "default_user_agent", "parse_api_version", "API_VERSIONS"]

#: The dialects a connection may ask for: FATE Flow 1.x (``v1``), 2.x (``v2``), or detect once (``auto``).
API_VERSIONS = ("v1", "v2", "auto")

_ROLES = ("guest", "host", "arbiter", "local")


@dataclass(frozen=True)
class RetryPolicy:
    """How idempotent calls are retried on transient failures.

    :param attempts: total tries including the first one (default 5; 1 disables retries).
    :param min_delay: first backoff delay in seconds (default 1.0); doubles on every retry.
    :param max_delay: upper bound of one backoff delay in seconds (default 30.0).
    :param jitter: add up to 100% random jitter to the exponential delay (default True).
    :param respect_retry_after: use the server's ``Retry-After`` header for 429/503 (default True).
    :param max_retry_after: cap, in seconds, on a server-requested ``Retry-After`` (default 120.0).
    """

    attempts: int = 5
    min_delay: float = 1.0
    max_delay: float = 30.0
    jitter: bool = True
    respect_retry_after: bool = True
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.min_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must be >= 0")


def parse_api_version(value: object) -> str:
    """The connection's ``api_version`` as ``"v1"``, ``"v2"`` or ``"auto"`` (default ``"v1"`` when unset).

    Accepts any case, a leading ``/`` and the bare numbers (``"2"``, ``2``, ``"2.x"``).

    :raises ValueError: any other value, naming the accepted ones.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return "v1"
    text = str(value).strip().strip("/").lower()
    aliases = {"1": "v1", "1.x": "v1", "v1": "v1", "2": "v2", "2.x": "v2", "v2": "v2", "auto": "auto"}
    if text not in aliases:
        raise ValueError(f"api_version must be one of {', '.join(API_VERSIONS)}, not {value!r}")
    return aliases[text]


def default_user_agent() -> str:
    """``airflow-provider-fateflow/<version> python-requests/<version>``."""
    from airflow_provider_fateflow import __version__

    try:
        import requests

        return f"airflow-provider-fateflow/{__version__} python-requests/{requests.__version__}"
    except ImportError:  # pragma: no cover - requests is a hard dependency
        return f"airflow-provider-fateflow/{__version__}"


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs to reach one FATE Flow server.

    :param host: server host name or IP. A URL (``https://flow:9443/prefix``) is accepted leniently:
        its scheme, port and path prefix override ``scheme``/``port``.
    :param port: HTTP port (default 9380, FATE Flow's ``http_port``).
    :param scheme: ``"http"`` (default) or ``"https"``.
    :param api_version: API prefix: ``"v1"`` (default, FATE Flow 1.x) or ``"v2"`` (FATE Flow 2.x; the
        ``client.v2`` groups). ``"auto"`` is resolved by ``client.dialect.build_client`` before any call.
    :param app_key: client-authentication app key; requests are signed when both keys are set.
    :param secret_key: client-authentication secret; never shown in repr, logs or errors.
    :param connect_timeout: TCP connect timeout in seconds (default 10.0).
    :param read_timeout: time to wait for the server between bytes, in seconds (default 60.0).
        ``job.stop`` of a running job can take ~40 s on a small deployment.
    :param download_timeout: the read timeout of calls that answer with a file (table and output-data
        downloads, model export, job logs), in seconds (default 600.0; never shorter than ``read_timeout``).
        FATE builds the archive before it sends the first byte: a table of a few GiB keeps the connection
        silent for minutes.
    :param max_extract_bytes: cap on the unpacked size of a downloaded archive, in bytes (default 2 GiB);
        a larger archive is refused as a possible decompression bomb and nothing is left behind.
    :param verify: TLS verification: True (default), False, or a CA bundle path.
    :param proxies: ``requests``-style proxy mapping, e.g. ``{"https": "http://proxy:3128"}``.
    :param board_url: FATE-Board base URL for links, e.g. ``"http://board:8080"``; when unset the
        server's own ``board_url`` is kept.
    :param initiator_role: default role for calls that need one (component queries, job lookup).
    :param initiator_party_id: default party id for calls that need one.
    :param retry: retry policy for idempotent calls.
    :param user_agent: User-Agent header.
    """

    host: str
    port: int = 9380
    scheme: str = "http"
    api_version: str = "v1"
    app_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    download_timeout: float = 600.0
    max_extract_bytes: int = 2 * 1024**3
    verify: bool | str = True
    proxies: Mapping[str, str] | None = None
    board_url: str | None = None
    initiator_role: str | None = None
    initiator_party_id: int | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = field(default_factory=default_user_agent)
    path_prefix: str = ""

    def __post_init__(self) -> None:
        host = (self.host or "").strip()
        scheme, port, prefix = self.scheme, self.port, self.path_prefix
        if "://" in host:
            parts = urlsplit(host)
            scheme = parts.scheme or scheme
            host = parts.hostname or ""
            port = parts.port or port
            prefix = parts.path.strip("/") or prefix
        else:
            host = host.rstrip("/")
            if host.count(":") == 1:  # "flow:9380"
                name, _, maybe_port = host.partition(":")
                if maybe_port.isdigit():
                    host, port = name, int(maybe_port)
        if not host:
            raise ValueError("ClientConfig.host is empty: give the FATE Flow server's host name or URL")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"ClientConfig.scheme must be 'http' or 'https', not {scheme!r}")
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ValueError(f"ClientConfig.port must be an integer, not {port!r}") from None
        if not 0 < port < 65536:
            raise ValueError(f"ClientConfig.port must be between 1 and 65535, not {port}")
        for name in ("connect_timeout", "read_timeout", "download_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ClientConfig.{name} must be > 0 seconds, not {getattr(self, name)!r}")
        if self.max_extract_bytes <= 0:
            raise ValueError(f"ClientConfig.max_extract_bytes must be > 0, not {self.max_extract_bytes!r}")
        if self.initiator_party_id is not None:
            try:
                object.__setattr__(self, "initiator_party_id", int(self.initiator_party_id))
            except (TypeError, ValueError):
                raise ValueError(
                    f"ClientConfig.initiator_party_id must be an integer, not {self.initiator_party_id!r}"
                ) from None
        if self.initiator_role is not None and self.initiator_role not in _ROLES:
            raise ValueError(
                f"ClientConfig.initiator_role must be one of {', '.join(_ROLES)}, not {self.initiator_role!r}"
            )
        if self.board_url and urlsplit(self.board_url).scheme not in ("http", "https"):
            raise ValueError(
                f"ClientConfig.board_url must be an http(s) URL such as http://fateboard:8080, not {self.board_url!r}"
            )
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "scheme", scheme)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "path_prefix", prefix.strip("/"))
        object.__setattr__(self, "api_version", self.api_version.strip("/"))
        if self.board_url:
            object.__setattr__(self, "board_url", self.board_url.rstrip("/"))

    @property
    def api_path(self) -> str:
        """Absolute path of the API root, e.g. ``/v1/``."""
        prefix = f"/{self.path_prefix}" if self.path_prefix else ""
        return f"{prefix}/{self.api_version}/"

    @property
    def base_url(self) -> str:
        """``http://host:port/v1/`` (IPv6 hosts are bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.api_path}"

    @property
    def signs_requests(self) -> bool:
        """True when both ``app_key`` and ``secret_key`` are set."""
        return bool(self.app_key) and bool(self.secret_key)
