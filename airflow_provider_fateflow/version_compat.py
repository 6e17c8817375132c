"""Airflow version gates: the one place that knows which Airflow 3.x feature arrived when.

Copy-per-provider, as Airflow's own providers do; never import another provider's copy.
"""
from __future__ import annotations


def _airflow_version() -> tuple[int, int, int]:
    from airflow import __version__

    parts = []
    for piece in __version__.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


AIRFLOW_VERSION = _airflow_version()
#: Declarative ``conn-fields``/``ui-field-behaviour`` in provider info replace the hook's UI methods.
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= (3, 2, 0)
#: ``BaseTrigger.on_kill``, the task state store and ``airflow.sdk.Connection.test_connection``.
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3, 0)

__all__ = ["AIRFLOW_VERSION", "AIRFLOW_V_3_2_PLUS", "AIRFLOW_V_3_3_PLUS"]
