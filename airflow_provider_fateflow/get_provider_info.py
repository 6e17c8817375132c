"""Provider metadata returned through the ``apache_airflow_provider`` entry point.

Airflow calls :func:`get_provider_info` at discovery; it must stay import-light (no Airflow imports).
"""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow import __version__

INTEGRATION = "FATE Flow"
_PKG = "airflow_provider_fateflow"


def _string(label: str, description: str, *, default: Any = None, secret: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


def _number(label: str, description: str, *, default: float | None = None, integer: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["integer" if integer else "number", "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


#: Extra fields of a ``fateflow`` connection, as shown in the connection form (Airflow 3.2+).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "api_version": _string("API version", "FATE Flow REST API version; only v1 (FATE 1.x) is supported.", default="v1"),
    "connect_timeout": _number("Connect timeout (s)", "Seconds to wait for a TCP/TLS connection.", default=10),
    "read_timeout": _number(
        "Read timeout (s)", "Seconds to wait for an answer; job.stop of a running job can take ~40 s.", default=60
    ),
    "download_timeout": _number(
        "Download timeout (s)",
        "Seconds to wait for a file answer (table/output data downloads, model export, logs): FATE builds "
        "the archive before its first byte.",
        default=600,
    ),
    "max_extract_bytes": _number(
        "Largest unpacked download (bytes)", "A downloaded archive that unpacks to more is refused.",
        default=2 * 1024**3, integer=True,
    ),
    "verify": _string(
        "TLS verify", "true, false, or the path of a CA bundle on the worker (https only).", default="true"
    ),
    "proxies": _string("Proxies", 'JSON object, e.g. {"https": "http://proxy:3128"}.'),
    "board_url": _string(
        "FATE Board URL", "Base URL of FATE Board for task links, e.g. http://fateboard.example:8080."
    ),
    "initiator_role": _string(
        "Default role", "Role used when an operation needs one and none is given (guest, host, arbiter, local)."
    ),
    "initiator_party_id": _number(
        "Default party id", "Party id used when an operation needs one and none is given.", integer=True
    ),
    "retry_limit": _number("Retry attempts", "Total tries of a safe-to-repeat request.", default=5, integer=True),
    "retry_delay": _number("Retry delay (s)", "First backoff delay; it doubles up to the maximum.", default=1),
    "retry_max_delay": _number("Retry max delay (s)", "Longest backoff delay.", default=30),
}

#: Form behaviour of a ``fateflow`` connection (Airflow 3.2+; the hook method serves 3.1).
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
        "description": "Run FATE federated-learning jobs from Apache Airflow through FATE Flow's v1 REST API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://github.com/FederatedAI/FATE-Flow",
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
