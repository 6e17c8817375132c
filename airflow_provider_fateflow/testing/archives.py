"""Archives the server streams: job log tar.gz, component output data tar.gz, table download tar.gz.

Every archive is written to a temporary file (constant memory, however large the table) and
served from there; the caller deletes the file once the response is sent.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from typing import Any

from .records import fmt_date


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(os.path.getmtime(tar.name)) if tar.name and os.path.exists(tar.name) else 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


#: A blank (or whitespace-only) line, or a carriage return: rows that need the line-by-line path.
_NEEDS_LINES = re.compile(rb"(?:^|\n)[ \t\f\v]*\n|\r")
_BLOCK = 1 << 20


def _needs_lines(chunk: bytes) -> bool:
    """True when ``chunk`` holds a blank row or a carriage return (cheap substring checks before the regex)."""
    if b"\r" in chunk or b"\n\n" in chunk or chunk[:1] == b"\n":
        return True
    if any(p in chunk for p in (b"\n ", b"\n\t", b"\n\x0b", b"\n\x0c")) or chunk[:1] in (b" ", b"\t", b"\x0b", b"\x0c"):
        return _NEEDS_LINES.search(chunk) is not None
    return False


def _add_table_csv(tar: tarfile.TarFile, name: str, table: dict[str, Any], limit: int, head: bool,
                   tmpdir: str) -> None:
    """Write a table's rows to a temp file, then add it (streamed; no whole table in memory).

    Rows are copied in 1 MiB blocks of whole lines; a block with a blank line or a carriage return, a row
    limit or another delimiter goes line by line (blank lines dropped, CRLF read as LF, the delimiter
    turned into commas).
    """
    delim = (table.get("delimiter") or ",").encode()
    fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as fh:
            if head:
                fh.write(",".join(table.get("columns") or []).encode() + b"\n")
            src = table.get("path")
            if src and os.path.exists(src):
                with open(src, "rb") as inp:
                    _copy_rows(inp, fh, skip_first=bool(table.get("head", 1)), limit=limit, delim=delim)
        tar.add(path, arcname=name)
    finally:
        os.unlink(path)


def _copy_rows(inp: Any, out: Any, *, skip_first: bool, limit: int, delim: bytes) -> None:
    """Copy the non-blank rows of ``inp`` to ``out`` (at most ``limit`` when >= 0), skipping a header row."""
    written = 0
    carry = b""
    first = True
    while True:
        block = inp.read(_BLOCK)
        data = carry + block
        if not block:
            if not data.strip():
                return
            cut = len(data)  # the last row has no newline
        else:
            cut = data.rfind(b"\n") + 1
            if not cut:
                carry = data
                continue
        chunk, carry = data[:cut], data[cut:]
        if first:
            first = False
            if skip_first:
                nl = chunk.find(b"\n")
                chunk = chunk[nl + 1:] if nl >= 0 else b""
        if limit < 0 and delim == b"," and not _needs_lines(chunk):
            out.write(chunk)
        else:
            for line in chunk.splitlines():
                if not line.strip():
                    continue
                if 0 <= limit <= written:
                    return
                out.write((line if delim == b"," else line.replace(delim, b",")) + b"\n")
                written += 1
        if not block:
            return


class _GzipFile:
    """A write-only gzip file compressed with zlib's Huffman-only strategy at level 1.

    FATE uses tarfile's ``w:gz`` (level 9): for a 1 GiB table the sandbox then spent ~50 s before its first
    byte. Huffman-only skips the match search: about 2.5x faster than level 1 on table rows (~110 MB/s here),
    still a valid gzip stream that any reader opens.
    """

    def __init__(self, path: str) -> None:
        self.name = path
        self._fh = open(path, "wb")
        self._z = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_HUFFMAN_ONLY)

    def write(self, data: bytes) -> int:
        self._fh.write(self._z.compress(data))
        return len(data)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.write(self._z.flush())
            self._fh.close()


@contextlib.contextmanager
def _new_tar(tmpdir: str | None) -> Iterator[tuple[str, tarfile.TarFile]]:
    """A temporary ``.tar.gz`` being written (streamed: no seeking); yields (path, tar)."""
    fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".tar.gz")
    os.close(fd)
    gz = _GzipFile(path)
    try:
        with tarfile.open(name=path, mode="w|", fileobj=gz, bufsize=_BLOCK) as tar:  # type: ignore[call-overload]
            yield path, tar
    except BaseException:
        gz.close()
        os.unlink(path)
        raise
    gz.close()


def output_data_tar(tables: list[tuple[str, dict[str, Any]]], limit: int, head: bool, tmpdir: str | None) -> str:
    """``<data_name>.csv`` and ``<data_name>.meta`` per output; returns the temp file path."""
    with _new_tar(tmpdir) as (path, tar):
        for data_name, table in tables:
            _add_table_csv(tar, f"{data_name}.csv", table, limit, head, os.path.dirname(path))
            meta = json.dumps({"header": table.get("columns") or []}, indent=4).encode()
            _add_bytes(tar, f"{data_name}.meta", meta)
    return path


def table_tar(table: dict[str, Any], head: bool, tmpdir: str | None) -> str:
    """``table.csv`` and ``table.meta`` of a table; returns the temp file path."""
    with _new_tar(tmpdir) as (path, tar):
        _add_table_csv(tar, "table.csv", table, -1, head, os.path.dirname(path))
        meta = {"header": ",".join((table.get("columns") or [])[1:]), "sid": table.get("sid", "id"),
                "meta": {}, "partitions": table.get("partition")}
        _add_bytes(tar, "table.meta", json.dumps(meta, indent=4).encode())
    return path


def job_log_tar(job_id: str, tasks: list[dict[str, Any]], tmpdir: str | None) -> str:
    """The job's log directory as FATE lays it out (member names as recorded)."""
    def line(ms: Any, text: str) -> str:
        return f"[INFO] [{fmt_date(ms) or ''},000] [{job_id}] [{os.getpid()}:0] - [sandbox] [line:1]: {text}\n"

    with _new_tar(tmpdir) as (path, tar):
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
