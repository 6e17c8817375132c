"""Multipart bodies: text fields, then one file streamed from disk (memory does not grow with the file)."""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FilePart", "MultipartStream"]

log = logging.getLogger("airflow_provider_fateflow.client")


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file part of a multipart body, streamed from disk.

    :param field: form field name (``"file"`` for FATE).
    :param path: local path of the file.
    :param filename: file name announced to the server (default: basename of ``path``).
    :param content_type: part Content-Type; ``None`` sends none (as the SDK does for model import).
    """

    field: str
    path: str
    filename: str | None = None
    content_type: str | None = "application/octet-stream"


class MultipartStream:
    """A ``multipart/form-data`` body read lazily: text fields, then the file streamed from disk.

    ``len()`` gives the exact size (so a Content-Length is sent, no chunked encoding); ``read(n)``
    serves at most ``n`` bytes and logs progress every ``progress_interval`` seconds.

    :param fields: text fields (name, value).
    :param file: the file part.
    :param operation: for progress log lines.
    :param boundary: multipart boundary (default: random).
    :param progress_interval: seconds between progress log lines (default 5.0).
    """

    chunk_size = 1024 * 1024

    def __init__(
        self,
        fields: Mapping[str, str] | None,
        file: FilePart,
        *,
        operation: str = "",
        boundary: str | None = None,
        progress_interval: float = 5.0,
    ) -> None:
        self.boundary = boundary or uuid.uuid4().hex
        self.operation = operation
        self._file = file
        self._progress_interval = progress_interval
        b = self.boundary.encode()
        head = bytearray()
        for name, value in (fields or {}).items():
            head += b"--" + b + b"\r\n"
            head += f'Content-Disposition: form-data; name="{_quote_param(name)}"\r\n\r\n'.encode()
            head += str(value).encode() + b"\r\n"
        filename = file.filename or os.path.basename(file.path)
        head += b"--" + b + b"\r\n"
        head += (
            f'Content-Disposition: form-data; name="{_quote_param(file.field)}"; '
            f'filename="{_quote_param(filename)}"\r\n'
        ).encode()
        if file.content_type:
            head += f"Content-Type: {file.content_type}\r\n".encode()
        head += b"\r\n"
        self._head = bytes(head)
        self._tail = b"\r\n--" + b + b"--\r\n"
        self.file_size = os.path.getsize(file.path)
        self._len = len(self._head) + self.file_size + len(self._tail)
        self._segments: list[Any] = [self._head, None, self._tail]  # None = the file
        self._fh: Any = None
        self._sent = 0
        self._last_log = time.monotonic()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._len

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes (all remaining if negative); ``b""`` at the end."""
        if size is None or size < 0:
            size = self._len
        out = bytearray()
        while len(out) < size and self._segments:
            seg = self._segments[0]
            if seg is None:
                if self._fh is None:
                    self._fh = open(self._file.path, "rb")  # noqa: SIM115 - closed at EOF/close()
                data = self._fh.read(min(size - len(out), self.chunk_size))
                if not data:
                    self._fh.close()
                    self._segments.pop(0)
                    continue
                out += data
            else:
                take = seg[: size - len(out)]
                out += take
                rest = seg[len(take):]
                if rest:
                    self._segments[0] = rest
                else:
                    self._segments.pop(0)
        self._sent += len(out)
        self._maybe_log()
        return bytes(out)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(self.chunk_size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log >= self._progress_interval and self._len:
            self._last_log = now
            log.info(
                "%s: sent %s of %s bytes (%.0f%%)",
                self.operation, self._sent, self._len, 100.0 * self._sent / self._len,
            )


def _quote_param(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")
