"""A minimal HTTP/1.1 file server on loopback, and a plain socket client: the baseline of ``bench_files.py``.

Server (run as a script, in its own process): ``python bench/_loopback.py DIR`` prints its port, then serves
each connection in a thread (keep-alive; the benchmark uses one connection at a time):

- a request with a body (any method and path, e.g. ``PUT /raw`` or the hook's ``POST /v1/data/upload``):
  the ``Content-Length`` bytes are received (``recv_into``) and dropped, then answered with a FATE-style
  JSON envelope (``retcode 0``, ``data.code 0``, a job id, the byte count), so the hook accepts it as an
  upload. Dropping the bytes keeps the disk out of the baseline: it is the loopback ceiling;
- ``GET`` (any path, e.g. ``GET /raw`` or the hook's ``GET /v1/table/download``; a request body is read and
  dropped): ``DIR/serve.bin`` is sent as an attachment (``application/x-tar``).

The same server code moves the bytes for the plain client and for the hook, so the difference between the two is the
client's. Bytes move in 1 MiB ``readinto``/``recv_into`` + ``write``/``sendall`` steps: a plain user-space copy
(no ``sendfile``, no parsing, no compression).

Client: :func:`put_file` and :func:`get_file`, the same plain copy on the client side.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def _read_head(conn: socket.socket, buf: bytearray) -> tuple[bytes, dict[str, str], bytes] | None:
    """Read up to the end of the header block; returns (request line, headers, bytes already read past it)."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, rest


def _receive_body(conn: socket.socket, length: int, rest: bytes, out_path: str | None) -> bytes:
    """Receive ``length`` body bytes (``rest`` first) into ``out_path`` (or drop them); returns surplus bytes."""
    surplus = rest[length:]
    rest = rest[:length]
    remaining = length - len(rest)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(out_path, "wb") if out_path else open(os.devnull, "wb") as fh:
        fh.write(rest)
        while remaining:
            n = conn.recv_into(view[:min(CHUNK, remaining)])
            if not n:
                raise ConnectionError("client closed mid-body")
            fh.write(view[:n])
            remaining -= n
    return surplus


def _send_file(conn: socket.socket, path: str) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        while True:
            n = fh.readinto(buf)
            if not n:
                return
            conn.sendall(view[:n])


def serve(directory: str) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    print(srv.getsockname()[1], flush=True)
    serve_path = os.path.join(directory, "serve.bin")
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_serve_conn, args=(conn, serve_path), daemon=True).start()


def _serve_conn(conn: socket.socket, serve_path: str) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    try:
        while True:
            parsed = _read_head(conn, buf)
            if parsed is None:
                break
            line, headers, rest = parsed
            method = line.split(b" ", 1)[0]
            length = int(headers.get("content-length") or 0)
            if method == b"GET":
                buf = bytearray(_receive_body(conn, length, rest, None))
                size = os.path.getsize(serve_path)
                conn.sendall((f"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {size}\r\n"
                              "Content-Disposition: attachment; filename=loopback.tar.gz\r\n\r\n").encode())
                _send_file(conn, serve_path)
            else:
                buf = bytearray(_receive_body(conn, length, rest, None))
                job = time.strftime("%Y%m%d%H%M%S") + "0000001"
                body = json.dumps({"retcode": 0, "retmsg": "success", "jobId": job,
                                   "data": {"code": 0, "job_id": job, "message": "success", "bytes": length,
                                            "namespace": "loopback", "table_name": "loopback"}}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
    except (ConnectionError, OSError):
        pass
    finally:
        conn.close()


def _answer(sock: socket.socket, buf: bytearray) -> tuple[dict[str, str], bytes]:
    parsed = _read_head(sock, buf)
    if parsed is None:
        raise ConnectionError("server closed the connection")
    line, headers, rest = parsed
    if b" 200 " not in line:
        raise ConnectionError(f"unexpected answer {line!r}")
    return headers, rest


def put_file(port: int, path: str, *, target: str = "/raw", method: str = "PUT", content_type: str | None = None,
             head: bytes = b"", tail: bytes = b"") -> dict:
    """Send ``head``, the file's bytes (read and sent in 1 MiB steps) and ``tail`` as one request body.

    The defaults make a plain ``PUT /raw`` of the file; with ``target``, ``method``, ``content_type``, ``head``
    and ``tail`` it sends a hand-made multipart body to the sandbox (``POST /v1/data/upload?...``).
    :returns: the JSON answer.
    """
    size = len(head) + os.path.getsize(path) + len(tail)
    ctype = f"Content-Type: {content_type}\r\n" if content_type else ""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{ctype}Content-Length: {size}\r\n\r\n".encode()
                     + head)
        _send_file(sock, path)
        sock.sendall(tail)
        headers, rest = _answer(sock, bytearray())
        length = int(headers["content-length"])
        while len(rest) < length:
            rest += sock.recv(65536)
    answer = json.loads(rest)
    if target == "/raw":
        assert answer["data"]["bytes"] == size, answer
    return answer


def get_file(port: int, dest: str, *, target: str = "/raw", json_body: dict | None = None) -> tuple[float, int]:
    """``GET target`` (with an optional JSON body) written to ``dest`` in 1 MiB steps.

    :returns: (seconds from sending the request to the answer's headers, bytes received).
    """
    body = json.dumps(json_body).encode() if json_body is not None else b""
    extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode() + body)
        headers, rest = _answer(sock, bytearray())
        first_byte = time.perf_counter() - t0
        length = int(headers["content-length"])
        _receive_body(sock, length, rest, dest)
    return first_byte, length


if __name__ == "__main__":
    serve(sys.argv[1])
