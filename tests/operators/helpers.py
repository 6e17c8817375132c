"""Shared fixtures and helpers of the operator, sensor and trigger tests (imported by their conftest.py)."""
from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

#: ../shared beside the repository, or FATEFLOW_SHARED_DIR (as tests/conftest.py finds it).
_SHARED = Path(os.environ.get("FATEFLOW_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared")
EXAMPLES = _SHARED / "fateflow-v1" / "examples"
BOARD = "http://board:8080"


class FakeTI:
    """Just what the operators use of a RuntimeTaskInstance."""

    def __init__(self, dag_id: str = "dag", task_id: str = "task", run_id: str = "run1", try_number: int = 1,
                 max_tries: int = 0, map_index: int = -1) -> None:
        self.dag_id, self.task_id, self.run_id = dag_id, task_id, run_id
        self.try_number, self.max_tries, self.map_index = try_number, max_tries, map_index
        self.start_date = datetime.now(timezone.utc)
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


class FakeStateStore:
    """The Airflow 3.3 task state store, in memory (survives "tries" in a test)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self.data.get(key, default))

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = copy.deepcopy(value)


def make_context(ti: FakeTI | None = None, **extra: Any) -> dict[str, Any]:
    ti = ti or FakeTI()
    return {"ti": ti, "dag_run": SimpleNamespace(start_date=ti.start_date), **extra}


def conn_json(port: int, **extra: Any) -> str:
    return json.dumps({"conn_type": "fateflow", "host": "127.0.0.1", "port": port,
                       "extra": {"initiator_role": "guest", "initiator_party_id": 9999, "board_url": BOARD,
                                 "retry_limit": 2, "retry_delay": 0.1, "read_timeout": 10, **extra}})


def toy_conf(**component: Any) -> dict[str, Any]:
    conf = json.loads((EXAMPLES / "toy_example_conf.json").read_text())
    if component:
        conf["component_parameters"]["common"]["secure_add_example_0"]["sandbox"] = component
    return conf


def toy_dsl() -> dict[str, Any]:
    return json.loads((EXAMPLES / "toy_example_dsl.json").read_text())


@pytest.fixture(scope="session")
def sandbox():
    """One sandbox for the whole session (cheap per-test state: faults and behaviours are reset)."""
    from airflow_provider_fateflow.testing import FateFlowSandbox

    sb = FateFlowSandbox(pace=0.0, board_url="http://127.0.0.1:8080")
    sb.start()
    old = os.environ.get("AIRFLOW_CONN_FATEFLOW_DEFAULT")
    os.environ["AIRFLOW_CONN_FATEFLOW_DEFAULT"] = conn_json(sb.port)
    try:
        yield sb
    finally:
        if old is None:
            os.environ.pop("AIRFLOW_CONN_FATEFLOW_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_FATEFLOW_DEFAULT"] = old
        sb.stop()


@pytest.fixture
def sb(sandbox):
    """The session sandbox with faults, behaviours and hold cleared around the test."""
    sandbox.clear_faults()
    sandbox.clear_behaviours()
    sandbox.hold(False)
    sandbox.configure(pace=0.0)
    yield sandbox
    sandbox.clear_faults()
    sandbox.clear_behaviours()
    sandbox.hold(False)
    sandbox.configure(pace=0.0)
