"""Fixtures of the sandbox test suite (self-contained: no dependency on a top-level conftest)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_fateflow.testing import FateFlowSandbox


@pytest.fixture
def sandbox() -> Iterator[FateFlowSandbox]:
    """A fresh in-process sandbox in instant mode (pace 0)."""
    with FateFlowSandbox(pace=0) as sb:
        yield sb
