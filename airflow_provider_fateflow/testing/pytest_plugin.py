"""pytest plugin: the ``fateflow_sandbox`` fixture (a started sandbox with the defaults, one per test)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import FateFlowSandbox


@pytest.fixture
def fateflow_sandbox() -> Iterator[FateFlowSandbox]:
    """A started :class:`FateFlowSandbox` for one test: in-process, state in memory, the default timing model
    of a real FATE Flow (``configure(pace=0)`` for instant mode); customise with ``set_faults``/``behave``."""
    sb = FateFlowSandbox()
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
