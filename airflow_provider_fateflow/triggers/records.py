"""What a wait reports, shared by the sensors and the triggers.

No Airflow imports: a sensor module uses these without loading the trigger machinery at DAG parse time.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["compact_record", "evaluate_tasks"]

_JOB_KEYS = (
    "f_job_id", "f_role", "f_party_id", "f_status", "f_status_code", "f_progress", "f_is_initiator",
    "f_initiator_role", "f_initiator_party_id", "f_description", "f_tag", "f_create_time", "f_start_time",
    "f_end_time", "f_elapsed",
)
_TASK_KEYS = (
    "f_job_id", "f_component_name", "f_component_module", "f_task_id", "f_task_version", "f_role",
    "f_party_id", "f_status", "f_party_status", "f_error_report", "f_start_time", "f_end_time", "f_elapsed",
)
_MAX_REPORT = 4000


def compact_record(raw: Mapping[str, Any] | None, task: bool = False) -> dict[str, Any]:
    """A record without its (large) conf and DSL, for trigger events and XCom."""
    if not raw:
        return {}
    out: dict[str, Any] = {}
    for key in _TASK_KEYS if task else _JOB_KEYS:
        plain = key[2:]
        if key in raw:
            out[key] = raw[key]
        elif plain in raw:
            out[key] = raw[plain]
    report = out.get("f_error_report")
    if isinstance(report, str) and len(report) > _MAX_REPORT:
        out["f_error_report"] = report[:_MAX_REPORT] + "..."
    return out


def evaluate_tasks(rows: Sequence[Any], targets: Iterable[str]) -> tuple[str | None, Any]:
    """``("success", row)`` when every row reached a target status, ``("failed", row)`` when one ended
    in a terminal status that is not a target, else ``(None, first unfinished row)``."""
    targets = set(targets)
    pending = None
    for row in rows:
        status = row.status.value
        if status in targets:
            continue
        if row.status.is_terminal:
            return "failed", row
        pending = pending or row
    if pending is None:
        return "success", rows[0]
    return None, pending
