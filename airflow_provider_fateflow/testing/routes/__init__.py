"""FATE Flow v1 route handlers, one module per ``fate_flow/apps/*_app.py`` of FATE-Flow 1.11.2.

:class:`FateFlowApp` assembles the route table of every app module over one shared
:class:`~.core.FlowCore` (store, engine, ids). The ASGI layer (``testing/app.py``) looks a route
up with :meth:`FateFlowApp.route` and never imports a handler module itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store import Store
from .core import AppModule, FlowCore, SubmitError
from .data_app import DataApp
from .info_app import InfoApp
from .job_app import JobApp
from .model_app import ModelApp
from .table_app import TableApp
from .tracking_app import TrackingApp

#: The app modules, in FATE Flow's registration order.
APP_MODULES: tuple[type[AppModule], ...] = (JobApp, TrackingApp, DataApp, ModelApp, TableApp, InfoApp)


@dataclass(frozen=True)
class Route:
    """One route: allowed methods, the bound handler and how to call it (``sync``, ``async``, ``file``)."""

    methods: tuple[str, ...]
    handler: Callable[..., Any]
    mode: str


class FateFlowApp:
    """Every FATE Flow v1 route over one shared state.

    :param store: sqlite store.
    :param files_dir: directory for table, upload and model-store files.
    :param settings: shared mutable settings (pace, serving, model_store, hold, board_url, port, versions).
    """

    def __init__(self, store: Store, files_dir: Path, settings: dict[str, Any]) -> None:
        self.core = FlowCore(store, files_dir, settings)
        self.apps = [cls(self.core) for cls in APP_MODULES]
        self.routes: dict[str, Route] = {}
        for app in self.apps:
            for path, (methods, name, mode) in app.ROUTES.items():
                if path in self.routes:
                    raise RuntimeError(f"route {path!r} is defined twice")
                self.routes[path] = Route(methods, getattr(app, name), mode)

    def route(self, path: str) -> Route | None:
        """The route for ``path`` (relative to ``/v1``, no slashes around it), or None (werkzeug's NotFound)."""
        return self.routes.get(path)


__all__ = ["APP_MODULES", "FateFlowApp", "FlowCore", "Route", "SubmitError"]
