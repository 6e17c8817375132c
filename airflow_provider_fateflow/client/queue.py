"""``client.queue``: cancel every waiting job this Flow initiated (API.md §10)."""
from __future__ import annotations

from airflow_provider_fateflow.client._base import Group, data_dict
from airflow_provider_fateflow.client.calls import ApiCall

__all__ = ["QueueGroup"]


class QueueGroup(Group):
    """Queue operations."""

    __slots__ = ()

    def clean(self) -> dict[str, int]:
        """Cancel all waiting jobs initiated here (``POST job/clean/queue``, no body). Not retried.

        :returns: ``{job_id: federated status code}`` (0 = stopped at every party).
        """
        return self._run(ApiCall("queue.clean", "job/clean/queue", parse=data_dict))
