"""Local input handling: JSON args given as dicts or files, and shallow conf/DSL validation.

Everything here raises :class:`FateFlowInputError` before any request is sent.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client.errors import FateFlowInputError

__all__ = ["load_json_arg", "validate_job_conf", "validate_dsl", "party_id_int", "resolve_local_file"]


def load_json_arg(value: Mapping[str, Any] | str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A dict from a mapping, or from a JSON file path.

    Relative paths are resolved against the current working directory (not the FATE install dir as
    the SDK does). A JSON *string* (starting with ``{``) is accepted too.

    :param value: a mapping, a path to a JSON file, or a JSON object text.
    :param what: what the value is, for messages (e.g. ``"job conf"``).
    :raises FateFlowInputError: missing/unreadable file, invalid JSON (with line and column), not an object.
    """
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return _decode(value, f"{what} (inline JSON)")
    if not isinstance(value, (str, os.PathLike)):
        raise FateFlowInputError(f"{what}: expected a dict or a JSON file path, got {type(value).__name__}")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FateFlowInputError(f"{what}: file not found: {str(path)!r}") from None
    except OSError as exc:
        raise FateFlowInputError(f"{what}: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return _decode(text, f"{what} file {str(path)!r}")


def _decode(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FateFlowInputError(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise FateFlowInputError(f"{where}: expected a JSON object, got {type(data).__name__}")
    return data


def party_id_int(value: Any, where: str) -> int:
    """An integer party id from an int or an int-like string (bools refused)."""
    if isinstance(value, bool):
        raise FateFlowInputError(f"{where}: {value!r} is not an integer party id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise FateFlowInputError(f"{where}: {value!r} is not an integer party id")


def validate_job_conf(conf: Mapping[str, Any], *, what: str = "conf", check_dsl_version: bool = True) -> None:
    """Shallow checks of a DSL v2 runtime conf (deep validation is the server's job).

    Checks ``initiator.role``/``initiator.party_id``, the ``role`` mapping of lists of integer party
    ids, that the initiator appears in its role list, and ``dsl_version == 2`` unless the job is a
    predict job.

    :param check_dsl_version: check ``dsl_version`` (off for model load/bind confs, which have none).
    :raises FateFlowInputError: naming the path in the conf, e.g. ``conf.role.host[0]``.
    """
    if not isinstance(conf, Mapping):
        raise FateFlowInputError(f"{what}: expected a JSON object, got {type(conf).__name__}")
    initiator = conf.get("initiator")
    if not isinstance(initiator, Mapping):
        raise FateFlowInputError(f"{what}.initiator: missing (needs role and party_id)")
    role = initiator.get("role")
    if not isinstance(role, str) or not role:
        raise FateFlowInputError(f"{what}.initiator.role: missing or not a string")
    if initiator.get("party_id") is None:
        raise FateFlowInputError(f"{what}.initiator.party_id: missing")
    party = party_id_int(initiator.get("party_id"), f"{what}.initiator.party_id")
    roles = conf.get("role")
    if not isinstance(roles, Mapping) or not roles:
        raise FateFlowInputError(f"{what}.role: missing (a mapping of role name to a list of party ids)")
    for name, parties in roles.items():
        if not isinstance(parties, (list, tuple)) or not parties:
            raise FateFlowInputError(f"{what}.role.{name}: expected a non-empty list of party ids")
        for i, p in enumerate(parties):
            party_id_int(p, f"{what}.role.{name}[{i}]")
    if role not in roles:
        raise FateFlowInputError(f"{what}.role.{role}: the initiator's role {role!r} has no party list")
    if party not in {party_id_int(p, f"{what}.role.{role}") for p in roles[role]}:
        raise FateFlowInputError(f"{what}.role.{role}: the initiator party {party} is not listed")
    job_type = (((conf.get("job_parameters") or {}).get("common") or {}).get("job_type")
                if isinstance(conf.get("job_parameters"), Mapping) else None)
    if check_dsl_version and job_type != "predict":
        version = conf.get("dsl_version")
        try:
            ok = int(version) == 2  # type: ignore[arg-type]
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise FateFlowInputError(f"{what}.dsl_version: must be 2 (FATE 1.7+ accepts only DSL v2), got {version!r}")


def validate_dsl(dsl: Mapping[str, Any], *, what: str = "dsl") -> None:
    """A DSL must hold a non-empty ``components`` mapping.

    :raises FateFlowInputError: ``dsl.components: missing or empty``.
    """
    if not isinstance(dsl, Mapping):
        raise FateFlowInputError(f"{what}: expected a JSON object, got {type(dsl).__name__}")
    components = dsl.get("components")
    if not isinstance(components, Mapping) or not components:
        raise FateFlowInputError(f"{what}.components: missing or empty")
    for name, spec in components.items():
        if not isinstance(spec, Mapping) or not spec.get("module"):
            raise FateFlowInputError(f"{what}.components.{name}.module: missing")


def resolve_local_file(path: str | os.PathLike[str], what: str) -> Path:
    """An existing regular file, relative paths resolved against the current working directory."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path.cwd() / p
    if not p.is_file():
        raise FateFlowInputError(f"{what}: file not found: {str(p)!r}")
    return p
