"""What the operators and the sensors share on the Airflow side (neither imports the other).

- :func:`hook_for`: the hook from a connection id and ``hook_params`` (checked keys).
- :func:`default_deferrable`: ``[operators] default_deferrable``.
- :func:`task_error`: Airflow's retry policy for FATE errors. A failure a retry cannot fix (bad input,
  refused credentials, a missed metric threshold) fails the task without a retry; a sensor's deadline is
  Airflow's sensor timeout. The error keeps its type (``isinstance(err, FateFlowAuthError)`` still holds in
  callbacks) and gains Airflow's (``AirflowFailException`` / ``AirflowSensorTimeout``).
- :class:`FateFlowTaskMixin`: applies :func:`task_error` to every ``execute``/``execute_complete`` and
  keeps the task's FATE Board URL for the extra link.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from airflow.configuration import conf

from airflow_provider_fateflow.client.errors import FateFlowAuthError, FateFlowDeadlineError, FateFlowInputError
from airflow_provider_fateflow.links.fateboard import BOARD_URL_XCOM_KEY

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException, AirflowSensorTimeout  # type: ignore[no-redef]

__all__ = [
    "HOOK_PARAM_NAMES",
    "hook_for",
    "default_deferrable",
    "task_error",
    "no_retry",
    "FateFlowTaskMixin",
    "DETERMINISTIC_ERRORS",
]

#: Keys accepted in ``hook_params`` (passed to :class:`FateFlowHook`).
HOOK_PARAM_NAMES = frozenset({
    "connect_timeout", "read_timeout", "download_timeout", "max_extract_bytes",
    "retry_limit", "retry_delay", "retry_max_delay",
})
#: Errors a retry of the task cannot fix: the task fails without one.
DETERMINISTIC_ERRORS: tuple[type[BaseException], ...] = (FateFlowInputError, FateFlowAuthError)


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset)."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def hook_params_checked(hook_params: dict[str, Any] | None) -> dict[str, Any]:
    """``hook_params`` as keyword arguments of the hook.

    :raises FateFlowInputError: an unknown key.
    """
    params = dict(hook_params or {})
    unknown = sorted(set(params) - HOOK_PARAM_NAMES)
    if unknown:
        raise FateFlowInputError(f"hook_params: unknown key(s) {unknown}; allowed: {sorted(HOOK_PARAM_NAMES)}")
    return params


def hook_for(conn_id: str, hook_params: dict[str, Any] | None) -> FateFlowHook:
    """The hook of ``conn_id`` with ``hook_params`` (checked)."""
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    return FateFlowHook(conn_id, **hook_params_checked(hook_params))


_ALSO: dict[tuple[type, type], type] = {}


def _also(err: BaseException, airflow_cls: type[BaseException]) -> BaseException:
    """A copy of ``err`` whose class derives from both ``type(err)`` and ``airflow_cls``."""
    if isinstance(err, airflow_cls):
        return err
    base = type(err)
    cls = _ALSO.get((base, airflow_cls))
    if cls is None:
        cls = type(base.__name__, (base, airflow_cls), {"__module__": base.__module__,
                                                         "__qualname__": base.__qualname__})
        _ALSO[(base, airflow_cls)] = cls
    copy = cls.__new__(cls)
    copy.__dict__.update(err.__dict__)
    copy.args = err.args
    copy.__cause__, copy.__context__, copy.__traceback__ = err.__cause__, err.__context__, err.__traceback__
    copy.__suppress_context__ = err.__suppress_context__
    return copy


def no_retry(err: BaseException) -> BaseException:
    """``err`` as an ``AirflowFailException`` too: Airflow fails the task without a retry."""
    return _also(err, AirflowFailException)


def task_error(err: BaseException, *, sensor: bool = False) -> BaseException:
    """The exception a FATE task raises for ``err`` (see the module docstring)."""
    if sensor and isinstance(err, FateFlowDeadlineError):
        return _also(err, AirflowSensorTimeout)
    if isinstance(err, DETERMINISTIC_ERRORS):
        return no_retry(err)
    return err


def _applying_policy(method: Any, sensor: bool) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as err:
            mapped = task_error(err, sensor=sensor)
            if mapped is err:
                raise
            raise mapped from err.__cause__
    wrapper.__fateflow_policy__ = True  # type: ignore[attr-defined]
    return wrapper


class FateFlowTaskMixin:
    """Mixed into the provider's operator and sensor bases: the retry policy and the Board link.

    Every ``execute``/``execute_complete`` a subclass defines raises through :func:`task_error`. The FATE Board
    URL of the task's job is kept on the task (:meth:`remember_board_url`), where the extra link reads it when
    the task finishes (no XCom lookup, so no "XCom not found" error line when there is none), and pushed
    to XCom ``board_url``.
    """

    _sensor_policy = False
    fateflow_board_url: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("execute", "execute_complete"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__fateflow_policy__", False):
                setattr(cls, name, _applying_policy(method, cls._sensor_policy))

    def remember_board_url(self, context: Context | None, url: str | None, *, push: bool = True) -> None:
        """Keep ``url`` for the FATE Board link and, with ``push``, push it to XCom ``board_url``."""
        if not url:
            return
        self.fateflow_board_url = url
        if push and context is not None:
            context["ti"].xcom_push(key=BOARD_URL_XCOM_KEY, value=url)
