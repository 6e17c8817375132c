"""``client.v2.table``: FATE Flow 2.x table operations, with the v2 SDK's names and argument order."""
from __future__ import annotations

from typing import Any

from airflow_provider_fateflow.client.results import TableInfo
from airflow_provider_fateflow.client.v2._group import V2Group
from airflow_provider_fateflow.client.v2._wire import (
    TABLE_NOT_FOUND,
    V2Call,
    body,
    data_of,
    params,
    require,
    table_info,
)

__all__ = ["TableGroupV2", "table_query_call"]


def table_query_call(namespace: str, name: str, display: bool | None = None) -> Any:
    """``GET table/query`` (idempotent); a missing table (7001) gives ``TableInfo(exists=False)``."""
    return V2Call("table.query", "table/query", method="GET",
                  query=params(namespace=require(namespace, "namespace", "table.query"),
                               name=require(name, "name", "table.query"), display=display),
                  idempotent=True, empty_on=TABLE_NOT_FOUND, parse=table_info(namespace, name))


class TableGroupV2(V2Group):
    """Table operations of FATE Flow 2.x (``fate_client.flow_sdk`` ``Table``)."""

    __slots__ = ()

    def query(self, namespace: str, name: str, display: bool | None = None) -> TableInfo:
        """Table metadata (count, partitions, schema); ``exists`` is False for a missing table.

        :param display: also return a few rows (in ``raw["display"]``).
        """
        return self._run(table_query_call(namespace, name, display))

    def delete(self, namespace: str, name: str) -> None:
        """Destroy a table (``POST table/delete``). Not retried.

        :raises FateFlowNotFoundError: no such table (7001).
        """
        self._run(V2Call("table.delete", "table/delete",
                         json=body(namespace=require(namespace, "namespace", "table.delete"),
                                   name=require(name, "name", "table.delete")),
                         not_found=TABLE_NOT_FOUND, parse=data_of))

    def bind_path(self, namespace: str, name: str, path: str) -> None:
        """Register a directory **on the FATE Flow host** as table ``namespace``/``name`` (``POST table/bind/path``).

        In 2.2.0 standalone such a ``path`` table cannot be deleted with ``delete`` (the server answers
        6000 ``NotImplementedError``), as recorded.
        """
        self._run(V2Call("table.bind_path", "table/bind/path",
                         json=body(namespace=require(namespace, "namespace", "table.bind_path"),
                                   name=require(name, "name", "table.bind_path"),
                                   path=require(path, "path", "table.bind_path")),
                         parse=data_of))
