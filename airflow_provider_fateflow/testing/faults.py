"""Fault injection for reliability tests: latency, 503s, dropped connections, lost responses, outages."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RouteFault:
    """Faults of one route (relative to ``/v1``) or ``*``.

    ``error_rate`` and ``drop_rate`` are exact shares: a credit accumulates by the rate on every
    request and a fault fires each time it reaches 1, so 0.5 fails every second request.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    lose_response: int = 0
    _err_credit: float = field(default=0.0, repr=False)
    _drop_credit: float = field(default=0.0, repr=False)


class Faults:
    """Thread-safe registry of active faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.routes: dict[str, RouteFault] = {}
        self.outage_until = 0.0

    def set(self, route: str = "*", latency: float = 0.0, error_rate: float = 0.0, drop_rate: float = 0.0,
            lose_response: int = 0) -> None:
        """Replace the faults of a route."""
        route = route.strip("/") or "*"
        if route.startswith("v1/"):
            route = route[3:]
        with self._lock:
            self.routes[route] = RouteFault(float(latency), float(error_rate), float(drop_rate), int(lose_response))

    def clear(self) -> None:
        """Remove every fault and end any outage."""
        with self._lock:
            self.routes.clear()
            self.outage_until = 0.0

    def outage(self, seconds: float) -> None:
        """Fail every ``/v1`` request for ``seconds``."""
        with self._lock:
            self.outage_until = time.time() + float(seconds)

    def decide(self, route: str) -> dict[str, Any]:
        """What to do with one request: ``{"latency", "error", "drop", "lose"}``."""
        out = {"latency": 0.0, "error": False, "drop": False, "lose": False}
        with self._lock:
            if time.time() < self.outage_until:
                out["drop"] = True
                return out
            for key in (route.strip("/"), "*"):
                f = self.routes.get(key)
                if f is None:
                    continue
                out["latency"] = max(out["latency"], f.latency)
                if f.drop_rate:
                    f._drop_credit += f.drop_rate
                    if f._drop_credit >= 1 - 1e-9:
                        f._drop_credit -= 1
                        out["drop"] = True
                if f.error_rate and not out["drop"]:
                    f._err_credit += f.error_rate
                    if f._err_credit >= 1 - 1e-9:
                        f._err_credit -= 1
                        out["error"] = True
                if f.lose_response > 0 and not (out["drop"] or out["error"]):
                    f.lose_response -= 1
                    out["lose"] = True
        return out

    def snapshot(self) -> dict[str, Any]:
        """The active faults as a JSON-able dict."""
        with self._lock:
            return {"outage_remaining": max(self.outage_until - time.time(), 0.0),
                    "routes": {k: {"latency": v.latency, "error_rate": v.error_rate, "drop_rate": v.drop_rate,
                                   "lose_response": v.lose_response} for k, v in self.routes.items()}}
