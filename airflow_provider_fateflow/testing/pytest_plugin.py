"""pytest plugin: the ``fateflow_sandbox`` fixture (a started sandbox with defaults, one per test)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import FateFlowSandbox


@pytest.fixture
def fateflow_sandbox() -> Iterator[FateFlowSandbox]:
    """A started :class:`FateFlowSandbox` (in-process, in memory, pace 0); customise with ``set_faults``/``behave``."""
    sb = FateFlowSandbox()
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
