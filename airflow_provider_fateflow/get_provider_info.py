"""Provider metadata returned through the ``apache_airflow_provider`` entry point.

Airflow calls :func:`get_provider_info` at discovery; it must stay import-light (no Airflow imports).
"""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow import __version__

INTEGRATION = "FATE Flow"
_PKG = "airflow_provider_fateflow"


#: The project's public home: the README there is the documentation. setup.py declares the same URL as the
#: ``Homepage``/``Source``/``Documentation`` project URLs (the Providers page links the package name to
#: ``Documentation``); the description names it too, which the Providers page shows as a link.
PROJECT_URL = "https://github.com/airflow-provider-fateflow/airflow-provider-fateflow"
FATE_FLOW_URL = "https://github.com/FederatedAI/FATE-Flow"

#: Choices of the connection's ``initiator_role`` extra (FATE's party roles).
ROLES = ("guest", "host", "arbiter", "local")
#: Choices of the connection's ``api_version`` extra; unset means ``v1``.
API_VERSIONS = ("v1", "v2", "auto")


def _field(label: str, description: str, kind: str, **schema: Any) -> dict[str, Any]:
    """One declarative connection field (Airflow 3.2+): never a ``default``, so the form pre-fills nothing.

    A field the user leaves empty is saved as null (or not at all), which the hook reads as "unset": the
    provider's default applies, and a later change of that default reaches connections saved earlier.
    """
    return {"label": label, "description": description, "schema": {"type": [kind, "null"], **schema}}


#: Extra fields of a ``fateflow`` connection, in form order: what a user sets first (where FATE Board is,
#: which party this Airflow acts as), then the dialect, TLS and proxies, then tuning.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "board_url": _field(
        "FATE Board URL",
        "Base URL of FATE Board for the task links, with its scheme, e.g. http://fateboard.example:8080. "
        "Empty: the link FATE Flow itself reports.",
        "string",
    ),
    "initiator_role": _field(
        "Default role",
        "Role this Airflow acts as when a task gives none (guest, host, arbiter or local).",
        "string",
        enum=list(ROLES),
    ),
    "initiator_party_id": _field(
        "Default party id", "Party id this Airflow acts as when a task gives none, e.g. 9999.", "integer"
    ),
    "api_version": _field(
        "API version",
        "FATE Flow REST dialect: v1 (FATE 1.x), v2 (FATE 2.x) or auto (ask the server). Empty: v1.",
        "string",
        enum=list(API_VERSIONS),
    ),
    "disable_tls_verify": _field(
        "Disable TLS verification",
        "On: accept any certificate from an https FATE Flow (testing only). Off (default): verify it.",
        "boolean",
    ),
    "ca_bundle": _field(
        "CA bundle path",
        "Path, on every worker and the triggerer, of the CA bundle that signed FATE Flow's certificate, "
        "e.g. /etc/ssl/certs/fate-ca.pem. Empty: the system's CAs.",
        "string",
    ),
    "proxies": _field(
        "Proxies (JSON)",
        'A JSON object mapping a scheme to a proxy URL, e.g. {"https": "http://proxy.example:3128"}. '
        "Empty: no proxy (and none from the environment).",
        "object",
    ),
    "connect_timeout": _field("Connect timeout (s)", "Seconds to wait for a TCP/TLS connection. Empty: 10.", "number"),
    "read_timeout": _field(
        "Read timeout (s)",
        "Seconds to wait for an answer; job.stop of a running job can take ~40 s. Empty: 60.",
        "number",
    ),
    "download_timeout": _field(
        "Download timeout (s)",
        "Seconds to wait for a file answer (table/output data downloads, model export, logs): FATE builds "
        "the archive before its first byte. Empty: 600.",
        "number",
    ),
    "max_extract_bytes": _field(
        "Largest unpacked download (bytes)",
        "A downloaded archive that unpacks to more is refused. Empty: 2147483648 (2 GiB).",
        "integer",
    ),
    "retry_limit": _field(
        "Retry attempts", "Total tries of a safe-to-repeat request (queries, lists, downloads). Empty: 5.", "integer"
    ),
    "retry_delay": _field("Retry delay (s)", "First backoff delay; it doubles up to the maximum. Empty: 1.", "number"),
    "retry_max_delay": _field("Retry max delay (s)", "Longest backoff delay. Empty: 30.", "number"),
}

#: Form behaviour of a ``fateflow`` connection (Airflow 3.2+; the hook method serves 3.1). Airflow's form
#: shows placeholders on the standard fields only; each extra field's description carries its example.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": [],
    "relabeling": {"login": "App key", "password": "Secret key", "schema": "Protocol"},
    "placeholders": {
        "host": "fateflow.example.org",
        "port": "9380",
        "schema": "http or https",
        "login": "app key (only when client authentication is on)",
        "password": "secret key (only when client authentication is on)",
    },
}


#: Task modules, filled in as operators, sensors and triggers land; a test imports every listed module.
MODULES: dict[str, list[str]] = {
    "hooks": [f"{_PKG}.hooks.fateflow"],
    "operators": [
        f"{_PKG}.operators.job",
        f"{_PKG}.operators.data",
        f"{_PKG}.operators.component",
        f"{_PKG}.operators.model",
    ],
    "sensors": [f"{_PKG}.sensors.fateflow"],
    "triggers": [f"{_PKG}.triggers.fateflow"],
}
EXTRA_LINKS: list[str] = [f"{_PKG}.links.fateboard.FateBoardLink"]


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's providers manager."""
    return {
        "package-name": "airflow-provider-fateflow",
        "name": "FATE Flow",
        "description": (
            "Run FATE federated-learning jobs from Apache Airflow through FATE Flow's REST API. "
            f"Home and documentation: {PROJECT_URL}"
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": FATE_FLOW_URL,
                "tags": ["software"],
            }
        ],
        **{
            kind: [{"integration-name": INTEGRATION, "python-modules": modules}]
            for kind, modules in MODULES.items()
            if modules
        },
        "connection-types": [
            {
                "connection-type": "fateflow",
                "hook-class-name": f"{_PKG}.hooks.fateflow.FateFlowHook",
                "hook-name": "FATE Flow",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        "extra-links": EXTRA_LINKS,
    }
