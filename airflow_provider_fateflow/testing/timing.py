"""How long things take in the sandbox: a model of a real FATE Flow 1.11.2, a fixed pace, or instant.

Three modes, chosen by ``pace`` (settings of one sandbox, changeable at run time with ``configure``):

- ``pace=None`` (the default): the **timing model**. Each component takes what it took on the recorded
  standalone FATE Flow 1.11.2 (``shared/fateflow-v1/recordings``: task start and end times), growing
  with the rows of its input and, for iterative learners, with ``max_iter`` (or ``num_trees``),
  multiplied by ``time_scale`` (default 0.1: a tenth of real time). The recorded 3-iteration HeteroLR
  training job took 78 s, so it takes about 9 s here (with the waits); its 30-iteration twin about 35 s.
- ``pace > 0``: every component takes ``pace`` seconds, whatever it is (the sandbox before the model;
  ``pace=3600`` keeps jobs running for an hour).
- ``pace == 0``: **instant** mode. Components take no time; the scheduler-loop delays below stay, short
  but real, because a status older than a request is what a client must cope with.

Facts taken from the recordings (real seconds): a job waits ~0.4 s for resources; the scheduler loop
picks up a rerun signal after up to 2 s; Reader spans ~4 s, DataTransform ~7 s, each HeteroLR iteration
~10 s (plus ~8 s set-up), Evaluation ~17 s, the toy SecureAddExample ~7 s, an Upload ~4 s, a model
store ~4 s.
"""
from __future__ import annotations

from typing import Any

#: Default share of real time the timing model uses.
DEFAULT_TIME_SCALE = 0.1
#: Rows of the recorded example tables (breast_hetero_guest/host): the model's reference size.
REFERENCE_ROWS = 200

#: (fixed seconds, seconds per reference-size table, seconds per iteration) on the real server.
_REAL: dict[str, tuple[float, float, float]] = {
    "Reader": (3.0, 1.0, 0.0),
    "DataTransform": (5.0, 2.0, 0.0),
    "DataIO": (5.0, 2.0, 0.0),
    "Intersection": (6.0, 3.0, 0.0),
    "FeatureScale": (4.0, 2.0, 0.0),
    "HeteroFeatureBinning": (8.0, 4.0, 0.0),
    "HeteroFeatureSelection": (5.0, 2.0, 0.0),
    "HeteroLR": (8.0, 0.0, 10.0),
    "HomoLR": (8.0, 0.0, 6.0),
    "HeteroSSHELR": (10.0, 0.0, 14.0),
    "HeteroLinR": (8.0, 0.0, 10.0),
    "HeteroPoisson": (8.0, 0.0, 10.0),
    "HeteroSecureBoost": (10.0, 0.0, 6.0),
    "HomoSecureBoost": (10.0, 0.0, 5.0),
    "HeteroFastSecureBoost": (10.0, 0.0, 4.0),
    "HeteroNN": (12.0, 0.0, 3.0),
    "HomoNN": (12.0, 0.0, 3.0),
    "Evaluation": (15.0, 2.0, 0.0),
    "SecureAddExample": (7.0, 0.0, 0.0),
    "Upload": (3.0, 1.0, 0.0),
    "Download": (3.0, 1.0, 0.0),
    "ModelStore": (4.0, 0.0, 0.0),
    "ModelRestore": (4.0, 0.0, 0.0),
}
_OTHER = (6.0, 1.0, 0.0)
#: Seconds a freshly submitted job waits for resources on the real server.
REAL_WAITING_S = 0.4
#: Interval of the real scheduler loop (a rerun signal is picked up within it).
REAL_SCHEDULER_S = 2.0
#: In instant mode: the scheduler loop still takes this long to pick up a rerun (short, but real).
INSTANT_SCHEDULER_S = 0.3
#: Between two parties' job rows reaching their end status (guest first), in model mode.
MODEL_PARTY_LAG_S = 1.0


def iterations(module: str, params: dict[str, Any]) -> int:
    """The iteration count that drives a learner's time (``max_iter``, ``num_trees``, ``epochs``); 0 otherwise."""
    for key in ("max_iter", "num_trees", "epochs"):
        val = params.get(key)
        if val is not None:
            try:
                return max(int(val), 0)
            except (TypeError, ValueError):
                return 0
    if _REAL.get(module, _OTHER)[2]:
        return {"HeteroSecureBoost": 5, "HomoSecureBoost": 5, "HeteroFastSecureBoost": 5}.get(module, 100)
    return 0


def real_seconds(module: str, params: dict[str, Any], rows: int | None) -> float:
    """What a component takes on the real server, in seconds (start to end of its task).

    :param module: the component module (``HeteroLR``...).
    :param params: its ``ComponentParam`` at the initiator (``max_iter`` etc.).
    :param rows: rows of its input table (None: the reference size, 200).
    """
    fixed, per_table, per_iter = _REAL.get(module, _OTHER)
    size = (rows if rows is not None else REFERENCE_ROWS) / REFERENCE_ROWS
    seconds = fixed + per_table * size
    if per_iter:
        seconds += per_iter * iterations(module, params) * max(size, 0.25) ** 0.5
    return seconds


def component_seconds(settings: dict[str, Any], module: str, params: dict[str, Any], rows: int | None) -> float:
    """How long a component runs in this sandbox (see the module docstring for the three modes)."""
    pace = settings.get("pace")
    if pace is not None:
        return max(float(pace), 0.0)
    return real_seconds(module, params, rows) * time_scale(settings)


def time_scale(settings: dict[str, Any]) -> float:
    """The model's share of real time (``time_scale``; default 0.1)."""
    scale = settings.get("time_scale")
    return DEFAULT_TIME_SCALE if scale is None else max(float(scale), 0.0)


def waiting_seconds(settings: dict[str, Any]) -> float:
    """How long a submitted job stays ``waiting`` before it runs."""
    pace = settings.get("pace")
    if pace is None:
        return max(REAL_WAITING_S * time_scale(settings), 0.3 if time_scale(settings) > 0 else 0.0)
    return min(float(pace), 0.5) if float(pace) > 0 else 0.0


def scheduler_seconds(settings: dict[str, Any]) -> float:
    """How long after ``job/rerun`` the scheduler loop picks the rerun up (``scheduler_interval`` overrides)."""
    explicit = settings.get("scheduler_interval")
    if explicit is not None:
        return max(float(explicit), 0.0)
    pace = settings.get("pace")
    if pace is not None and float(pace) == 0:
        return INSTANT_SCHEDULER_S
    return REAL_SCHEDULER_S


def party_lag_seconds(settings: dict[str, Any]) -> float:
    """Between two parties' job rows reaching their end status (0 in instant mode; ``party_lag`` overrides)."""
    explicit = settings.get("party_lag")
    if explicit is not None:
        return max(float(explicit), 0.0)
    pace = settings.get("pace")
    if pace is None:
        return MODEL_PARTY_LAG_S if time_scale(settings) > 0 else 0.0
    return min(float(pace), MODEL_PARTY_LAG_S)
