"""The "FATE Board" extra link of every task that runs or watches a FATE job.

Airflow 3 way: the operator pushes the URL to XCom under ``board_url`` at execute time (built from the
connection's FATE Board base URL, so a link never points at FATE Flow's own ``127.0.0.1``), and the
link reads it back. The worker calls :meth:`FateBoardLink.get_link` when the task finishes and stores
the result; the API server only reads that stored value, it never runs provider code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

#: XCom key holding the FATE Board URL of the task's job.
BOARD_URL_XCOM_KEY = "board_url"
#: XCom key holding the FATE job id of the task.
JOB_ID_XCOM_KEY = "job_id"


def build_board_url(
    base_url: str | None,
    *,
    job_id: str,
    role: str | None,
    party_id: Any,
    server_url: str | None = None,
) -> str | None:
    """The FATE Board dashboard URL of one job, as FATE Flow builds it (API.md §12).

    :param base_url: FATE Board base URL from the connection (``board_url`` extra), e.g.
        ``http://board:8080``. When unset, ``server_url`` is returned unchanged.
    :param job_id: the FATE job id.
    :param role: the role whose view to open (the initiator's for a job; ``local`` for data jobs).
    :param party_id: the party whose view to open.
    :param server_url: the ``board_url`` FATE Flow returned, if any (role/party are read from it when
        ``role``/``party_id`` are not given).
    """
    if not base_url:
        return server_url or None
    if server_url and (role is None or party_id is None):
        query = parse_qs(urlsplit(server_url).fragment.partition("?")[2])
        role = role if role is not None else (query.get("role") or [None])[0]
        party_id = party_id if party_id is not None else (query.get("party_id") or [None])[0]
    params = {"job_id": job_id, "role": role if role is not None else "", "party_id": party_id if party_id is not None else ""}
    return f"{base_url.rstrip('/')}/index.html#/dashboard?{urlencode(params)}"


def role_party_from_board_url(url: str | None) -> tuple[str | None, str | None]:
    """``(role, party_id)`` read from a FATE Board dashboard URL (``(None, None)`` if absent)."""
    if not url:
        return None, None
    query = parse_qs(urlsplit(url).fragment.partition("?")[2]) or parse_qs(urlsplit(url).query)
    return (query.get("role") or [None])[0], (query.get("party_id") or [None])[0]


class FateBoardLink(BaseOperatorLink):
    """Opens the task's FATE job in FATE Board (read from the ``board_url`` XCom of the task)."""

    name = "FATE Board"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        try:
            value = XCom.get_value(ti_key=ti_key, key=BOARD_URL_XCOM_KEY)
        except Exception:  # a link must never fail the task or the UI
            return ""
        return str(value) if value else ""
