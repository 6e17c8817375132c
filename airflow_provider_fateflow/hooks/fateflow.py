"""The Airflow hook for FATE Flow: an Airflow connection in, the FATE Flow client SDK's shape out.

This is the only module that reads Airflow connections. Everything that talks to FATE Flow lives in
:mod:`airflow_provider_fateflow.client`, which knows nothing of Airflow.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from airflow_provider_fateflow.client.config import ClientConfig, RetryPolicy, parse_api_version
from airflow_provider_fateflow.client.errors import FateFlowInputError
from airflow_provider_fateflow.get_provider_info import CONN_FIELDS, ROLES

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_fateflow.client import AsyncFateFlowClient, FateFlowClient

CONN_TYPE = "fateflow"
DEFAULT_CONN_ID = "fateflow_default"
DEFAULT_PORT = 9380

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SCHEMES = ("http", "https")

#: What the connection form calls each standard field.
_STANDARD_LABELS = {"host": "Host", "port": "Port", "schema": "Protocol", "login": "App key", "password": "Secret key"}


def field_label(name: str) -> str:
    """The label the connection form shows for a field (a standard field or an extra)."""
    if name in _STANDARD_LABELS:
        return _STANDARD_LABELS[name]
    if name == "verify":  # accepted from URIs and JSON; the form has the toggle and the CA bundle path
        return "TLS verify"
    return CONN_FIELDS.get(name, {}).get("label", name)


class FateFlowConnectionConfigError(FateFlowInputError):
    """A ``fateflow`` connection field holds a value the provider cannot use.

    :param conn_id: the connection id.
    :param field: the field: ``host``, ``port``, ``schema``, ``login``, ``password`` or an extra's name.
    :param problem: what is wrong with the value.
    :param hint: what to do about it.

    ``label`` is what the connection form calls the field; :attr:`field_message` is the message without
    the connection id (the UI's Test button runs on a temporary copy with a random id).
    """

    def __init__(self, conn_id: str, field: str, problem: str, hint: str = "") -> None:
        self.conn_id = conn_id
        self.field = field
        self.label = field_label(field)
        self.problem = problem
        self.hint = hint
        where = self.label if field in _STANDARD_LABELS else f"{self.label} (extra {field!r})"
        super().__init__(f"connection {conn_id!r}, {where}: {self._sentence()}")

    def _sentence(self) -> str:
        return f"{self.problem}. {self.hint}." if self.hint else f"{self.problem}."

    @property
    def field_message(self) -> str:
        """``<label>: <problem>. <hint>``, e.g. ``Protocol: 'htps' is not http or https. ...``."""
        return f"{self.label}: {self._sentence()}"


def _extra(extras: dict[str, Any], name: str) -> Any:
    """Read an extra the way both the form (``extra__fateflow__name``) and users (``name``) store it."""
    value = extras.get(name)
    if value in (None, ""):
        value = extras.get(f"extra__{CONN_TYPE}__{name}")
    if isinstance(value, str):
        value = value.strip()
    return None if value == "" else value


def _as_float(conn_id: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise FateFlowConnectionConfigError(
            conn_id, name, f"{value!r} is not a number of seconds", "Write a number such as 60, or leave it empty"
        ) from None
    if not number > 0 or number == float("inf"):
        raise FateFlowConnectionConfigError(
            conn_id, name, f"{value!r} is not a positive number", "Write a number above 0, or leave it empty"
        )
    return number


def _as_int(conn_id: str, name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise FateFlowConnectionConfigError(
            conn_id, name, f"{value!r} is not an integer", "Write a whole number, or leave it empty"
        ) from None


def _as_bool(conn_id: str, name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FateFlowConnectionConfigError(conn_id, name, f"{value!r} is not on or off", "Use true or false")


def _as_verify(conn_id: str, extras: dict[str, Any]) -> bool | str:
    """TLS verification from the form's toggle and CA bundle path, or a ``verify`` extra (URI/JSON)."""
    disabled = _as_bool(conn_id, "disable_tls_verify", _extra(extras, "disable_tls_verify"))
    bundle = _extra(extras, "ca_bundle")
    if disabled and bundle:
        raise FateFlowConnectionConfigError(
            conn_id, "ca_bundle", "is set while Disable TLS verification is on",
            "Clear one of them: a CA bundle is only used when certificates are verified",
        )
    if disabled:
        return False
    if bundle:
        return str(bundle)
    value = _extra(extras, "verify")
    if value is None or isinstance(value, bool):
        return True if value is None else value
    text = str(value).strip()
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    return text  # a CA bundle path on the worker


def _as_proxies(conn_id: str, value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    proxies = value
    if not isinstance(proxies, dict):
        try:
            proxies = json.loads(value)
        except (TypeError, ValueError):
            proxies = None
    if not isinstance(proxies, dict) or not all(isinstance(v, str) for v in proxies.values()):
        raise FateFlowConnectionConfigError(
            conn_id, "proxies", f"{value!r} is not a JSON object of proxy URLs",
            'Write e.g. {"https": "http://proxy.example:3128"}, or leave it empty',
        )
    return proxies or None


def _as_role(conn_id: str, value: Any) -> str | None:
    if value is None:
        return None
    role = str(value).strip().lower()
    if role not in ROLES:
        raise FateFlowConnectionConfigError(
            conn_id, "initiator_role", f"{value!r} is not a FATE role", f"Choose {', '.join(ROLES[:-1])} or {ROLES[-1]}"
        )
    return role


def _as_board_url(conn_id: str, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in _SCHEMES or not parts.netloc:
        example = text if "://" in text else f"http://{text}"
        raise FateFlowConnectionConfigError(
            conn_id, "board_url", f"{value!r} is not a full http(s) address",
            f"Write it with its scheme, e.g. {example}",
        )
    return text


def _as_scheme(conn_id: str, host: str, schema: str | None) -> str:
    """The scheme, from a URL in Host (which wins) or from Protocol; refused unless http or https."""
    if "://" in host:
        scheme = host.split("://", 1)[0].strip().lower()
        if scheme not in _SCHEMES:
            raise FateFlowConnectionConfigError(
                conn_id, "host", f"{host!r} starts with {scheme + '://'!r}, which is not http:// or https://",
                "Write the address with http:// or https://, or only the host name",
            )
        return scheme
    scheme = (schema or "").strip().lower() or "http"
    if scheme not in _SCHEMES:
        raise FateFlowConnectionConfigError(
            conn_id, "schema", f"{schema!r} is not http or https", "Set it to http or https, or leave it empty for http"
        )
    return scheme


def _check_address(conn_id: str, host: str, port: Any) -> None:
    """Refuse a Host or Port that cannot make a URL, naming the field (ClientConfig parses them after)."""
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        raise FateFlowConnectionConfigError(
            conn_id, "port", f"{port!r} is not a TCP port", "Use 1 to 65535, or leave it empty for 9380"
        )
    if "://" in host:
        parts = urlsplit(host)
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise FateFlowConnectionConfigError(
                conn_id, "host", f"{host!r} has a port that is not 1 to 65535", "Fix the port in the address"
            ) from None
        if not parts.hostname:
            raise FateFlowConnectionConfigError(
                conn_id, "host", f"{host!r} has no host name", "Write e.g. https://fateflow.example.org"
            )
        return
    name, colon, rest = host.rstrip("/").partition(":")
    if colon and ":" not in rest and not rest.isdigit():  # "flow:abc" (IPv6 addresses have several colons)
        raise FateFlowConnectionConfigError(
            conn_id, "host", f"{host!r} is not a host name", "Write the host name in Host and the port in Port"
        )


def _as_api_version(conn_id: str, value: Any) -> str:
    try:
        return parse_api_version(value)  # v1 (default), v2 or auto
    except ValueError:
        raise FateFlowConnectionConfigError(
            conn_id, "api_version", f"{value!r} is not a FATE Flow API version",
            "Choose v1, v2 or auto, or leave it empty for v1",
        ) from None


def config_from_connection(conn: Connection, **overrides: Any) -> ClientConfig:
    """Build the client configuration from an Airflow connection of type ``fateflow``.

    :param conn: the Airflow connection. ``host`` may carry a scheme (``https://fate.example``); ``schema``
        (the form's Protocol) may say ``http`` or ``https``; ``port`` defaults to 9380; ``login``/``password``
        are the app key and secret key used to sign requests when FATE Flow's client authentication is on.
    :param overrides: hook parameters that win over the connection: ``connect_timeout``, ``read_timeout``,
        ``download_timeout`` (seconds), ``max_extract_bytes``, ``retry_limit`` (total tries), ``retry_delay``,
        ``retry_max_delay`` (seconds).
    :raises FateFlowConnectionConfigError: a field holds a value the provider cannot use; the error names
        the field as the form labels it, what is wrong and what to do.
    """
    conn_id = conn.conn_id or "<unnamed>"
    extras = conn.extra_dejson or {}
    host = (conn.host or "").strip()
    if not host:
        raise FateFlowConnectionConfigError(
            conn_id, "host", "is empty", "Set it to the FATE Flow server's address, e.g. fateflow.example.org"
        )
    scheme = _as_scheme(conn_id, host, conn.schema)
    _check_address(conn_id, host, conn.port)
    api_version = _as_api_version(conn_id, _extra(extras, "api_version"))

    def pick(name: str, convert: Any) -> Any:
        value = overrides.get(name)
        return value if value is not None else convert(conn_id, name, _extra(extras, name))

    defaults = RetryPolicy()
    retry = RetryPolicy(
        attempts=pick("retry_limit", _as_int) or defaults.attempts,
        min_delay=pick("retry_delay", _as_float) or defaults.min_delay,
        max_delay=pick("retry_max_delay", _as_float) or defaults.max_delay,
    )
    settings: dict[str, Any] = {
        "host": host,  # may be a URL: its scheme and port win (ClientConfig parses it)
        "port": conn.port or DEFAULT_PORT,
        "scheme": scheme,
        "api_version": api_version,
        "app_key": conn.login or None,
        "secret_key": conn.password or None,
        "verify": _as_verify(conn_id, extras),
        "proxies": _as_proxies(conn_id, _extra(extras, "proxies")),
        "board_url": _as_board_url(conn_id, _extra(extras, "board_url")),
        "initiator_role": _as_role(conn_id, _extra(extras, "initiator_role")),
        "initiator_party_id": _as_int(conn_id, "initiator_party_id", _extra(extras, "initiator_party_id")),
        "retry": retry,
    }
    for name, convert in (("connect_timeout", _as_float), ("read_timeout", _as_float),
                          ("download_timeout", _as_float), ("max_extract_bytes", _as_int)):
        value = pick(name, convert)
        if value is not None:
            settings[name] = value
    if settings.get("max_extract_bytes", 1) <= 0:
        raise FateFlowConnectionConfigError(
            conn_id, "max_extract_bytes", f"{settings['max_extract_bytes']!r} is not a positive number of bytes",
            "Write a size in bytes above 0, or leave it empty for 2 GiB",
        )
    try:
        return ClientConfig(**settings)
    except ValueError as err:  # what only ClientConfig can tell (e.g. a port in a URL out of range)
        text = str(err).removeprefix("ClientConfig.").rstrip(".")
        field = "port" if text.startswith("port") else "host"
        raise FateFlowConnectionConfigError(conn_id, field, text, "") from None


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
    #: The connection check's connect and read timeouts (seconds) at most: it fails fast.
    TEST_CONNECT_TIMEOUT = 5.0
    TEST_READ_TIMEOUT = 15.0

    def test_connection(self) -> tuple[bool, str]:
        """Call ``version/get`` once and report the FATE version, or why the server cannot be used.

        The check fails fast: one attempt (no retries, whatever ``retry_limit`` says), a connect timeout of
        at most 5 s and a read timeout of at most 15 s. Every failure message names the form field to fix,
        what was wrong and what to do; none names the connection id (the UI tests a temporary copy).
        """
        from airflow_provider_fateflow.client import FateFlowClient

        try:
            config = self.config
        except FateFlowConnectionConfigError as err:
            return False, f"Bad connection settings: {err.field_message}"
        except Exception as err:  # the connection test must report, never raise
            return False, f"Bad connection settings: {err}"
        quick = replace(
            config,
            retry=RetryPolicy(attempts=1),
            connect_timeout=min(config.connect_timeout, self.TEST_CONNECT_TIMEOUT),
            read_timeout=min(config.read_timeout, self.TEST_READ_TIMEOUT),
        )
        try:
            if config.api_version == "v1":
                with FateFlowClient(quick) as client:
                    versions = client.version.get()
            else:  # v2 or auto: one GET tells the generations apart (client.dialect.detect_dialect)
                from airflow_provider_fateflow.client.dialect import detect_dialect

                found = detect_dialect(quick)
        except Exception as err:  # the connection test must report, never raise
            return False, explain_test_failure(quick, err)
        address = f"{config.scheme}://{config.host}:{config.port}"
        if config.api_version == "v1":
            fate = versions.get("FATE") or versions.get("FATEFlow") or "unknown"
            return True, f"Connected to FATE Flow at {config.base_url} (FATE {fate}, API {versions.get('API', 'v1')})."
        if config.api_version == "v2" and found.dialect != "v2":
            return False, (f"API version: the server at {address} speaks {found}, not v2. "
                           "Choose v1 or auto.")
        chosen = "found by auto" if config.api_version == "auto" else "as set"
        return True, f"Connected to FATE Flow at {address}: API {found} ({chosen})."

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form behaviour for Airflow 3.1 (3.2+ reads it from provider info)."""
        from airflow_provider_fateflow.get_provider_info import UI_FIELD_BEHAVIOUR

        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra connection form fields for Airflow 3.1 (3.2+ reads them from provider info).

        The same fields, labels, order and descriptions as ``CONN_FIELDS``, with no defaults: the role and
        API version are choices, TLS verification a toggle, whole numbers integer fields. Airflow 3.1 builds
        its form from these wtforms classes (it swaps in stand-ins that know String, Integer, Password and
        Boolean fields and the ``any_of`` validator), so nothing else is used here.
        """
        from wtforms import BooleanField, IntegerField, StringField
        from wtforms.validators import Optional, any_of

        try:  # the FAB widgets and translations, when a FAB UI is installed
            from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
        except ImportError:
            BS3TextAreaFieldWidget = BS3TextFieldWidget = None  # noqa: N806
            lazy_gettext = str

        widgets: dict[str, Any] = {}
        for name, field in CONN_FIELDS.items():
            schema = field["schema"]
            kind = next(t for t in schema["type"] if t != "null")
            validators: list[Any] = [Optional()]
            if "enum" in schema:
                validators.append(any_of(schema["enum"]))
            options: dict[str, Any] = {"description": field["description"], "validators": validators}
            if kind == "boolean":
                cls_ = BooleanField
            elif kind == "integer":
                cls_ = IntegerField
                if BS3TextFieldWidget is not None:
                    options["widget"] = BS3TextFieldWidget()
            else:
                cls_ = StringField
                widget = BS3TextAreaFieldWidget if kind == "object" else BS3TextFieldWidget
                if widget is not None:
                    options["widget"] = widget()
            widgets[name] = cls_(lazy_gettext(field["label"]), **options)
        return widgets


def explain_test_failure(config: ClientConfig, err: BaseException) -> str:
    """One short sentence for the Test button: what failed, which field to look at, what to do.

    :param config: the configuration the check used (its timeouts are the check's own).
    :param err: what ``version.get`` raised.
    """
    from airflow_provider_fateflow.client.errors import (
        FateFlowApiError,
        FateFlowAuthError,
        FateFlowConnectionError,
        FateFlowError,
        FateFlowResponseError,
        FateFlowTimeoutError,
    )

    url = config.base_url
    text = str(err)
    lowered = text.lower()
    port_hint = "FATE Flow's HTTP port is 9380 unless its service_conf.yaml says otherwise (8080 is FATE Board's)"
    if isinstance(err, FateFlowAuthError):
        code = f" (retcode {err.retcode})" if err.retcode is not None else ""
        return f"FATE Flow at {url} refused the credentials: {err.message}{code}. Check App key and Secret key."
    if isinstance(err, FateFlowTimeoutError):
        if "connect timeout" in lowered:
            return (
                f"No connection to {url} within {config.connect_timeout:g} s. Check Host and Port, and that "
                "this machine (and every worker and the triggerer) can reach FATE Flow through firewalls."
            )
        return (
            f"FATE Flow at {url} accepted the connection but did not answer within {config.read_timeout:g} s. "
            f"Check Port ({port_hint}) and that FATE Flow is not overloaded."
        )
    if isinstance(err, FateFlowConnectionError):
        if "wrong_version_number" in lowered or "wrong version number" in lowered or "record layer failure" in lowered:
            return (
                f"TLS handshake with {url} failed: the server does not speak TLS on port {config.port}. "
                "Set Protocol to http, or use FATE Flow's https port."
            )
        if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
            reason = "its certificate could not be verified"
            for marker in ("self-signed certificate", "self signed certificate", "hostname mismatch",
                           "certificate has expired", "unable to get local issuer certificate"):
                if marker in lowered:
                    reason = f"its certificate could not be verified ({marker})"
                    break
            return (
                f"TLS handshake with {url} failed: {reason}. Set CA bundle path to the CA that signed FATE "
                "Flow's certificate, or turn on Disable TLS verification (testing only)."
            )
        if "refused" in lowered:
            return (
                f"Nothing listens at {config.host}:{config.port} (connection refused). "
                f"Check Host and Port: {port_hint}."
            )
        if any(m in lowered for m in ("name or service not known", "nameresolution", "failed to resolve",
                                       "nodename nor servname", "temporary failure in name resolution")):
            return f"Host {config.host!r} does not resolve to an address. Check Host."
        return f"Cannot reach FATE Flow at {url}: the connection failed. Check Host, Port and Protocol."
    not_fate = (
        f"The server at {config.host}:{config.port} answered, but it is not a FATE Flow v1 server "
        f"({{what}}). Check Host and Port: {port_hint}."
    )
    if isinstance(err, FateFlowApiError) and err.retcode is None:
        status = f"HTTP {err.http_status} to POST {config.api_path}version/get" if err.http_status else "no FATE answer"
        return not_fate.format(what=status)
    if isinstance(err, FateFlowResponseError):
        status = f"HTTP {err.http_status}, " if err.http_status else ""
        excerpt = err.excerpt or ""
        title = re.search(r"<title[^>]*>([^<]{1,60})", excerpt, re.I)
        if title:
            kind = f"an HTML page titled {title.group(1).strip()!r}"
        elif "HTML" in err.message:
            kind = f"an HTML page: {excerpt[:50]!r}" if excerpt else "an HTML page"
        else:
            kind = f"an answer FATE Flow would not send: {excerpt[:50]!r}" if excerpt else "an answer FATE Flow would not send"
        return not_fate.format(what=f"{status}{kind}")
    if isinstance(err, FateFlowApiError):
        return f"FATE Flow at {url} answered version/get with an error: {err.message} (retcode {err.retcode})."
    if isinstance(err, FateFlowError):
        return f"FATE Flow at {url} could not be used: {err.message}."
    return f"Unexpected {type(err).__name__} while testing {url}: {text[:200]}"
