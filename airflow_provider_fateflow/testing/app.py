"""The ASGI application: routing like Flask/werkzeug in FATE Flow, auth, faults, the ``/_sandbox`` control API.

Starlette supplies the request parsing (JSON bodies, urlencoded and multipart forms through
python-multipart) and the responses; uvicorn serves it. This module is imported lazily by
:class:`~airflow_provider_fateflow.testing.FateFlowSandbox`, never at package import time.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from . import auth
from .config import SandboxConfig
from .faults import Faults
from .http import (ArgumentError, Ctx, HTTPException, Reply, bad_request_key_error, method_not_allowed,
                   not_found, result, server_error, too_large)
from .routes import FateFlowApp
from .store import Store
from .uploads import parse_multipart

log = logging.getLogger("fateflow_sandbox")


class _FileResponse(FileResponse):
    """Archives are sent 1 MiB at a time (Starlette's default, 64 KiB, halves the sandbox's send rate)."""

    chunk_size = 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class SandboxServer:
    """State and ASGI callable of one sandbox.

    :param config: the sandbox configuration.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._tmpdir: str | None = None
        if config.state_dir:
            files = Path(config.state_dir) / "files"
        else:
            self._tmpdir = tempfile.mkdtemp(prefix="fateflow-sandbox-")
            files = Path(self._tmpdir)
        files.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.state_dir)
        self.settings: dict[str, Any] = {
            "pace": config.pace, "time_scale": config.time_scale,
            "scheduler_interval": config.scheduler_interval, "party_lag": None, "serving": config.serving,
            "model_store": config.model_store, "hold": False,
            "board_url": config.board_url, "port": config.port or 9380, "fate_version": config.fate_version,
            "flow_version": config.flow_version,
        }
        self.flow = FateFlowApp(self.store, files, self.settings)
        self.faults = Faults()
        self.auth = tuple(config.auth) if config.auth else None
        self.started = False

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def startup(self) -> None:
        """Start the engine (idempotent)."""
        if not self.started:
            self.flow.core.engine.start()
            self.started = True

    def shutdown(self) -> None:
        """Stop the engine and close the store."""
        if self.started:
            self.flow.core.engine.stop()
            self.started = False
        self.store.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- ASGI ----------------------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    self.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        t0 = time.perf_counter()
        path = scope["path"]
        request = Request(scope, receive)
        if path.startswith("/_sandbox"):
            reply = await self._control(request)
            await self._send(scope, receive, send, reply)
            return
        decision = {"latency": 0.0, "error": False, "drop": False, "lose": False}
        if path.startswith("/v1/") or path == "/v1":
            decision = self.faults.decide(path[4:].strip("/"))
        if decision["drop"]:
            if decision["latency"]:
                await asyncio.sleep(decision["latency"])
            self._log(scope, "DROP", "-", t0)
            _drop(send)
            return
        if decision["error"]:
            reply = Reply(503, {"retcode": 503, "retmsg": "Service Unavailable (sandbox fault injection)"})
        else:
            reply = await self._handle(request, scope)
        if decision["latency"]:
            # a slow server: the request is read and processed at once, the answer comes late (sleeping
            # first would lose the request body when the client gives up, which no real server does)
            await asyncio.sleep(decision["latency"])
        if decision["lose"]:
            self._log(scope, "LOST", reply.retcode, t0)
            if reply.file and reply.delete_file:
                _unlink(reply.file)
            _drop(send)
            return
        await self._send(scope, receive, send, reply)
        self._log(scope, reply.status, reply.retcode, t0)

    def _log(self, scope: dict[str, Any], status: Any, retcode: Any, t0: float) -> None:
        if self.config.log_requests:
            q = scope.get("query_string", b"")
            path = scope["path"] + ("?" + q.decode("latin-1")[:80] if q else "")
            log.info("%s %s %s retcode=%s %.1fms", scope["method"], path, status, retcode,
                     (time.perf_counter() - t0) * 1000)

    async def _send(self, scope: dict[str, Any], receive: Any, send: Any, reply: Reply) -> None:
        if reply.file:
            headers = {"Content-Disposition": f"attachment; filename={reply.filename}"}
            bg = BackgroundTask(_unlink, reply.file) if reply.delete_file else None
            resp: Response = _FileResponse(reply.file, status_code=reply.status, headers=headers,
                                           media_type=reply.content_type, background=bg)
        else:
            resp = Response(reply.encode(), status_code=reply.status, media_type="application/json")
        await resp(scope, receive, send)

    async def _read_body(self, request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.config.max_body:
                raise _BodyTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)

    async def _handle(self, request: Request, scope: dict[str, Any]) -> Reply:
        ctx = Ctx(method=scope["method"], path=scope["path"], route="", query=scope.get("query_string", b"").decode(
            "latin-1"), headers={k.upper(): v for k, v in request.headers.items()}, request=request)
        ctype = request.headers.get("content-type", "")
        try:
            if ctype.startswith("multipart/form-data"):
                ctx.form, ctx.files = await parse_multipart(
                    ctype, request.stream(), self.flow.core.files / "uploads", self.config.max_body)
            elif ctype.startswith("application/x-www-form-urlencoded"):
                ctx.raw = await self._read_body(request)
                request._body = ctx.raw  # let Starlette parse the form from the bytes we read
                form = await request.form(max_part_size=self.config.max_body)
                ctx.form = {key: val for key, val in form.multi_items() if isinstance(val, str)}
            else:
                ctx.raw = await self._read_body(request)
            if ctx.raw and not ctype.startswith("multipart/"):
                try:
                    ctx.json = json.loads(ctx.raw)
                except (ValueError, UnicodeDecodeError):
                    ctx.json = None
        except _BodyTooLarge:
            return server_error(too_large())
        except Exception as exc:  # noqa: BLE001 - malformed multipart etc.
            return server_error(bad_request_key_error() if "boundary" in str(exc).lower() else exc)
        try:
            if self.auth:
                full_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
                if ctx.query:
                    full_path += "?" + ctx.query
                msg = auth.check(self.auth[0], self.auth[1], ctx.headers, full_path, ctx.raw, ctx.json,
                                 ctx.form or None)
                if msg is not None:
                    return result(109, msg)
            return await self._route(ctx)
        finally:
            for f in ctx.files.values():
                try:
                    await f.close()
                except Exception:  # noqa: BLE001
                    pass

    async def _route(self, ctx: Ctx) -> Reply:
        path = ctx.path
        if not path.startswith("/v1/"):
            return server_error(not_found())
        route = path[4:].strip("/")
        ctx.route = route
        entry = self.flow.route(route)
        if entry is None:
            return server_error(not_found())
        if ctx.method not in entry.methods:
            return server_error(method_not_allowed())
        try:
            if entry.mode == "async":
                return await entry.handler(ctx)
            if entry.mode == "file":  # archive builds take seconds: keep the event loop serving
                return await asyncio.to_thread(entry.handler, ctx)
            return entry.handler(ctx)
        except ArgumentError as exc:
            return result(101, str(exc))
        except Exception as exc:  # noqa: BLE001 - FATE's errorhandler(Exception)
            if not isinstance(exc, (HTTPException, KeyError, TypeError, ValueError, AttributeError)):
                log.debug("handler error on %s", route, exc_info=True)
            return server_error(exc)

    # -- control API ---------------------------------------------------------------------------------------------
    async def _control(self, request: Request) -> Reply:
        route = request.url.path[len("/_sandbox"):].strip("/")
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        try:
            if route == "health":
                return Reply(200, {"ok": True, "settings": self.settings, "faults": self.faults.snapshot()})
            if route == "faults":
                if request.method == "DELETE":
                    self.faults.clear()
                else:
                    self.faults.set(**{k: body[k] for k in ("route", "latency", "error_rate", "drop_rate",
                                                             "lose_response") if k in body})
                return Reply(200, {"ok": True, "faults": self.faults.snapshot()})
            if route == "faults/clear":
                self.faults.clear()
                return Reply(200, {"ok": True})
            if route == "outage":
                self.faults.outage(float(body.get("seconds", 0)))
                return Reply(200, {"ok": True})
            if route == "behave":
                beh = {"component": body["component"], "fail": body.get("fail"), "seconds": body.get("seconds"),
                       "role": body.get("role"), "party_id": body.get("party_id"), "jobs": int(body.get("jobs", 1))}
                self.flow.core.add_behaviour(beh)
                return Reply(200, {"ok": True})
            if route == "behave/clear":
                self.flow.core.clear_behaviours()
                return Reply(200, {"ok": True})
            if route == "jobs_count":
                return Reply(200, {"count": self.store.count_distinct_jobs()})
            if route == "hold":
                self.settings["hold"] = bool(body.get("hold", True))
                return Reply(200, {"ok": True, "hold": self.settings["hold"]})
            if route == "configure":
                for key in ("pace", "time_scale", "scheduler_interval", "party_lag", "serving", "model_store",
                            "board_url"):
                    if key in body:
                        self.settings[key] = body[key]
                if "auth" in body:
                    self.auth = tuple(body["auth"]) if body["auth"] else None
                return Reply(200, {"ok": True, "settings": self.settings, "auth": bool(self.auth)})
            return Reply(404, {"ok": False, "error": f"unknown control route {route!r}"})
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"ok": False, "error": repr(exc)})


def _drop(send: Any) -> None:
    """Close the connection without an answer (uvicorn: the protocol's transport)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is not None and transport is not None:
        cycle.disconnected = True
        transport.abort() if hasattr(transport, "abort") else transport.close()
        return
    raise ConnectionAbortedError("sandbox fault: connection dropped")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
