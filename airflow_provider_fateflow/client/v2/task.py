"""``client.v2.task``: FATE Flow 2.x task queries, with the v2 SDK's names and argument order."""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client.results import TaskList, TaskRecord
from airflow_provider_fateflow.client.v2._group import V2Group
from airflow_provider_fateflow.client.v2._wire import TASK_NOT_FOUND, V2Call, params, task_list, task_records

__all__ = ["TaskGroupV2", "task_query_call"]


def task_query_call(job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
                    task_name: str | None = None, status: str | None = None, task_id: str | None = None,
                    task_version: int | None = None) -> Any:
    """``GET job/task/query`` (idempotent); "No found task" (2000) gives ``[]``, as v1's task.query."""
    return V2Call("task.query", "job/task/query", method="GET",
                  query=params(job_id=job_id, role=role, party_id=party_id, task_name=task_name, status=status,
                               task_id=task_id, task_version=task_version),
                  idempotent=True, empty_on=TASK_NOT_FOUND, parse=task_records)


class TaskGroupV2(V2Group):
    """Task operations of FATE Flow 2.x (``fate_client.flow_sdk`` ``Task``)."""

    __slots__ = ()

    def query(self, job_id: str | None = None, role: str | None = None, party_id: int | str | None = None,
              task_name: str | None = None, status: str | None = None, task_id: str | None = None,
              task_version: int | None = None) -> list[TaskRecord]:
        """Task rows, one per (task, role, party); a failed task's ``error_report`` holds FATE's error."""
        return self._run(task_query_call(job_id, role, party_id, task_name, status, task_id, task_version))

    def query_task_list(self, limit: int | None = None, page: int | None = None, job_id: str | None = None,
                        role: str | None = None, party_id: int | str | None = None, task_name: str | None = None,
                        order_by: str | None = None, order: str | None = None) -> TaskList:
        """A page of task rows (``GET job/task/list/query``) and ``count`` = all matching rows."""
        return self._run(V2Call(
            "task.query_task_list", "job/task/list/query", method="GET",
            query=params(limit=limit, page=page, job_id=job_id, role=role, party_id=party_id, task_name=task_name,
                         order_by=order_by, order=order),
            idempotent=True, parse=task_list,
        ))
