"""Multipart request bodies parsed as they stream in, file parts written straight to disk.

Starlette's form parser (python-multipart) walks file data in a Python loop, spools each file part and
writes every chunk through a worker thread; the upload route then copied the spooled file again to count
its lines: 100-150 MB/s end to end for a large upload here. This parser finds delimiters with
``bytes.find`` and writes each file part once, into the sandbox's own upload directory, counting lines on
the way; ``data/upload`` then renames the file into place: 250-300 MB/s (bench/bench_files.py).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator

try:
    from python_multipart.multipart import parse_options_header
except ModuleNotFoundError:  # pragma: no cover - python-multipart before 0.0.13
    from multipart.multipart import parse_options_header  # type: ignore[no-redef]

__all__ = ["DiskPart", "MultipartError", "parse_multipart"]

_FIRST_LINE_CAP = 64 * 1024


class MultipartError(ValueError):
    """A malformed multipart body (the message says what; "boundary" when the boundary is missing)."""


class DiskPart:
    """One file part, written to a temporary file in ``directory`` as it arrives.

    :ivar filename: the file name the client announced.
    :ivar size: bytes written.
    :ivar lines: rows in the file (a last row without newline counts).
    :ivar first_line: the first row, newline included (at most 64 KiB).
    """

    def __init__(self, directory: str | os.PathLike[str], filename: str) -> None:
        fd, self.path = tempfile.mkstemp(dir=directory, prefix=".part-")
        self._fh = os.fdopen(fd, "w+b")
        self.filename = filename
        self.size = 0
        self._newlines = 0
        self._first = bytearray()
        self._first_done = False
        self._ends_with_newline = True

    def write(self, data: bytes | bytearray) -> None:
        if not data:
            return
        if not self._first_done:
            nl = data.find(b"\n")
            self._first += data[: nl + 1] if nl >= 0 else data[:_FIRST_LINE_CAP]
            self._first_done = nl >= 0 or len(self._first) >= _FIRST_LINE_CAP
        self._newlines += data.count(b"\n")
        self._ends_with_newline = data.endswith(b"\n")
        self._fh.write(data)
        self.size += len(data)

    @property
    def lines(self) -> int:
        return self._newlines + (0 if self._ends_with_newline else 1)

    @property
    def first_line(self) -> str:
        return self._first.decode("utf-8", "replace")

    async def read(self) -> bytes:
        """The whole part (small parts only: model zips)."""
        self._fh.flush()
        self._fh.seek(0)
        return self._fh.read()

    def keep_as(self, dest: str | os.PathLike[str]) -> None:
        """Move the part to ``dest`` (same file system: a rename)."""
        self._fh.close()
        os.replace(self.path, dest)

    async def close(self) -> None:
        self.discard()

    def discard(self) -> None:
        """Close and delete the part, unless it was kept."""
        self._fh.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


async def parse_multipart(
    content_type: str, stream: AsyncIterator[bytes], directory: str | os.PathLike[str], max_field_bytes: int,
) -> tuple[dict[str, str], dict[str, DiskPart]]:
    """Parse a ``multipart/form-data`` body into (fields, files); a repeated name keeps the last field and the
    first file, as the sandbox always did. On any error every file part written so far is deleted.

    Delimiters are found with ``bytes.find`` in what has arrived; file data is written as it comes.

    :raises MultipartError: no boundary, a part without a name, a field over ``max_field_bytes``, header
        blocks over 16 KiB, or a body that ends before its closing delimiter.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("Missing boundary in multipart.")
    parser = _Parser(boundary, directory, max_field_bytes)
    try:
        async for chunk in stream:
            parser.feed(chunk)
        parser.finish()
    except BaseException:
        for f in parser.written:
            f.discard()
        raise
    for f in parser.written:
        if f not in parser.files.values():
            f.discard()  # a second file part under the same name
    return parser.fields, parser.files


class _Parser:
    """A push parser: ``feed`` bytes as they arrive, then ``finish``.

    The body is read as ``CRLF`` + body, so every delimiter, the first one included, is ``CRLF--boundary``;
    what precedes the first one (the preamble) is ignored, as is what follows the closing ``--``.
    """

    _MAX_HEADERS = 16 * 1024

    def __init__(self, boundary: bytes, directory: str | os.PathLike[str], max_field_bytes: int) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.directory = directory
        self.max_field_bytes = max_field_bytes
        self.fields: dict[str, str] = {}
        self.files: dict[str, DiskPart] = {}
        self.written: list[DiskPart] = []
        self._buf = bytearray(b"\r\n")
        self._state = "preamble"  # -> after_delimiter -> headers -> data -> after_delimiter ... -> done
        self._name = ""
        self._file: DiskPart | None = None
        self._field = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data
        while self._step():
            pass

    def finish(self) -> None:
        if self._state != "done":
            raise MultipartError("multipart body ended before its closing delimiter")

    def _step(self) -> bool:
        """Advance as far as the buffer allows; True when called again could make progress."""
        buf, delim = self._buf, self.delimiter
        if self._state == "done":
            buf.clear()
            return False
        if self._state in ("preamble", "data"):
            at = buf.find(delim)
            if at < 0:
                keep = len(delim) - 1  # a delimiter may straddle this chunk and the next
                if len(buf) > keep:
                    self._emit(buf[: len(buf) - keep])
                    del buf[: len(buf) - keep]
                return False
            self._emit(buf[:at])
            if self._state == "data":
                self._end_part()
            del buf[: at + len(delim)]
            self._state = "after_delimiter"
            return True
        if self._state == "after_delimiter":
            if len(buf) < 2:
                return False
            if buf[:2] == b"--":
                self._state = "done"
                return True
            eol = buf.find(b"\r\n")  # transport padding (spaces, tabs) may precede it
            if eol < 0:
                if len(buf) > self._MAX_HEADERS:
                    raise MultipartError("malformed multipart delimiter line")
                return False
            del buf[: eol + 2]
            self._state = "headers"
            return True
        # headers
        if buf[:2] == b"\r\n":  # a part with no header at all
            raise MultipartError('The Content-Disposition header field "name" must be provided.')
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self._MAX_HEADERS:
                raise MultipartError("multipart part headers exceed 16 KiB")
            return False
        self._start_part(bytes(buf[:end]))
        del buf[: end + 4]
        self._state = "data"
        return True

    def _start_part(self, block: bytes) -> None:
        headers = {}
        for line in block.split(b"\r\n"):
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
        _, options = parse_options_header(headers.get(b"content-disposition"))
        name = options.get(b"name")
        if name is None:
            raise MultipartError('The Content-Disposition header field "name" must be provided.')
        self._name = name.decode("utf-8", "replace")
        self._field.clear()
        self._file = None
        if b"filename" in options:
            self._file = DiskPart(self.directory, options[b"filename"].decode("utf-8", "replace"))
            self.written.append(self._file)

    def _emit(self, data: bytearray) -> None:
        if self._state != "data" or not data:
            return
        if self._file is not None:
            self._file.write(data)
            return
        if len(self._field) + len(data) > self.max_field_bytes:
            raise MultipartError(f"Part exceeded maximum size of {self.max_field_bytes // 1024}KB.")
        self._field += data

    def _end_part(self) -> None:
        if self._file is None:
            self.fields[self._name] = self._field.decode("utf-8", "replace")
        else:
            self.files.setdefault(self._name, self._file)
