"""The sandbox's state in sqlite (stdlib): jobs, tasks, tables, metrics, outputs, models, engine plans.

One connection guarded by a re-entrant lock is shared by the HTTP handlers and the engine
thread. With a ``state_dir`` the database lives in ``<state_dir>/sandbox.db`` (WAL mode), so a
restarted sandbox keeps everything; without one it is ``:memory:``.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL, status TEXT NOT NULL,
    is_initiator INTEGER NOT NULL, tag TEXT NOT NULL, description TEXT NOT NULL,
    create_time INTEGER NOT NULL, rec TEXT NOT NULL, PRIMARY KEY (job_id, role, party_id));
CREATE INDEX IF NOT EXISTS jobs_ctime ON jobs (create_time);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, is_initiator);
CREATE TABLE IF NOT EXISTS tasks (
    job_id TEXT NOT NULL, component_name TEXT NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL,
    status TEXT NOT NULL, create_time INTEGER NOT NULL, rec TEXT NOT NULL,
    PRIMARY KEY (job_id, component_name, role, party_id));
CREATE INDEX IF NOT EXISTS tasks_ctime ON tasks (create_time);
CREATE TABLE IF NOT EXISTS plans (job_id TEXT PRIMARY KEY, active INTEGER NOT NULL, plan TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS plans_active ON plans (active);
CREATE TABLE IF NOT EXISTS tables_ (
    namespace TEXT NOT NULL, name TEXT NOT NULL, rec TEXT NOT NULL, PRIMARY KEY (namespace, name));
CREATE TABLE IF NOT EXISTS metrics (
    job_id TEXT NOT NULL, component_name TEXT NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL,
    namespace TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_key ON metrics (job_id, component_name, role, party_id);
CREATE TABLE IF NOT EXISTS outputs (
    job_id TEXT NOT NULL, component_name TEXT NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL,
    data_name TEXT NOT NULL, seq INTEGER NOT NULL, rec TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outputs_key ON outputs (job_id, component_name, role, party_id);
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT NOT NULL, model_version TEXT NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL,
    rec TEXT NOT NULL, PRIMARY KEY (model_id, model_version, role, party_id));
CREATE INDEX IF NOT EXISTS models_version ON models (model_version);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""

JOB_COLUMNS = {"job_id", "role", "party_id", "status", "is_initiator", "tag", "description"}


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class Store:
    """Thread-safe access to the sandbox database.

    :param state_dir: directory holding ``sandbox.db``; None for an in-memory database.
    """

    def __init__(self, state_dir: str | Path | None) -> None:
        self.lock = threading.RLock()
        if state_dir:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            path = str(Path(state_dir) / "sandbox.db")
        else:
            path = ":memory:"
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if state_dir:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self.db.close()

    # -- generic -------------------------------------------------------------------------------------------------
    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.db.execute(sql, tuple(args)).fetchall()

    def _exec(self, sql: str, args: Iterable[Any] = ()) -> int:
        with self.lock:
            return self.db.execute(sql, tuple(args)).rowcount

    def transaction(self) -> "_Tx":
        """``with store.transaction():`` groups writes in one sqlite transaction."""
        return _Tx(self)

    # -- jobs ----------------------------------------------------------------------------------------------------
    def put_job(self, rec: dict[str, Any]) -> None:
        """Insert or replace one job row."""
        self._exec(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (job_id, role, party_id) DO UPDATE SET "
            "status=excluded.status, is_initiator=excluded.is_initiator, tag=excluded.tag, "
            "description=excluded.description, rec=excluded.rec",
            (rec["f_job_id"], rec["f_role"], rec["f_party_id"], rec["f_status"], int(rec["f_is_initiator"]),
             rec["f_tag"], rec["f_description"] or "", rec["f_create_time"], _dump(rec)))

    def job_rows(self, job_id: str) -> list[dict[str, Any]]:
        """Every (role, party) row of one job."""
        return [json.loads(r[0]) for r in self._rows("SELECT rec FROM jobs WHERE job_id=?", (job_id,))]

    def update_job(self, job_id: str, fn: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
        """Apply ``fn`` to every row of a job and save them; returns the rows."""
        with self.lock, self.transaction():
            rows = self.job_rows(job_id)
            for rec in rows:
                fn(rec)
                self.put_job(rec)
            return rows

    def _query(self, table: str, columns: Iterable[str], filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``table`` in creation order, filtered exactly: keys in ``columns`` in SQL, other keys on the
        record's ``f_<key>`` where it has one; dict and list values are ignored."""
        where, args = [], []
        post: dict[str, Any] = {}
        for key, val in filters.items():
            if isinstance(val, (dict, list)):
                continue
            if key in columns:
                where.append(f"{key}=?")
                args.append(int(bool(val)) if key == "is_initiator" else str(val))
            else:
                post[key] = val
        sql = f"SELECT rec FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
        out = []
        for (raw,) in self._rows(sql + " ORDER BY create_time, rowid", args):
            rec = json.loads(raw)
            if all(f"f_{k}" not in rec or str(rec[f"f_{k}"]) == str(v) for k, v in post.items()):
                out.append(rec)
        return out

    def query_jobs(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """``JobSaver.query_job``: exact filters on job columns (other keys are ignored)."""
        return self._query("jobs", JOB_COLUMNS, filters)

    def list_jobs(self, where: list[str], args: list[Any], order_by: str, order: str, limit: int,
                  page: int) -> tuple[int, list[dict[str, Any]]]:
        """Filtered, ordered, paged job rows, plus the total count."""
        cond = " WHERE " + " AND ".join(where) if where else ""
        count = self._rows(f"SELECT COUNT(*) FROM jobs{cond}", args)[0][0]
        col = {"job_id": "job_id", "create_time": "create_time"}.get(order_by)
        sql = f"SELECT rec FROM jobs{cond}"
        if col:
            sql += f" ORDER BY {col} {order}, rowid {order}"
        if limit > 0:
            sql += f" LIMIT {int(limit)} OFFSET {int(max(page - 1, 0) * limit)}"
        recs = [json.loads(r[0]) for r in self._rows(sql, args)]
        if not col:
            recs.sort(key=lambda r: (r.get(f"f_{order_by}") is None, r.get(f"f_{order_by}") or 0),
                      reverse=order == "desc")
        return count, recs

    def count_distinct_jobs(self) -> int:
        """Number of distinct job ids."""
        return self._rows("SELECT COUNT(DISTINCT job_id) FROM jobs")[0][0]

    def waiting_initiator_jobs(self) -> list[str]:
        """Ids of waiting jobs whose initiator is on this Flow."""
        return [r[0] for r in self._rows(
            "SELECT job_id FROM jobs WHERE status='waiting' AND is_initiator=1 ORDER BY create_time")]

    # -- tasks ---------------------------------------------------------------------------------------------------
    def put_task(self, rec: dict[str, Any]) -> None:
        """Insert or replace one task row."""
        self._exec("INSERT INTO tasks VALUES (?,?,?,?,?,?,?) ON CONFLICT (job_id, component_name, role, party_id) "
                   "DO UPDATE SET status=excluded.status, rec=excluded.rec",
                   (rec["f_job_id"], rec["f_component_name"], rec["f_role"], rec["f_party_id"], rec["f_status"],
                    rec["f_create_time"], _dump(rec)))

    def tasks(self, job_id: str, component_name: str | None = None) -> list[dict[str, Any]]:
        """Task rows of a job (optionally of one component), in creation order."""
        if component_name is None:
            rows = self._rows("SELECT rec FROM tasks WHERE job_id=? ORDER BY create_time, rowid", (job_id,))
        else:
            rows = self._rows("SELECT rec FROM tasks WHERE job_id=? AND component_name=? ORDER BY rowid",
                              (job_id, component_name))
        return [json.loads(r[0]) for r in rows]

    def query_tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Exact filters on task columns; unknown keys ignored."""
        return self._query("tasks", ("job_id", "component_name", "role", "party_id", "status"), filters)

    def list_tasks(self, where: list[str], args: list[Any], order: str, limit: int,
                   page: int) -> tuple[int, list[dict[str, Any]]]:
        """Filtered, ordered, paged task rows plus the total count."""
        cond = " WHERE " + " AND ".join(where) if where else ""
        count = self._rows(f"SELECT COUNT(*) FROM tasks{cond}", args)[0][0]
        sql = f"SELECT rec FROM tasks{cond} ORDER BY create_time {order}, rowid {order}"
        if limit > 0:
            sql += f" LIMIT {int(limit)} OFFSET {int(max(page - 1, 0) * limit)}"
        return count, [json.loads(r[0]) for r in self._rows(sql, args)]

    # -- plans ---------------------------------------------------------------------------------------------------
    def put_plan(self, job_id: str, plan: dict[str, Any], active: bool) -> None:
        """Save the engine plan of a job."""
        self._exec("INSERT OR REPLACE INTO plans VALUES (?,?,?)", (job_id, int(active), _dump(plan)))

    def get_plan(self, job_id: str) -> dict[str, Any] | None:
        """The engine plan of a job, if any."""
        rows = self._rows("SELECT plan FROM plans WHERE job_id=?", (job_id,))
        return json.loads(rows[0][0]) if rows else None

    def active_plans(self) -> list[dict[str, Any]]:
        """Plans of jobs that have not ended."""
        return [json.loads(r[0]) for r in self._rows("SELECT plan FROM plans WHERE active=1")]

    # -- tables --------------------------------------------------------------------------------------------------
    def put_table(self, rec: dict[str, Any]) -> None:
        """Insert or replace a table's metadata."""
        self._exec("INSERT OR REPLACE INTO tables_ VALUES (?,?,?)", (rec["namespace"], rec["name"], _dump(rec)))

    def get_table(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A table's metadata, or None."""
        rows = self._rows("SELECT rec FROM tables_ WHERE namespace=? AND name=?", (str(namespace), str(name)))
        return json.loads(rows[0][0]) if rows else None

    def delete_table(self, namespace: str, name: str) -> bool:
        """Delete a table's metadata; True if it existed."""
        return self._exec("DELETE FROM tables_ WHERE namespace=? AND name=?", (namespace, name)) > 0

    # -- metrics -------------------------------------------------------------------------------------------------
    def put_metric(self, job_id: str, cpn: str, role: str, party_id: str, namespace: str, name: str,
                   data: list[Any], meta: dict[str, Any], seq: int = 0) -> None:
        """Store one metric (its data points and meta)."""
        self._exec("INSERT INTO metrics VALUES (?,?,?,?,?,?,?,?,?)",
                   (job_id, cpn, role, str(party_id), namespace, name, seq, _dump(data), _dump(meta)))

    def metrics(self, job_id: str, cpn: str, role: str, party_id: str) -> list[tuple[str, str, Any, Any]]:
        """``(namespace, name, data, meta)`` of a task's metrics, in insertion order."""
        rows = self._rows("SELECT namespace, name, data, meta FROM metrics WHERE job_id=? AND component_name=? "
                          "AND role=? AND party_id=? ORDER BY seq, rowid", (job_id, cpn, role, str(party_id)))
        return [(ns, n, json.loads(d), json.loads(m)) for ns, n, d, m in rows]

    def delete_metrics(self, job_id: str) -> bool:
        """Delete all metrics of a job; True if any existed."""
        return self._exec("DELETE FROM metrics WHERE job_id=?", (job_id,)) > 0

    # -- outputs -------------------------------------------------------------------------------------------------
    def put_output(self, rec: dict[str, Any], seq: int = 0) -> None:
        """Store an output-data record (``t_tracking_output_data_info``)."""
        self._exec("INSERT INTO outputs VALUES (?,?,?,?,?,?,?)",
                   (rec["f_job_id"], rec["f_component_name"], rec["f_role"], rec["f_party_id"], rec["f_data_name"],
                    seq, _dump(rec)))

    def outputs(self, job_id: str, cpn: str | None = None, role: str | None = None,
                party_id: str | None = None) -> list[dict[str, Any]]:
        """Output-data records of a job, optionally narrowed."""
        sql, args = "SELECT rec FROM outputs WHERE job_id=?", [job_id]
        for col, val in (("component_name", cpn), ("role", role), ("party_id", party_id)):
            if val is not None:
                sql += f" AND {col}=?"
                args.append(str(val))
        return [json.loads(r[0]) for r in self._rows(sql + " ORDER BY rowid", args)]

    def delete_outputs(self, job_id: str, cpn: str | None = None) -> None:
        """Delete output-data records of a job (optionally of one component)."""
        if cpn is None:
            self._exec("DELETE FROM outputs WHERE job_id=?", (job_id,))
        else:
            self._exec("DELETE FROM outputs WHERE job_id=? AND component_name=?", (job_id, cpn))

    # -- models --------------------------------------------------------------------------------------------------
    def put_model(self, rec: dict[str, Any]) -> None:
        """Insert or replace one party's model record."""
        self._exec("INSERT INTO models VALUES (?,?,?,?,?) ON CONFLICT (model_id, model_version, role, party_id) "
                   "DO UPDATE SET rec=excluded.rec",
                   (rec["f_model_id"], rec["f_model_version"], rec["f_role"], str(rec["f_party_id"]), _dump(rec)))

    def models(self, model_id: str | None = None, model_version: str | None = None, role: str | None = None,
               party_id: Any = None) -> list[dict[str, Any]]:
        """Model records matching the given keys."""
        sql, args, where = "SELECT rec FROM models", [], []
        for col, val in (("model_id", model_id), ("model_version", model_version), ("role", role),
                         ("party_id", party_id)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(str(val))
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [json.loads(r[0]) for r in self._rows(sql + " ORDER BY rowid", args)]

    # -- kv ------------------------------------------------------------------------------------------------------
    def kv_get(self, key: str, default: Any = None) -> Any:
        """A JSON value by key."""
        rows = self._rows("SELECT v FROM kv WHERE k=?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def kv_put(self, key: str, value: Any) -> None:
        """Store a JSON value by key."""
        self._exec("INSERT OR REPLACE INTO kv VALUES (?,?)", (key, _dump(value)))


class _Tx:
    """A nestable transaction on a :class:`Store` (only the outermost level commits)."""

    _depth = threading.local()

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> "_Tx":
        self.store.lock.acquire()
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            self.store.db.execute("BEGIN")
        self._depth.n = depth + 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self._depth.n -= 1
            if self._depth.n == 0:
                self.store.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store.lock.release()
