"""``FateFlowSandbox``: start a local FATE Flow v1 server in a thread or a child process, and drive it.

Only the standard library is imported here; FastAPI/Starlette/uvicorn are imported when a
server actually starts in this process.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess as _subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from .config import SandboxConfig


#: Seconds an idle keep-alive connection stays open (the same in thread and subprocess mode).
KEEP_ALIVE_S = 30


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class FateFlowSandbox:
    """A FATE Flow 1.11 stand-in on loopback, for tests, demos and users' DAG tests.

    Use it as a context manager (``with FateFlowSandbox() as sb: ...``) or call :meth:`start`
    and :meth:`stop`; ``start()`` after ``stop()`` restarts on the same port and state_dir.

    :param host: interface to bind (loopback).
    :param port: TCP port; 0 picks a free one (kept across restarts).
    :param state_dir: sqlite/table/model state directory; None keeps state in memory.
    :param auth: ``(app_key, secret_key)`` to require signed requests (API.md §2.1).
    :param pace: ``None`` (default): the timing model of a real FATE Flow 1.11.2 (per component kind, growing
        with input rows and ``max_iter``; the example HeteroLR training job takes about 9 s); a number > 0:
        seconds every component takes; ``0``: instant mode (components take no time; a rerun is still picked
        up 0.3 s late, as the real scheduler loop does it 2 s late).
    :param time_scale: share of real time the timing model uses (default 0.1 = a tenth; only with ``pace=None``).
    :param scheduler_interval: seconds until a ``job/rerun`` is picked up; None = 2 s (0.3 s when ``pace=0``).
    :param serving: a simulated FATE-Serving is reachable; False reproduces the recorded load/bind failures.
    :param model_store: a local model store exists; False makes store/restore jobs fail as recorded.
    :param board_url: FATE-Board base URL used in ``board_url`` values.
    :param subprocess: run the server in a child process (needed to kill/restart it).
    :param log_requests: log one line per request (off by default here; on in the console script).
    :param start_timeout: seconds to wait for the server to answer.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, state_dir: str | Path | None = None,
                 auth: tuple[str, str] | None = None, pace: float | None = None, time_scale: float = 0.1,
                 scheduler_interval: float | None = None, serving: bool = True,
                 model_store: bool = True, board_url: str = "http://127.0.0.1:8080", subprocess: bool = False,
                 log_requests: bool = False, start_timeout: float = 30.0) -> None:
        self.host = host
        self.port = int(port)
        self.config = SandboxConfig(host=host, port=self.port, state_dir=str(state_dir) if state_dir else None,
                                    auth=tuple(auth) if auth else None,
                                    pace=None if pace is None else float(pace), time_scale=float(time_scale),
                                    scheduler_interval=None if scheduler_interval is None else float(
                                        scheduler_interval), serving=serving,
                                    model_store=model_store, board_url=board_url, log_requests=log_requests)
        self.subprocess = subprocess
        self.start_timeout = start_timeout
        self._proc: _subprocess.Popen[bytes] | None = None
        self._uv: Any = None
        self._thread: threading.Thread | None = None
        self._app: Any = None

    # -- lifecycle -----------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://<host>:<port>`` (no ``/v1``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server is up."""
        if self.subprocess:
            return self._proc is not None and self._proc.poll() is None
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "FateFlowSandbox":
        """Start the server and wait until it answers."""
        if self.running:
            return self
        if self.port == 0:
            self.port = free_port(self.host)
        self.config.port = self.port
        if self.subprocess:
            self._start_process()
        else:
            self._start_thread()
        self._wait_ready()
        return self

    def _start_thread(self) -> None:
        import uvicorn

        from .app import SandboxServer

        self._app = SandboxServer(self.config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto 6: asyncio sets TCP_NODELAY
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        cfg = uvicorn.Config(self._app, lifespan="on", log_level="warning", access_log=False, loop="asyncio",
                             http="auto", timeout_keep_alive=KEEP_ALIVE_S)
        self._uv = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._uv.run, kwargs={"sockets": [sock]},
                                        name=f"fateflow-sandbox-{self.port}", daemon=True)
        self._thread.start()

    def _start_process(self) -> None:
        cmd = [sys.executable, "-m", "airflow_provider_fateflow.testing", "--host", self.host, "--port",
               str(self.port), "--time-scale", str(self.config.time_scale), "--board-url", self.config.board_url]
        if self.config.pace is not None:
            cmd += ["--pace", str(self.config.pace)]
        if self.config.scheduler_interval is not None:
            cmd += ["--scheduler-interval", str(self.config.scheduler_interval)]
        if self.config.state_dir:
            cmd += ["--state-dir", self.config.state_dir]
        if self.config.auth:
            cmd += ["--auth", f"{self.config.auth[0]}:{self.config.auth[1]}"]
        if not self.config.serving:
            cmd.append("--no-serving")
        if not self.config.model_store:
            cmd.append("--no-model-store")
        if not self.config.log_requests:
            cmd.append("--quiet")
        env = dict(os.environ)
        self._proc = _subprocess.Popen(cmd, env=env, stdout=None if self.config.log_requests else _subprocess.DEVNULL,
                                       stderr=None if self.config.log_requests else _subprocess.DEVNULL)

    def _wait_ready(self) -> None:
        deadline = time.time() + self.start_timeout
        last: Exception | None = None
        while time.time() < deadline:
            if self.subprocess and self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"fateflow-sandbox exited with code {self._proc.returncode}")
            try:
                self._control("GET", "health", timeout=2)
                return
            except Exception as exc:  # noqa: BLE001 - retry until ready
                last = exc
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"fateflow-sandbox did not answer on {self.base_url}: {last!r}")

    def stop(self) -> None:
        """Stop the server cleanly (state in ``state_dir`` is kept)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(timeout=15)
                except _subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._uv is not None:
            self._uv.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=15)
            self._uv = None
            self._thread = None
        if self._app is not None:
            self._app.shutdown()
            self._app = None

    def kill(self) -> None:
        """Kill the child process without a clean shutdown (subprocess mode only), as a crash would."""
        if self._proc is None:
            raise RuntimeError("kill() needs subprocess=True")
        self._proc.kill()
        self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port and state_dir."""
        self.stop()
        self.start()

    def __enter__(self) -> "FateFlowSandbox":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- control API ---------------------------------------------------------------------------------------------
    def _control(self, method: str, route: str, body: dict[str, Any] | None = None,
                 timeout: float = 10) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}/_sandbox/{route}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read() or b"{}")

    def set_faults(self, route: str = "*", latency: float = 0.0, error_rate: float = 0.0, drop_rate: float = 0.0,
                   lose_response: int = 0) -> None:
        """Inject faults on a route relative to ``/v1`` (or ``"*"``).

        :param latency: seconds added before answering (the request itself is processed at once).
        :param error_rate: share of requests answered HTTP 503.
        :param drop_rate: share of connections closed without an answer.
        :param lose_response: the next N requests are processed, then the connection is dropped.
        """
        self._control("POST", "faults", {"route": route, "latency": latency, "error_rate": error_rate,
                                         "drop_rate": drop_rate, "lose_response": lose_response})

    def clear_faults(self) -> None:
        """Remove every injected fault (and end an outage)."""
        self._control("DELETE", "faults")

    def outage(self, seconds: float) -> None:
        """Drop every ``/v1`` connection for ``seconds``."""
        self._control("POST", "outage", {"seconds": seconds})

    def behave(self, component: str, fail: str | None = None, seconds: float | None = None, role: str | None = None,
               party_id: int | str | None = None, jobs: int = 1) -> None:
        """Make the next ``jobs`` submitted jobs that contain ``component`` fail (or take ``seconds``).

        :param fail: failure reason (task ``f_error_report``); None = do not fail.
        :param seconds: how long the component runs; None = the sandbox pace.
        :param role: only at this role (all roles if None).
        :param party_id: only at this party (all parties if None).
        """
        self._control("POST", "behave", {"component": component, "fail": fail, "seconds": seconds, "role": role,
                                         "party_id": party_id, "jobs": jobs})

    def clear_behaviours(self) -> None:
        """Forget pending :meth:`behave` requests."""
        self._control("POST", "behave/clear", {})

    def hold(self, on: bool = True) -> None:
        """Keep submitted jobs waiting (as if the cluster had no free resources) until ``hold(False)``."""
        self._control("POST", "hold", {"hold": on})

    def configure(self, **settings: Any) -> None:
        """Change settings of the running server: ``pace`` (None = the timing model, 0 = instant, N = N seconds
        per component), ``time_scale``, ``scheduler_interval``, ``party_lag`` (seconds between two parties'
        job rows ending; None = 1 s in the timing model, 0 in instant mode), ``serving``, ``model_store``, ``board_url`` or
        ``auth`` (``(key, secret)`` or None). Jobs already running keep the durations they started with."""
        if "auth" in settings and settings["auth"] is not None:
            settings["auth"] = list(settings["auth"])
        self._control("POST", "configure", settings)

    def jobs_count(self) -> int:
        """Number of distinct jobs the server holds."""
        return int(self._control("GET", "jobs_count")["count"])


_ = urllib.error
