"""The Airflow hook for FATE Flow: an Airflow connection in, the FATE Flow client SDK's shape out.

This is the only module that reads Airflow connections. Everything that talks to FATE Flow lives in
:mod:`airflow_provider_fateflow.client`, which knows nothing of Airflow.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_fateflow.client.config import ClientConfig, RetryPolicy, parse_api_version

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_fateflow.client import AsyncFateFlowClient, FateFlowClient

CONN_TYPE = "fateflow"
DEFAULT_CONN_ID = "fateflow_default"
DEFAULT_PORT = 9380

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class FateFlowConnectionConfigError(ValueError):
    """A ``fateflow`` connection field holds a value the provider cannot use."""


def _extra(extras: dict[str, Any], name: str) -> Any:
    """Read an extra the way both the form (``extra__fateflow__name``) and users (``name``) store it."""
    value = extras.get(name)
    if value in (None, ""):
        value = extras.get(f"extra__{CONN_TYPE}__{name}")
    return None if value == "" else value


def _as_float(conn_id: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FateFlowConnectionConfigError(
            f"connection {conn_id!r}: extra {name!r} must be a number of seconds, got {value!r}"
        ) from None
    if number <= 0:
        raise FateFlowConnectionConfigError(f"connection {conn_id!r}: extra {name!r} must be positive, got {value!r}")
    return number


def _as_int(conn_id: str, name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        return int(float(value))
    except (TypeError, ValueError):
        raise FateFlowConnectionConfigError(
            f"connection {conn_id!r}: extra {name!r} must be an integer, got {value!r}"
        ) from None


def _as_verify(conn_id: str, value: Any) -> bool | str:
    if value is None or isinstance(value, bool):
        return True if value is None else value
    text = str(value).strip()
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    return text  # a CA bundle path on the worker


def _as_proxies(conn_id: str, value: Any) -> dict[str, str] | None:
    if value is None or isinstance(value, dict):
        return value
    try:
        proxies = json.loads(value)
    except (TypeError, ValueError):
        proxies = None
    if not isinstance(proxies, dict):
        raise FateFlowConnectionConfigError(
            f'connection {conn_id!r}: extra "proxies" must be a JSON object such as '
            f'{{"https": "http://proxy:3128"}}'
        )
    return proxies


def config_from_connection(conn: Connection, **overrides: Any) -> ClientConfig:
    """Build the client configuration from an Airflow connection of type ``fateflow``.

    :param conn: the Airflow connection. ``host`` may carry a scheme (``https://fate.example``); ``schema``
        may say ``http`` or ``https``; ``port`` defaults to 9380; ``login``/``password`` are the app key and
        secret key used to sign requests when FATE Flow's client authentication is on.
    :param overrides: hook parameters that win over the connection: ``connect_timeout``, ``read_timeout``,
        ``download_timeout`` (seconds), ``max_extract_bytes``, ``retry_limit`` (total tries), ``retry_delay``,
        ``retry_max_delay`` (seconds).
    """
    conn_id = conn.conn_id or "<unnamed>"
    extras = conn.extra_dejson or {}
    if not conn.host:
        raise FateFlowConnectionConfigError(f"connection {conn_id!r} has no host: set the FATE Flow server's address")

    try:
        api_version = parse_api_version(_extra(extras, "api_version"))  # v1 (default), v2 or auto
    except ValueError as err:
        raise FateFlowConnectionConfigError(f"connection {conn_id!r}: {err}") from None

    def pick(name: str, convert: Any) -> Any:
        value = overrides.get(name)
        return value if value is not None else convert(conn_id, name, _extra(extras, name))

    defaults = RetryPolicy()
    retry = RetryPolicy(
        attempts=pick("retry_limit", _as_int) or defaults.attempts,
        min_delay=pick("retry_delay", _as_float) or defaults.min_delay,
        max_delay=pick("retry_max_delay", _as_float) or defaults.max_delay,
    )
    party = _as_int(conn_id, "initiator_party_id", _extra(extras, "initiator_party_id"))
    settings: dict[str, Any] = {
        "host": conn.host,  # may be a URL: its scheme and port win (ClientConfig parses it)
        "port": conn.port or DEFAULT_PORT,
        "scheme": (conn.schema or "").strip().lower() or "http",
        "api_version": api_version,
        "app_key": conn.login or None,
        "secret_key": conn.password or None,
        "verify": _as_verify(conn_id, _extra(extras, "verify")),
        "proxies": _as_proxies(conn_id, _extra(extras, "proxies")),
        "board_url": _extra(extras, "board_url"),
        "initiator_role": _extra(extras, "initiator_role"),
        "initiator_party_id": party,
        "retry": retry,
    }
    for name, convert in (("connect_timeout", _as_float), ("read_timeout", _as_float),
                          ("download_timeout", _as_float), ("max_extract_bytes", _as_int)):
        value = pick(name, convert)
        if value is not None:
            settings[name] = value
    try:
        return ClientConfig(**settings)
    except ValueError as err:
        raise FateFlowConnectionConfigError(f"connection {conn_id!r}: {err}") from None


class FateFlowHook(BaseHook):
    """Every FATE Flow client operation behind an Airflow connection.

    The hook has the shape of FATE's own client SDK (``FlowClient``): ``hook.job.submit(conf, dsl)``,
    ``hook.component.metric_all(...)``, ``hook.data.upload(...)``, ``hook.model.load(...)``,
    ``hook.table.info(...)``, ``hook.queue.clean()``, ``hook.version.get()``. Methods take and return plain,
    typed values and raise the :class:`~airflow_provider_fateflow.client.errors.FateFlowError` tree.

    One HTTP session (keep-alive) serves every call the hook makes.

    :param fateflow_conn_id: the Airflow connection id, of type ``fateflow``. Default ``fateflow_default``.
    :param connect_timeout: seconds to wait for a connection; overrides the connection's extra.
    :param read_timeout: seconds to wait for an answer; overrides the connection's extra.
    :param download_timeout: seconds to wait for a file answer (the server builds archives before the first
        byte); overrides the connection's extra (default 600).
    :param max_extract_bytes: largest unpacked size of a downloaded archive; overrides the connection's extra
        (default 2 GiB).
    :param retry_limit: total tries of a safe-to-repeat request (queries, lists, downloads).
    :param retry_delay: first backoff delay in seconds; it doubles up to ``retry_max_delay``.
    :param retry_max_delay: longest backoff delay in seconds.
    """

    conn_name_attr = "fateflow_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "FATE Flow"

    def __init__(
        self,
        fateflow_conn_id: str = DEFAULT_CONN_ID,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        download_timeout: float | None = None,
        max_extract_bytes: int | None = None,
        retry_limit: int | None = None,
        retry_delay: float | None = None,
        retry_max_delay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fateflow_conn_id = fateflow_conn_id
        self.hook_params = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "download_timeout": download_timeout,
            "max_extract_bytes": max_extract_bytes,
            "retry_limit": retry_limit,
            "retry_delay": retry_delay,
            "retry_max_delay": retry_max_delay,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fateflow_conn_id={self.fateflow_conn_id!r})"

    # -- configuration -------------------------------------------------------------------------
    @cached_property
    def config(self) -> ClientConfig:
        """The client configuration read from the connection (read once per hook)."""
        return config_from_connection(self.get_connection(self.fateflow_conn_id), **self.hook_params)

    @cached_property
    def client(self) -> FateFlowClient:
        """The FATE Flow client; one keep-alive session for the hook's lifetime.

        The connection's ``api_version`` picks it: ``v1`` a ``FateFlowClient``, ``v2`` a ``FateFlowV2Client``
        (the v2 SDK's groups), ``auto`` asks the server once (``client.dialect.detect_dialect``).
        """
        from airflow_provider_fateflow.client.dialect import build_client  # loads requests on first use only

        return build_client(self.config)

    def get_conn(self) -> FateFlowClient:
        """Return the FATE Flow client (Airflow's hook protocol)."""
        return self.client

    async def aget_client(self) -> AsyncFateFlowClient:
        """Build an async client, reading the connection without blocking the event loop (for triggers).

        The caller owns the client and closes it (``async with`` or ``await client.aclose()``).
        """
        from airflow_provider_fateflow.client.dialect import build_async_client

        conn = await self.aget_connection(self.fateflow_conn_id)
        return await build_async_client(config_from_connection(conn, **self.hook_params))

    def close(self) -> None:
        """Close the HTTP session, if one was opened."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    # -- the SDK's groups ------------------------------------------------------------------------
    @property
    def job(self):  # noqa: ANN201 - the group types live in the client package
        """Job operations: submit, stop, query, clean, config, log, list, view, generate_dsl, rerun."""
        return self.client.job

    @property
    def component(self):  # noqa: ANN201
        """Component (tracking) operations: parameters, metrics, outputs, list, summary."""
        return self.client.component

    @property
    def data(self):  # noqa: ANN201
        """Data operations: upload, download, upload_history."""
        return self.client.data

    @property
    def task(self):  # noqa: ANN201
        """Task operations: list, query."""
        return self.client.task

    @property
    def model(self):  # noqa: ANN201
        """Model operations: deploy, load, bind, store, restore, export, imp, predict DSL/conf, query."""
        return self.client.model

    @property
    def table(self):  # noqa: ANN201
        """Table operations: info, delete, list, download."""
        return self.client.table

    @property
    def queue(self):  # noqa: ANN201
        """Queue operations: clean."""
        return self.client.queue

    @property
    def version(self):  # noqa: ANN201
        """Server version: get."""
        return self.client.version

    # -- FATE Flow 2.x groups (api_version v2/auto; the log group is hook.client.log: hook.log is Airflow's) --
    @property
    def dialect(self) -> str:
        """``"v1"`` or ``"v2"``: the generation the hook's client speaks (``auto`` resolved)."""
        return getattr(self.client, "dialect", "v1")

    @property
    def output(self):  # noqa: ANN201
        """FATE Flow 2.x task outputs: query_metric(_key), query_model, download_model/data, data_table/display."""
        return self._v2_group("output")

    @property
    def site(self):  # noqa: ANN201
        """FATE Flow 2.x site: info."""
        return self._v2_group("site")

    @property
    def service(self):  # noqa: ANN201
        """FATE Flow 2.x service: get_fateflow_info."""
        return self._v2_group("service")

    def _v2_group(self, name: str):  # noqa: ANN202
        group = getattr(self.client, name, None)
        if group is None:
            raise AttributeError(f"hook.{name} exists on FATE Flow 2.x only: set the connection's api_version to v2 "
                                 f"or auto (connection {self.fateflow_conn_id!r} speaks v1)")
        return group

    # -- connection test and form ------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Call ``version/get`` and report the FATE version, or exactly why the server could not be used."""
        from airflow_provider_fateflow.client.errors import (
            FateFlowAuthError,
            FateFlowConnectionError,
            FateFlowError,
            FateFlowResponseError,
        )

        from airflow_provider_fateflow.client import FateFlowClient

        try:
            config = self.config
            # One attempt: the UI's Test button must answer now, not after the retry policy's backoff.
            with FateFlowClient(replace(config, retry=RetryPolicy(attempts=1))) as client:
                versions = client.version.get()
        except FateFlowConnectionConfigError as err:
            return False, f"Bad connection settings: {err}"
        except FateFlowAuthError as err:
            return False, f"FATE Flow refused the credentials: {err}"
        except FateFlowConnectionError as err:
            reason = "TLS handshake failed" if "SSL" in str(err) or "certificate" in str(err) else "unreachable"
            return False, f"FATE Flow is {reason}: {err}"
        except FateFlowResponseError as err:
            return False, f"Not a FATE Flow v1 server (answer not understood): {err}"
        except FateFlowError as err:
            return False, f"FATE Flow answered with an error: {err}"
        except Exception as err:  # the connection test must report, never raise
            return False, f"{type(err).__name__}: {err}"
        fate = versions.get("FATE") or versions.get("FATEFlow") or "unknown"
        return True, f"Connected to FATE Flow at {config.base_url} (FATE {fate}, API {versions.get('API', 'v1')})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form behaviour for Airflow 3.1 (3.2+ reads it from provider info)."""
        from airflow_provider_fateflow.get_provider_info import UI_FIELD_BEHAVIOUR

        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra connection form fields for Airflow 3.1 (3.2+ reads them from provider info)."""
        from wtforms import PasswordField, StringField

        from airflow_provider_fateflow.get_provider_info import CONN_FIELDS

        try:  # the FAB widgets and translations, when a FAB UI is installed
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
        except ImportError:
            BS3PasswordFieldWidget = BS3TextFieldWidget = None  # noqa: N806
            lazy_gettext = str

        widgets: dict[str, Any] = {}
        for name, field in CONN_FIELDS.items():
            secret = field["schema"].get("format") == "password"
            kind, widget = (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
            options: dict[str, Any] = {"description": field["description"]}
            if widget is not None:
                options["widget"] = widget()
            widgets[name] = kind(lazy_gettext(field["label"]), **options)
        return widgets
