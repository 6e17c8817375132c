"""The sandbox's streaming multipart parser: fields, file parts on disk, line counts, nothing left on errors."""
from __future__ import annotations

import asyncio

import pytest

from airflow_provider_fateflow.testing.uploads import MultipartError, parse_multipart

BOUNDARY = "b0undary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _parse(body: bytes, directory, step: int = 7, ctype: str = CTYPE, max_field: int = 1 << 20):
    async def stream():
        for i in range(0, len(body), step):
            yield body[i:i + step]

    return asyncio.run(parse_multipart(ctype, stream(), directory, max_field))


@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_fields_and_file_parts_whatever_the_chunking(tmp_path, step):
    rows = b"id,x0\r\n1,0.5\n2,0.25"  # the last row has no newline
    fields, files = _parse(_body(("namespace", None, b"exp\xc3\xa9"), ("file", "guest.csv", rows)), tmp_path, step)
    assert fields == {"namespace": "exp\u00e9"}
    part = files["file"]
    assert part.filename == "guest.csv" and part.size == len(rows)
    assert part.lines == 3 and part.first_line == "id,x0\r\n"
    part.keep_as(tmp_path / "kept.csv")
    assert (tmp_path / "kept.csv").read_bytes() == rows
    assert [p.name for p in tmp_path.iterdir()] == ["kept.csv"]


def test_preamble_epilogue_and_padding_are_ignored(tmp_path):
    body = b"preamble\r\n" + _body(("f", None, b"v")).replace(b"--\r\n", b"-- \r\nepilogue", 1)
    body = body.replace(f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY} \t\r\n".encode())
    assert _parse(body, tmp_path, step=3) == ({"f": "v"}, {})


def test_file_data_that_looks_like_a_delimiter_is_kept(tmp_path):
    rows = f"--{BOUNDARY}x\r\n\r\n--{BOUNDARY[:-1]}\r\n".encode()  # not CRLF + the whole delimiter
    _, files = _parse(_body(("file", "a.csv", rows)), tmp_path, step=5)
    files["file"].keep_as(tmp_path / "kept")
    assert (tmp_path / "kept").read_bytes() == rows


def test_a_second_file_under_the_same_name_is_dropped(tmp_path):
    _, files = _parse(_body(("file", "a.csv", b"a\n"), ("file", "b.csv", b"b\n")), tmp_path)
    assert files["file"].filename == "a.csv"
    assert len(list(tmp_path.iterdir())) == 1
    asyncio.run(files["file"].close())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["no boundary", "part without a name", "part without headers", "field too large",
                                  "truncated", "headers never end"])
def test_malformed_bodies_leave_no_file_behind(tmp_path, case):
    body = _body(("file", "a.csv", b"x\n" * 1000), ("conf", None, b"y" * 100))
    ctype, max_field = CTYPE, 1 << 20
    if case == "no boundary":
        ctype = "multipart/form-data"
    elif case == "part without a name":
        body = body.replace(b'name="conf"', b'nome="conf"')
    elif case == "part without headers":
        body = body.replace(b'Content-Disposition: form-data; name="conf"\r\n', b"")
    elif case == "truncated":
        body = body[:-30]
    elif case == "headers never end":
        body = body.replace(b'name="conf"\r\n\r\n', b'name="conf"\r\n' + b"X-Pad: y\r\n" * 3000)
    else:
        max_field = 10
    with pytest.raises(MultipartError) as err:
        _parse(body, tmp_path, ctype=ctype, max_field=max_field)
    if case == "no boundary":
        assert "boundary" in str(err.value).lower()  # the app answers FATE's BadRequestKeyError for this one
    assert list(tmp_path.iterdir()) == []
