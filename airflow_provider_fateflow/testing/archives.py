"""Archives the server streams: job log tar.gz, component output data tar.gz, table download tar.gz.

Every archive is written to a temporary file (constant memory, however large the table) and
served from there; the caller deletes the file once the response is sent.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from typing import Any

from .records import fmt_date


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(os.path.getmtime(tar.name)) if tar.name and os.path.exists(tar.name) else 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_table_csv(tar: tarfile.TarFile, name: str, table: dict[str, Any], limit: int, head: bool,
                   tmpdir: str) -> None:
    """Write a table's rows to a temp file, then add it (streamed; no whole table in memory)."""
    delim = table.get("delimiter") or ","
    fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if head:
                fh.write(",".join(table.get("columns") or []) + "\n")
            src = table.get("path")
            if src and os.path.exists(src):
                with open(src, encoding="utf-8", errors="replace") as inp:
                    first = True
                    n = 0
                    for line in inp:
                        if first and table.get("head", 1):
                            first = False
                            continue
                        first = False
                        if not line.strip():
                            continue
                        if 0 <= limit <= n:
                            break
                        fh.write(line if delim == "," else line.replace(delim, ","))
                        n += 1
        tar.add(path, arcname=name)
    finally:
        os.unlink(path)


def _new_tar(tmpdir: str | None) -> tuple[str, tarfile.TarFile]:
    fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".tar.gz")
    os.close(fd)
    return path, tarfile.open(path, "w:gz")


def output_data_tar(tables: list[tuple[str, dict[str, Any]]], limit: int, head: bool, tmpdir: str | None) -> str:
    """``<data_name>.csv`` and ``<data_name>.meta`` per output; returns the temp file path."""
    path, tar = _new_tar(tmpdir)
    with tar:
        for data_name, table in tables:
            _add_table_csv(tar, f"{data_name}.csv", table, limit, head, os.path.dirname(path))
            meta = json.dumps({"header": table.get("columns") or []}, indent=4).encode()
            _add_bytes(tar, f"{data_name}.meta", meta)
    return path


def table_tar(table: dict[str, Any], head: bool, tmpdir: str | None) -> str:
    """``table.csv`` and ``table.meta`` of a table; returns the temp file path."""
    path, tar = _new_tar(tmpdir)
    with tar:
        _add_table_csv(tar, "table.csv", table, -1, head, os.path.dirname(path))
        meta = {"header": ",".join((table.get("columns") or [])[1:]), "sid": table.get("sid", "id"),
                "meta": {}, "partitions": table.get("partition")}
        _add_bytes(tar, "table.meta", json.dumps(meta, indent=4).encode())
    return path


def job_log_tar(job_id: str, tasks: list[dict[str, Any]], tmpdir: str | None) -> str:
    """The job's log directory as FATE lays it out (member names as recorded)."""
    path, tar = _new_tar(tmpdir)

    def line(ms: Any, text: str) -> str:
        return f"[INFO] [{fmt_date(ms) or ''},000] [{job_id}] [{os.getpid()}:0] - [sandbox] [line:1]: {text}\n"

    with tar:
        first = tasks[0]["f_create_time"] if tasks else 0
        for name in ("fate_flow_detect.log", "fate_flow_audit.log", "fate_flow_schedule.log", "fate_flow_sql.log"):
            body = "".join(line(t["f_update_time"], f"{name[:-4]}: task {t['f_task_id']} {t['f_role']} "
                                f"{t['f_party_id']} {t['f_status']}") for t in tasks) or line(first, "no task")
            _add_bytes(tar, name, body.encode())
        parties: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for t in tasks:
            parties.setdefault((t["f_role"], t["f_party_id"]), []).append(t)
        for (role, party), ptasks in parties.items():
            text = "".join(line(t["f_update_time"], f"{t['f_component_name']} {t['f_status']}") for t in ptasks)
            _add_bytes(tar, f"{role}/{party}/DEBUG.log", text.encode())
            _add_bytes(tar, f"{role}/{party}/INFO.log", text.encode())
            for t in ptasks:
                if not t.get("f_worker_id"):
                    continue
                cpn = t["f_component_name"]
                tl = line(t["f_start_time"], f"start {cpn} {t['f_task_id']} on {role} {party}")
                tl += line(t["f_end_time"] or t["f_update_time"], f"finish {cpn} with {t['f_status']}")
                base = f"{role}/{party}/{cpn}"
                _add_bytes(tar, f"{base}/stat.log", tl.encode())
                _add_bytes(tar, f"{base}/task_executor_{t['f_worker_id']}_std.log",
                           f"finish {cpn} {t['f_task_id']} {t['f_task_version']} on {role} {party} with "
                           f"{t['f_status']}\n".encode())
                _add_bytes(tar, f"{base}/fate_flow_stat.log", tl.encode())
                _add_bytes(tar, f"{base}/DEBUG.log", (tl + (t.get("f_error_report") or "")).encode())
                _add_bytes(tar, f"{base}/PROFILING.log", b"")
                _add_bytes(tar, f"{base}/INFO.log", tl.encode())
    return path
