"""Configuration of the FATE Flow sandbox (stdlib only, cheap to import)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: FATE Flow does not cap request bodies; the sandbox caps non-multipart bodies at this size.
DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass
class SandboxConfig:
    """Everything that shapes one sandbox server.

    :param host: interface to bind; loopback by default.
    :param port: TCP port; 0 picks a free one.
    :param state_dir: directory for the sqlite database and table/model files; ``None`` keeps
        the state in memory (and table files in a temporary directory).
    :param auth: ``(app_key, secret_key)`` to switch on client authentication (API.md §2.1).
    :param pace: ``None`` (default): the timing model of a real FATE Flow 1.11.2 (see :mod:`.timing`),
        scaled by ``time_scale``; a number > 0: seconds every component takes; ``0``: instant mode.
    :param time_scale: share of real time the timing model uses (default 0.1; only with ``pace=None``).
    :param scheduler_interval: seconds until the simulated scheduler loop picks up a rerun signal;
        ``None``: 2 s, or 0.3 s in instant mode.
    :param serving: a simulated FATE-Serving is reachable (model load/bind succeed).
    :param model_store: a local model store is configured (model store/restore jobs succeed).
    :param board_url: FATE-Board base used to build ``board_url`` values.
    :param log_requests: log one line per request.
    :param max_body: cap, in bytes, for non-multipart request bodies.
    """

    host: str = "127.0.0.1"
    port: int = 0
    state_dir: str | None = None
    auth: tuple[str, str] | None = None
    pace: float | None = None
    time_scale: float = 0.1
    scheduler_interval: float | None = None
    serving: bool = True
    model_store: bool = True
    board_url: str = "http://127.0.0.1:8080"
    log_requests: bool = False
    max_body: int = DEFAULT_MAX_BODY
    fate_version: str = "1.11.4"
    flow_version: str = "1.11.2"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-able dict."""
        d = asdict(self)
        d["auth"] = list(self.auth) if self.auth else None
        return d
