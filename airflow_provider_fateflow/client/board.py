"""The FATE Board link of a job: the one place it is built (API.md §12)."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["board_url", "local_board_url", "board_role_party"]

_DASHBOARD = "/index.html#/dashboard?"


def board_role_party(url: str | None) -> tuple[str | None, str | None]:
    """``(role, party_id)`` read from a FATE Board dashboard URL (``(None, None)`` when absent)."""
    if not url:
        return None, None
    parts = urlsplit(url)
    query = parse_qs(parts.fragment.partition("?")[2]) or parse_qs(parts.query)
    return (query.get("role") or [None])[0], (query.get("party_id") or [None])[0]


def board_url(base: str | None, *, job_id: str, role: str | None = None, party_id: Any = None,
              server_url: str | None = None) -> str | None:
    """The FATE Board dashboard URL of one job's view by one party.

    :param base: FATE Board base URL (the connection's ``board_url`` extra), e.g. ``http://board:8080``; a
        trailing ``/`` is ignored. When unset, ``server_url`` (FATE Flow's own link) is returned as is, since
        FATE Flow knows where its board is only by its own settings.
    :param job_id: the FATE job id.
    :param role: the role whose view to open (the initiator's for a job; ``local`` for upload, download and
        model store/restore jobs); read from ``server_url`` when None.
    :param party_id: the party whose view to open; read from ``server_url`` when None.
    :param server_url: the link FATE Flow returned, if any.
    :returns: the URL, or None when there is neither a base nor a server link.
    """
    if not base:
        return server_url or None
    if server_url and (role is None or party_id is None):
        server_role, server_party = board_role_party(server_url)
        role = role if role is not None else server_role
        party_id = party_id if party_id is not None else server_party
    query = urlencode({"job_id": job_id, "role": "" if role is None else role,
                       "party_id": "" if party_id is None else party_id})
    return f"{base.rstrip('/')}{_DASHBOARD}{query}"


def local_board_url(base: str | None, *, job_id: str, server_url: str | None = None, party_id: Any = 0) -> str | None:
    """The link of a local job (upload, server-side download, model store/restore).

    The role is ``local`` and the party the one in FATE Flow's own link (FATE runs these jobs as party 0,
    as recorded), else ``party_id``.
    """
    _, server_party = board_role_party(server_url)
    return board_url(base, job_id=job_id, role="local", party_id=server_party if server_party is not None else party_id,
                     server_url=server_url)
