"""Safe handling of downloaded archives and attachment names.

``safe_extract`` refuses absolute paths, ``..``, symlinks, hard links, device/FIFO members, zip slip
and decompression bombs; it extracts into a fresh directory and removes partial output on failure.
``tarfile``/``zipfile`` are imported inside the functions to keep the client import cheap.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from airflow_provider_fateflow.client.errors import FateFlowArchiveError

__all__ = ["safe_extract", "content_disposition_filename", "safe_filename"]

#: Default cap on the total uncompressed size of an archive (2 GiB).
MAX_TOTAL_BYTES = 2 * 1024**3
#: Default cap on the number of members.
MAX_MEMBERS = 100_000
#: Default cap on uncompressed/compressed size ratio (beyond a small size floor).
MAX_RATIO = 200.0
_RATIO_FLOOR = 10 * 1024 * 1024
_CHUNK = 1024 * 1024


def content_disposition_filename(header: str | None) -> str | None:
    """The file name of a ``Content-Disposition`` header.

    Handles unquoted (``filename=a#b.zip``, as FATE's Werkzeug sends), quoted (``filename="a b.zip"``)
    and RFC 5987 (``filename*=UTF-8''a%23b.zip``, preferred when present) forms.
    """
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*([^;]+)", header, re.I)
    if star:
        value = star.group(1).strip().strip('"')
        charset, _, rest = value.partition("'")
        _, _, encoded = rest.partition("'")
        if encoded or rest:
            try:
                return unquote(encoded or rest, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                return unquote(encoded or rest, encoding="latin-1")
    quoted = re.search(r'filename\s*=\s*"((?:[^"\\]|\\.)*)"', header, re.I)
    if quoted:
        return re.sub(r"\\(.)", r"\1", quoted.group(1))
    plain = re.search(r"filename\s*=\s*([^;]+)", header, re.I)
    if plain:
        return plain.group(1).strip()
    return None


def safe_filename(name: str | None, fallback: str) -> str:
    """A plain file name (no directories, no ``..``, no control characters), else ``fallback``."""
    if not name:
        return fallback
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", "..") or name.startswith("."):
        return fallback
    return name


def _check_name(name: str, dest: Path) -> Path:
    if not name or "\x00" in name:
        raise FateFlowArchiveError(f"unsafe archive member name {name!r}")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise FateFlowArchiveError(f"archive member with an absolute path: {name!r}")
    parts = PurePosixPath(norm).parts
    if ".." in parts:
        raise FateFlowArchiveError(f"archive member escapes the output directory: {name!r}")
    target = (dest / Path(*[p for p in parts if p not in ("", ".")])) if parts else dest
    resolved = target.resolve()
    if resolved != dest and dest not in resolved.parents:
        raise FateFlowArchiveError(f"archive member escapes the output directory: {name!r}")
    return target


def _prepare_dest(dest_dir: str | os.PathLike[str]) -> tuple[Path, bool]:
    dest = Path(dest_dir)
    created = False
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise FateFlowArchiveError(f"output directory {str(dest)!r} exists and is not empty")
    else:
        dest.mkdir(parents=True)
        created = True
    return dest.resolve(), created


def safe_extract(
    archive_path: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    fmt: str = "tar.gz",
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
    max_ratio: float = MAX_RATIO,
) -> list[Path]:
    """Extract ``archive_path`` into the fresh directory ``dest_dir``, refusing anything unsafe.

    :param archive_path: the downloaded archive.
    :param dest_dir: output directory; created if missing, refused if it exists and is not empty.
    :param fmt: ``"tar.gz"`` (also plain ``"tar"``) or ``"zip"``.
    :param max_total_bytes: cap on the total uncompressed bytes (default 2 GiB).
    :param max_members: cap on the number of members (default 100 000).
    :param max_ratio: cap on uncompressed/compressed size once past 10 MiB (default 200).
    :returns: the paths of the regular files written.
    :raises FateFlowArchiveError: unsafe or corrupt archive; nothing is left behind in ``dest_dir``.
    """
    dest, created = _prepare_dest(dest_dir)
    compressed = max(os.path.getsize(archive_path), 1)
    budget = _Budget(max_total_bytes, max_ratio, compressed)
    try:
        if fmt in ("tar.gz", "tgz", "tar"):
            return _extract_tar(archive_path, dest, budget, max_members)
        if fmt == "zip":
            return _extract_zip(archive_path, dest, budget, max_members)
        raise FateFlowArchiveError(f"unknown archive format {fmt!r}")
    except BaseException as exc:
        _cleanup(dest, created)
        if isinstance(exc, FateFlowArchiveError):
            raise
        if isinstance(exc, (OSError, EOFError, ValueError)) or type(exc).__name__ in ("ReadError", "BadZipFile", "CompressionError", "HeaderError"):
            raise FateFlowArchiveError(f"corrupt archive {os.fspath(archive_path)!r}: {exc}") from None
        raise


class _Budget:
    def __init__(self, max_total: int, max_ratio: float, compressed: int) -> None:
        self.max_total = max_total
        self.max_ratio = max_ratio
        self.compressed = compressed
        self.total = 0

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.max_total:
            raise FateFlowArchiveError(
                f"archive expands beyond {self.max_total} bytes (decompression bomb? if the data is really this "
                "large, raise max_extract_bytes)"
            )
        if self.total > _RATIO_FLOOR and self.total / self.compressed > self.max_ratio:
            raise FateFlowArchiveError(
                f"archive expands more than {self.max_ratio:.0f}x its size (decompression bomb?)"
            )


def _copy(src, target: Path, budget: _Budget) -> None:  # type: ignore[no-untyped-def]
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            budget.add(len(chunk))
            out.write(chunk)


def _extract_tar(archive_path: str | os.PathLike[str], dest: Path, budget: _Budget, max_members: int) -> list[Path]:
    import tarfile

    written: list[Path] = []
    with tarfile.open(archive_path, mode="r:*") as tar:
        count = 0
        for member in tar:  # streaming: no full member list held in memory
            count += 1
            if count > max_members:
                raise FateFlowArchiveError(f"archive has more than {max_members} members")
            target = _check_name(member.name, dest)
            if member.issym() or member.islnk():
                raise FateFlowArchiveError(f"archive member is a link: {member.name!r}")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                raise FateFlowArchiveError(f"archive member is a special file: {member.name!r}")
            if member.size > budget.max_total:
                raise FateFlowArchiveError(
                    f"archive member {member.name!r} is larger than {budget.max_total} bytes (if the data is really "
                    "this large, raise max_extract_bytes)"
                )
            src = tar.extractfile(member)
            if src is None:  # pragma: no cover - regular files always have data
                continue
            with src:
                _copy(src, target, budget)
            os.chmod(target, 0o644)
            written.append(target)
    return written


def _extract_zip(archive_path: str | os.PathLike[str], dest: Path, budget: _Budget, max_members: int) -> list[Path]:
    import zipfile

    written: list[Path] = []
    with zipfile.ZipFile(archive_path) as zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise FateFlowArchiveError(f"archive has more than {max_members} members")
        for info in infos:
            target = _check_name(info.filename, dest)
            mode = (info.external_attr >> 16) & 0xFFFF
            if mode and (stat.S_ISLNK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                raise FateFlowArchiveError(f"archive member is a link or special file: {info.filename!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as src:
                _copy(src, target, budget)
            written.append(target)
    return written


def _cleanup(dest: Path, created: bool) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in list(dest.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            try:
                child.unlink()
            except OSError:
                pass
