"""The "FATE Board" extra link of every task that runs or watches a FATE job.

Airflow 3 way: when the task finishes, the worker calls :meth:`FateBoardLink.get_link` and stores the
result; the API server only reads that stored value, it never runs provider code. The link is the URL the
task kept while it ran (built by :func:`~airflow_provider_fateflow.client.board.board_url` from the
connection's FATE Board base URL, so a link never points at FATE Flow's own ``127.0.0.1``); the task also
pushes it to XCom ``board_url`` for downstream tasks. A task that never got a job (it failed first, or
downloaded a table to the worker) has no link, and the link does not ask XCom for one that is not there.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

#: XCom key holding the FATE Board URL of the task's job.
BOARD_URL_XCOM_KEY = "board_url"
#: XCom key holding the FATE job id of the task.
JOB_ID_XCOM_KEY = "job_id"


class FateBoardLink(BaseOperatorLink):
    """Opens the task's FATE job in FATE Board."""

    name = "FATE Board"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return str(getattr(operator, "fateflow_board_url", None) or "")
