"""Integration tier: every hook operation over real loopback HTTP against the sandbox.

The hook always gets its connection the way a deployment gives it: as an ``AIRFLOW_CONN_FATEFLOW_DEFAULT``
JSON environment variable. The ``server`` fixture is module-scoped and parametrized: each module runs once
against a sandbox without client authentication and once against one that requires signed requests (the
connection's login/password are then the app key and secret).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _integration_helpers import APP_KEY, SECRET_KEY, Server, Trained, new_hook, upload_and_train

from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.testing import FateFlowSandbox


@pytest.fixture(scope="module", params=["auth_off", "auth_on"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A module's own sandbox (in-process, pace 0), without and with client authentication."""
    auth = (APP_KEY, SECRET_KEY) if request.param == "auth_on" else None
    with FateFlowSandbox(pace=0.0, auth=auth) as sb:
        yield Server(sb, auth)


@pytest.fixture
def hook(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[FateFlowHook]:
    """A fresh hook on the module's sandbox, its connection given as an environment variable."""
    h = new_hook(monkeypatch, server)
    yield h
    h.close()


@pytest.fixture
def make_hook(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FateFlowHook]]:
    """Build hooks with other connection fields (``login=``, ``password=``, extras)."""
    hooks: list[FateFlowHook] = []

    def factory(conn_id: str = "fateflow_default", **conn: Any) -> FateFlowHook:
        h = new_hook(monkeypatch, server, conn_id, **conn)
        hooks.append(h)
        return h

    yield factory
    for h in hooks:
        h.close()


@pytest.fixture(scope="module")
def module_hook(server: Server) -> Iterator[FateFlowHook]:
    """One hook for a module's shared setup."""
    with pytest.MonkeyPatch.context() as mp:
        h = new_hook(mp, server)
    yield h
    h.close()


@pytest.fixture(scope="module")
def trained(module_hook: FateFlowHook) -> Trained:
    """Tables uploaded and one hetero-LR model trained and deployed, once per module (and auth mode)."""
    return upload_and_train(module_hook, deploy=True)
