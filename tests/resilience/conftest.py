"""Fixtures of the resilience tests: a fresh sandbox per module, connections as environment variables,
``run_dag`` (``dag.test()`` of a DAG built in the test) and a loopback server for hostile answers."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fateflow.client.job import JobGroup

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture(scope="session")
def run_dag(request: pytest.FixtureRequest, airflow_db: str) -> Any:
    """``run_dag(dag)``: serialize a DAG built in a test (it is not in the dags folder), then ``dag.test()``."""
    sync = None
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == ROOT_CONFTEST:
            sync = plugin.sync_dag_to_db
    assert sync is not None, f"{ROOT_CONFTEST} is not loaded"

    def run(dag: Any) -> Any:
        sync(dag)
        return dag.test()

    return run


@pytest.fixture
def quick_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three lost-answer lookups within 0.4 s instead of four within 7 s (the tasks run in this process)."""
    monkeypatch.setattr(JobGroup, "recovery_delays", (0.0, 0.1, 0.3))


@pytest.fixture
def task_log(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Any:
    """``task_log()``: what the tasks logged so far (``dag.test()`` prints task logs; the client's stdlib
    logger lines, which a worker writes into the task log, are taken from the logging capture)."""
    import logging

    caplog.set_level(logging.INFO)
    seen: list[str] = []

    def read() -> str:
        out, err = capfd.readouterr()
        seen.append(out + err)
        return "".join(seen) + caplog.text

    return read


@pytest.fixture
def hostile() -> Iterator[Any]:
    """A loopback HTTP server that answers every request with the reply set last (see ``Hostile``)."""
    from _resilience_helpers import Hostile

    server = Hostile()
    try:
        yield server
    finally:
        server.close()
