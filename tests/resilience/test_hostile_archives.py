"""Hostile archives reach a task: the job-log and table downloads refuse tar members with ``..``, absolute
paths, symlinks, hard links and device files, and a gzip bomb, with ``FateFlowArchiveError``; nothing is
written outside the output directory, and nothing is left inside it.

No task extracts a zip (model exports are kept as the zip FATE sends), so the zip cases call the extractor
directly. ``safe_extract`` on its own (the tar cases, one zip slip, a zip symlink, the bomb) is covered in
``tests/client/test_client_units.py``; the client's log download in ``tests/client/test_client_async_and_streams.py``.
"""
from __future__ import annotations

import functools
import gzip
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _resilience_helpers import set_conn

from airflow_provider_fateflow.client.archive import safe_extract
from airflow_provider_fateflow.client.errors import FateFlowArchiveError
from airflow_provider_fateflow.operators.data import DownloadDataOperator
from airflow_provider_fateflow.operators.job import JobLogOperator
from operators.helpers import make_context

CONN_ID = "fateflow_archives"


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null
    return info, data


def _tar_gz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.addfile(*_as_file(_member("fate_flow_schedule.log", data=b"a harmless first member\n")))
        for info, data in members:
            tar.addfile(*_as_file((info, data)))
    return raw.getvalue()


def _as_file(member: tuple[tarfile.TarInfo, bytes]) -> tuple[tarfile.TarInfo, Any]:
    info, data = member
    return info, io.BytesIO(data) if info.isfile() else None


@functools.cache
def _gzip_bomb() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("zeros.log")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    return gzip.compress(raw.getvalue(), 9)


def _archive(case: str, outside: Path) -> bytes:
    """The archive of a case; ``outside`` is a directory beside the output directory."""
    target = str(outside / "pwned.txt")
    cases = {
        "dotdot": lambda: _tar_gz(_member("../../outside/pwned.txt")),
        "dotdot_nested": lambda: _tar_gz(_member("guest/9999/../../../../outside/pwned.txt")),
        "absolute_path": lambda: _tar_gz(_member(target)),
        "symlink_absolute": lambda: _tar_gz(_member("guest/INFO.log", tarfile.SYMTYPE, link=target)),
        "symlink_then_write_through": lambda: _tar_gz(_member("guest", tarfile.SYMTYPE, link=str(outside)),
                                                      _member("guest/pwned.txt")),
        "hardlink_outside": lambda: _tar_gz(_member("guest/INFO.log", tarfile.LNKTYPE, link=target)),
        "hardlink_inside": lambda: _tar_gz(_member("copy.log", tarfile.LNKTYPE, link="fate_flow_schedule.log")),
        "char_device": lambda: _tar_gz(_member("guest/null", tarfile.CHRTYPE)),
        "block_device": lambda: _tar_gz(_member("guest/sda", tarfile.BLKTYPE)),
        "fifo": lambda: _tar_gz(_member("guest/pipe", tarfile.FIFOTYPE)),
        "gzip_bomb": _gzip_bomb,  # 64 MiB of zeros in 64 KiB
    }
    return cases[case]()


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every path under ``root`` (links not followed): kind and size."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
            out[str(path.relative_to(root))] = (kind, st.st_size if kind == "file" else 0)
    return out


@pytest.fixture
def server(hostile: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    set_conn(monkeypatch, CONN_ID, hostile.port)
    return hostile


def _serve_archive(server: Any, body: bytes, name: str = "job_1_log.tar.gz") -> None:
    server.answer(200, body, content_type="application/octet-stream",
                  **{"Content-Disposition": f"attachment; filename={name}"})


CASES = ["dotdot", "dotdot_nested", "absolute_path", "symlink_absolute", "symlink_then_write_through",
         "hardlink_outside", "hardlink_inside", "char_device", "block_device", "fifo", "gzip_bomb"]


@pytest.mark.parametrize("case", CASES)
def test_job_log_task_refuses_a_hostile_archive(server, tmp_path: Path, case: str):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    out = tmp_path / "logs"
    _serve_archive(server, _archive(case, outside))
    before = _tree(tmp_path)
    with pytest.raises(FateFlowArchiveError) as err:
        JobLogOperator(task_id="log", job_id="1", output_dir=str(out), fateflow_conn_id=CONN_ID).execute(make_context())
    text = str(err.value)
    assert "\n" not in text and len(text) < 500, text
    after = _tree(tmp_path)
    assert after == {**before, "logs": ("dir", 0)}, "nothing written anywhere, nothing left in the output directory"
    assert list(out.iterdir()) == []
    assert (outside / "keep.txt").read_text() == "untouched" and not (outside / "pwned.txt").exists()


@pytest.mark.parametrize("case", ["dotdot", "symlink_then_write_through", "gzip_bomb"])
def test_table_download_task_refuses_a_hostile_archive(server, tmp_path: Path, case: str):
    outside = tmp_path / "outside"
    outside.mkdir()
    _serve_archive(server, _archive(case, outside), "table.tar.gz")
    before = _tree(tmp_path)
    with pytest.raises(FateFlowArchiveError):
        DownloadDataOperator(task_id="download", namespace="experiment", table_name="t", local_dir=str(tmp_path / "d"),
                             fateflow_conn_id=CONN_ID).execute(make_context())
    assert _tree(tmp_path) == {**before, "d": ("dir", 0)}


def test_a_hostile_attachment_name_stays_in_the_download_directory(server, tmp_path: Path):
    _serve_archive(server, _tar_gz(_member("guest/9999/INFO.log", data=b"ok\n")), "../../../../tmp/evil.tar.gz")
    out = tmp_path / "logs"
    path = JobLogOperator(task_id="log", job_id="1", output_dir=str(out), fateflow_conn_id=CONN_ID).execute(
        make_context())
    assert path == str(out / "job_1_log")
    assert _tree(tmp_path) == {"logs": ("dir", 0), "logs/job_1_log": ("dir", 0), "logs/job_1_log/guest": ("dir", 0),
                               "logs/job_1_log/guest/9999": ("dir", 0),
                               "logs/job_1_log/guest/9999/INFO.log": ("file", 3),
                               "logs/job_1_log/fate_flow_schedule.log": ("file", 24)}


def test_table_download_task_writes_one_directory(server, tmp_path: Path):
    _serve_archive(server, _tar_gz(_member("table.csv", data=b"id,x\n1,2\n"), _member("table.meta", data=b"{}")),
                   "table_experiment_t.tar.gz")
    path = DownloadDataOperator(task_id="download", namespace="experiment", table_name="t",
                                local_dir=str(tmp_path / "d"), fateflow_conn_id=CONN_ID).execute(make_context())
    assert path == str(tmp_path / "d" / "table_experiment_t")
    assert sorted(p.name for p in Path(path).iterdir()) == ["fate_flow_schedule.log", "table.csv", "table.meta"]


def _zip(path: Path, name: str, *, mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model/ok.txt", "ok")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, "pwned")
    return path


@pytest.mark.parametrize("name, mode", [
    ("../../outside/pwned.txt", None),  # zip slip
    ("model/../../../outside/pwned.txt", None),
    ("..\\..\\outside\\pwned.txt", None),  # a Windows-made zip
    ("/abs/pwned.txt", None),
    ("C:/outside/pwned.txt", None),
    ("model/link", stat.S_IFLNK | 0o777),
    ("model/pipe", stat.S_IFIFO | 0o644),
    ("model/dev", stat.S_IFCHR | 0o644),
], ids=["zip_slip", "zip_slip_nested", "zip_slip_backslash", "absolute", "drive_letter", "symlink", "fifo", "device"])
def test_zip_slip_and_friends_refused(tmp_path: Path, name: str, mode: int | None):
    archive = _zip(tmp_path / "model.zip", name, mode=mode)
    (tmp_path / "outside").mkdir()
    before = _tree(tmp_path)
    with pytest.raises(FateFlowArchiveError):
        safe_extract(archive, tmp_path / "model", fmt="zip")
    assert _tree(tmp_path) == before
