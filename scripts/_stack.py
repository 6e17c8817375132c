"""Pieces the deployment scripts share: free ports, JSON over HTTP, processes stopped by PID, polling.

``scripts/deploy_test.py`` (one machine, LocalExecutor) and ``scripts/deploy_distributed.py`` (PostgreSQL,
Celery, two triggerers) import this module; it uses the standard library only. Every process runs in its own
process group (its own session), so a component and the children it forks are signalled together, by the
group's PID, never by name.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Errors a poll treats as "not yet" (a server still starting or restarting).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    urllib.error.URLError, ConnectionError, OSError, ValueError, KeyError,
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 10) -> dict:
    """One JSON request; the decoded JSON answer (``{}`` for an empty body).

    :param timeout: socket timeout in seconds (default 10).
    :raises urllib.error.HTTPError: the server answered 4xx/5xx.
    """
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read() or b"{}")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent PID, start time in clock ticks) of ``pid`` from /proc, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().decode(errors="replace").rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> list[tuple[int, int]]:
    """``(pid, start time)`` of every descendant of ``pid``, from /proc (some run in process groups of their
    own, as Airflow's task runners do); the start time tells a process from a later one with the same PID."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat:
                children.setdefault(stat[0], []).append((int(entry), stat[1]))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


def _kill(procs: list[tuple[int, int]], sig: int) -> None:
    """Signal the processes of ``descendants`` that still run (same PID and start time)."""
    for pid, started in procs:
        stat = _stat(pid)
        if stat and stat[1] == started:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


class Stack:
    """The processes of one deployment, each in its own process group, stopped by PID.

    :param home: directory of the per-process logs (``<name>.log``, appended to across restarts).
    :param env: environment of every process (``start(..., env=...)`` overrides it for one).
    :param supervise: when a process that was not stopped on purpose exits, ``check_alive`` starts it again
        (and counts it in ``restarts``) instead of raising, as a process supervisor would.
    """

    def __init__(self, home: Path, env: dict[str, str], supervise: bool = False) -> None:
        self.home = home
        self.env = env
        self.supervise = supervise
        self.procs: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, dict[str, Any]] = {}
        self.down: set[str] = set()  # stopped or killed on purpose: not restarted by check_alive
        self.restarts: dict[str, list[dict[str, Any]]] = {}
        self.on_start: list[Callable[[str, subprocess.Popen], None]] = []

    def start(self, name: str, *cmd: str, env: dict[str, str] | None = None, user: str | None = None,
              stop_signal: int = signal.SIGTERM) -> None:
        """Start ``cmd`` as ``name`` in a new session, its output appended to ``<home>/<name>.log``.

        :param env: environment for this process (default: the stack's).
        :param user: run as this user (only when running as root, e.g. PostgreSQL refuses root).
        :param stop_signal: what ``stop`` sends it (default SIGTERM; PostgreSQL's fast shutdown is SIGINT).
        """
        self.specs[name] = {"cmd": list(cmd), "env": env, "user": user, "stop_signal": stop_signal}
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        kwargs: dict[str, Any] = {}
        if user and os.geteuid() == 0:
            kwargs.update(user=user, group=user, extra_groups=[])
        self.procs[name] = subprocess.Popen(
            list(cmd), env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self.home, **kwargs,
        )
        log.close()
        self.down.discard(name)
        print(f"started {name} (pid {self.procs[name].pid})", flush=True)
        for hook in self.on_start:
            hook(name, self.procs[name])

    def restart(self, name: str) -> None:
        """Start ``name`` again with the command it was started with."""
        spec = self.specs[name]
        self.start(name, *spec["cmd"], env=spec["env"], user=spec["user"], stop_signal=spec["stop_signal"])

    def pid(self, name: str) -> int:
        """PID of ``name`` (also its process group id)."""
        return self.procs[name].pid

    def alive(self, name: str) -> bool:
        """Whether ``name`` is running."""
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def check_alive(self) -> None:
        """Raise when a process exited; with ``supervise``, start it again instead (and count it)."""
        for name, proc in list(self.procs.items()):
            if name in self.down or proc.poll() is None:
                continue
            if not self.supervise:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.home / (name + '.log')}")
            print(f"{name} (pid {proc.pid}) exited with code {proc.returncode}: restarting it", flush=True)
            self.restarts.setdefault(name, []).append({"at": time.time(), "code": proc.returncode})
            self.restart(name)

    def signal(self, name: str, sig: int = signal.SIGTERM, wait: float | None = 30) -> None:
        """Send ``sig`` to the process group of ``name`` (stopped on purpose: not restarted by ``check_alive``).

        SIGKILL goes to every descendant too, as a machine's crash would (Airflow's task runners have process
        groups of their own).

        :param wait: seconds to wait for it to exit (None: do not wait); SIGKILL when it ignores ``sig``.
        """
        proc = self.procs[name]
        self.down.add(name)
        if sig == signal.SIGKILL and proc.poll() is None:
            _kill(descendants(proc.pid), signal.SIGKILL)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        if wait is None:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            print(f"{name} (pid {proc.pid}) ignored signal {sig}; killing its process group", flush=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # children left in the group (a killed leader's forks) go with it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, names: list[str] | None = None) -> None:
        """Signal every process group (its ``stop_signal``), SIGKILL what is left after 30 s (descendants in
        other groups too).

        :param names: stop only these (default: all).
        """
        procs = {n: p for n, p in self.procs.items() if names is None or n in names}
        left = [pid for proc in procs.values() if proc.poll() is None for pid in descendants(proc.pid)]
        for name, proc in procs.items():
            self.down.add(name)
            if proc.poll() is None:
                os.killpg(proc.pid, self.specs.get(name, {}).get("stop_signal", signal.SIGTERM))
        deadline = time.time() + 30
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                print(f"{name} (pid {proc.pid}) still runs after 30 s; killing its process group", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            try:  # forks left behind in the group
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _kill(left, signal.SIGKILL)

    def log(self, name: str) -> str:
        """The log of ``name`` so far."""
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for(what: str, check: Callable[[], Any], timeout: float, stack: Stack, interval: float = 2.0,
             errors: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll ``check`` until it returns something truthy; return it.

    :param timeout: seconds before giving up with :class:`TimeoutError`.
    :param interval: seconds between two polls (default 2).
    :param errors: more exception types that mean "not yet" (besides connection and decoding errors).
    """
    deadline = time.time() + timeout
    last: object = None
    while time.time() < deadline:
        stack.check_alive()
        try:
            value = check()
            if value:
                return value
            last = value
        except (*TRANSIENT_ERRORS, *errors) as exc:
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
