"""Fixtures of the sandbox test suite (self-contained: no dependency on a top-level conftest)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_fateflow.testing import FateFlowSandbox


@pytest.fixture
def sandbox() -> Iterator[FateFlowSandbox]:
    """A fresh in-process sandbox in instant mode (pace 0)."""
    with FateFlowSandbox(pace=0) as sb:
        yield sb


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """The recording conformance table, when a recording differed or ``-rA`` asks for every outcome."""
    mod = sys.modules.get("test_conformance")
    lines = mod.summary_lines() if mod is not None else []
    if lines and (any("| NO " in ln for ln in lines) or "A" in (config.option.reportchars or "")):
        terminalreporter.section("FATE Flow 1.11.2 recordings against the sandbox")
        for line in lines:
            terminalreporter.write_line(line)
