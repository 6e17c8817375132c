"""``client.v2.log``: FATE Flow 2.x log lines, with the v2 SDK's names and argument order."""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client.v2._group import V2Group
from airflow_provider_fateflow.client.v2._wire import V2Call, data_of, params, require

__all__ = ["LogGroupV2", "LOG_TYPES"]

#: Job-level and task-level log types (fate_flow/manager/outputs/log.py).
LOG_TYPES = ("schedule_info", "schedule_error", "task_error", "task_info", "task_warning", "task_debug")


class LogGroupV2(V2Group):
    """Log operations of FATE Flow 2.x (``fate_client.flow_sdk`` ``Log``)."""

    __slots__ = ()

    def count(self, log_type: str, job_id: str, role: str | None = None, party_id: int | str | None = None,
              task_name: str | None = None, instance_id: str | None = None) -> int:
        """Number of lines of one log (``GET log/count``)."""
        return int(self._run(V2Call(
            "log.count", "log/count", method="GET",
            query=params(log_type=require(log_type, "log_type", "log.count"),
                         job_id=require(job_id, "job_id", "log.count"), role=role, party_id=party_id,
                         task_name=task_name, instance_id=instance_id),
            idempotent=True, parse=data_of,
        )) or 0)

    def query(self, log_type: str, job_id: str, role: str, party_id: int | str, task_name: str | None = None,
              begin: int | None = None, end: int | None = None, instance_id: str | None = None) -> list[dict[str, Any]]:
        """Lines ``begin``..``end`` of one log (``GET log/query``): ``[{"line": n, "content": "..."}]``.

        A failed task's ``task_error`` log names the error, e.g. ``Check failed[{"code":7001,"message":"No found
        table: ..."}]``. ``role`` and ``party_id`` are required by the server (5001 otherwise).
        """
        op = "log.query"
        return list(self._run(V2Call(
            op, "log/query", method="GET",
            query=params(log_type=require(log_type, "log_type", op), job_id=require(job_id, "job_id", op),
                         role=require(role, "role", op), party_id=require(party_id, "party_id", op),
                         task_name=task_name, begin=begin, end=end, instance_id=instance_id),
            idempotent=True, parse=data_of,
        )) or [])
