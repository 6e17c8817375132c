"""FATE Flow job and task status vocabulary (API.md §3).

Unknown words: ``JobStatus.parse("weird")`` returns ``JobStatus.UNKNOWN`` (never raises), and the
typed records keep the server's raw word in ``status_raw``. ``UNKNOWN`` is in no set: it is neither
terminal nor success nor failure, so a poller keeps polling (and may log the raw word).
"""
from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = ["JobStatus", "TaskStatus"]


class _StatusMixin:
    terminal: frozenset
    success: frozenset
    failure: frozenset
    ongoing: frozenset

    @property
    def is_terminal(self) -> bool:
        """Done for this run: success (or pass), failed, canceled or timeout."""
        return self in type(self).terminal

    @property
    def is_success(self) -> bool:
        return self in type(self).success

    @property
    def is_failure(self) -> bool:
        return self in type(self).failure

    @property
    def is_ongoing(self) -> bool:
        """Not done yet (unknown words count as ongoing)."""
        return self not in type(self).terminal

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Map a server word (any case) to a member; unknown or missing words map to ``UNKNOWN``."""
        if isinstance(value, cls):
            return value
        try:
            return cls._value2member_map_[str(value).strip().lower()]  # type: ignore[attr-defined]
        except (KeyError, TypeError):
            return cls.UNKNOWN  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.value  # type: ignore[attr-defined]


class JobStatus(_StatusMixin, str, Enum):
    """``t_job.f_status`` words. ``pass`` never reaches the job level."""

    READY = "ready"
    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


class TaskStatus(_StatusMixin, str, Enum):
    """``t_task.f_status`` / ``f_party_status`` words: the job words plus ``pass``."""

    READY = "ready"
    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    PASS = "pass"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


JobStatus.success = frozenset({JobStatus.SUCCESS})  # type: ignore[misc]
JobStatus.failure = frozenset({JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TIMEOUT})  # type: ignore[misc]
JobStatus.terminal = JobStatus.success | JobStatus.failure  # type: ignore[misc]
JobStatus.ongoing = frozenset({JobStatus.READY, JobStatus.WAITING, JobStatus.RUNNING})  # type: ignore[misc]

TaskStatus.success = frozenset({TaskStatus.SUCCESS, TaskStatus.PASS})  # type: ignore[misc]
TaskStatus.failure = frozenset({TaskStatus.FAILED, TaskStatus.CANCELED, TaskStatus.TIMEOUT})  # type: ignore[misc]
TaskStatus.terminal = TaskStatus.success | TaskStatus.failure  # type: ignore[misc]
TaskStatus.ongoing = frozenset({TaskStatus.READY, TaskStatus.WAITING, TaskStatus.RUNNING})  # type: ignore[misc]
