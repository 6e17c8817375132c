"""Version and FATE-Board info routes (``apps/version_app.py``, ``apps/info_app.py``)."""
from __future__ import annotations

from urllib.parse import urlparse

from ..http import Ctx, Reply, error_response, result
from .core import AppModule


class InfoApp(AppModule):
    """Routes of ``fate_flow/apps/info_app.py``."""

    ROUTES = {
        "version/get": (("POST",), "version_get", "sync"),
        "info/fateboard": (("POST",), "info_fateboard", "sync"),
    }

    def version_get(self, ctx: Ctx) -> Reply:
        args = ctx.json if isinstance(ctx.json, dict) else {}
        module = args.get("module") or "FATE"
        versions = {"FATE": self.settings.get("fate_version", "1.11.4"),
                    "FATEFlow": self.settings.get("flow_version", "1.11.2"), "FATEBoard": "1.11.2",
                    "EGGROLL": "2.5.3", "CENTOS": "7.2", "UBUNTU": "16.04", "PYTHON": "3.8", "JDK": "8",
                    "MAVEN": "3.6.3", "SPARK": "3.1.3", "PULSAR": "2.7.0", "RABBITMQ": "3.8.3"}
        if module not in versions:
            return error_response(404, f"No version info of module {module}.")
        return result(0, "success", {module: versions[module], "API": "v1"})

    def info_fateboard(self, ctx: Ctx) -> Reply:
        u = urlparse(self.board)
        if not u.hostname:
            return error_response(404, "fateboard is not configured")
        return result(0, "success", {"host": u.hostname, "port": u.port or 80})
