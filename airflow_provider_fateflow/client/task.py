"""``client.task``: task list and query (API.md §7)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_fateflow.client._base import Group, body, data_dict, data_list
from airflow_provider_fateflow.client.calls import ApiCall, nf
from airflow_provider_fateflow.client.results import TaskList, TaskRecord

__all__ = ["TaskGroup", "task_query_call"]


def _task_records(envelope: Mapping[str, Any]) -> list[TaskRecord]:
    return [TaskRecord.from_dict(r) for r in data_list(envelope)]


def task_query_call(
    job_id: str | None = None,
    role: str | None = None,
    party_id: int | str | None = None,
    component_name: str | None = None,
    status: str | None = None,
) -> ApiCall:
    """``POST job/task/query`` (idempotent). "find task failed" (101) -> ``[]``, like job.query."""
    return ApiCall(
        "task.query",
        "job/task/query",
        json=body(job_id=job_id, role=role, party_id=party_id, component_name=component_name,
                  status=getattr(status, "value", status)),
        idempotent=True,
        empty_on=nf(101, fragments="find task failed"),
        parse=_task_records,
    )


def _task_list(envelope: Mapping[str, Any]) -> TaskList:
    data = data_dict(envelope)
    return TaskList([TaskRecord.from_dict(t) for t in data.get("tasks") or []], int(data.get("count") or 0), data)


class TaskGroup(Group):
    """Task operations, with the FATE Flow SDK's names and arguments."""

    __slots__ = ()

    def list(
        self,
        limit: int = 10,
        *,
        page: int | None = None,
        order_by: str | None = None,
        order: str | None = None,
        job_id: str | None = None,
        role: str | None = None,
        party_id: int | str | None = None,
        component_name: str | None = None,
    ) -> TaskList:
        """``POST job/list/task`` (default order: create_time asc).

        :param limit: page size (default 10; 0 = unlimited).
        """
        return self._run(ApiCall(
            "task.list", "job/list/task",
            json=body(limit=limit, page=page, order_by=order_by, order=order, job_id=job_id, role=role,
                      party_id=party_id, component_name=component_name),
            idempotent=True, parse=_task_list,
        ))

    def query(
        self,
        job_id: str | None = None,
        role: str | None = None,
        party_id: int | str | None = None,
        component_name: str | None = None,
        status: str | None = None,
    ) -> list[TaskRecord]:
        """Latest task version per task, role and party; ``[]`` when nothing matches."""
        return self._run(task_query_call(job_id, role, party_id, component_name, status))
