"""The retry rules, shared by the sync and async transports (no I/O, no HTTP library).

Only calls that are safe to repeat (queries, lists, info, downloads) are retried on transient failures, and
any call whose request never left this machine; the backoff honours ``Retry-After``.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from airflow_provider_fateflow.client.calls import ApiCall
from airflow_provider_fateflow.client.config import RetryPolicy
from airflow_provider_fateflow.client.errors import FateFlowConnectionError, FateFlowError, FateFlowTimeoutError

__all__ = ["should_retry", "backoff_delay", "build_retrying", "log_retry"]

log = logging.getLogger("airflow_provider_fateflow.client")


def should_retry(call: ApiCall, exc: BaseException) -> bool:
    """Retry transient failures of idempotent calls, and of any call whose request never left."""
    if not isinstance(exc, FateFlowError) or not exc.transient:
        return False
    if call.idempotent:
        return True
    return isinstance(exc, FateFlowConnectionError) and not exc.request_sent


def backoff_delay(policy: RetryPolicy, attempt: int, exc: BaseException | None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    A connection dropped after sending is retried at once the first time (a stale keep-alive
    connection). ``Retry-After`` (when the policy respects it) wins, capped at ``max_retry_after``; otherwise
    exponential ``min_delay * 2**(attempt-1)`` capped at ``max_delay``, plus random jitter.
    """
    if attempt == 1 and _dropped_after_sending(exc):
        # Most often a keep-alive connection the server closed while it sat in the pool: try again now.
        return 0.0
    retry_after = getattr(exc, "retry_after", None)
    if policy.respect_retry_after and retry_after is not None:
        return min(float(retry_after), policy.max_retry_after)
    delay = min(policy.min_delay * (2 ** (attempt - 1)), policy.max_delay)
    if policy.jitter and delay > 0:
        delay = min(delay + random.uniform(0, delay), policy.max_delay)
    return delay


def _dropped_after_sending(exc: BaseException | None) -> bool:
    return (
        isinstance(exc, FateFlowConnectionError)
        and not isinstance(exc, FateFlowTimeoutError)
        and exc.request_sent
    )


def build_retrying(policy: RetryPolicy, sleep: Callable[[float], Any], *, asynchronous: bool) -> Any:
    """The tenacity controller that applies the client's retry rules (sync and async transports share it).

    :param policy: attempts and backoff.
    :param sleep: the sleep used between attempts (``time.sleep`` or ``asyncio.sleep``; tests pass a recorder).
    :param asynchronous: build ``tenacity.AsyncRetrying`` instead of ``tenacity.Retrying``.
    """
    import tenacity

    controller = tenacity.AsyncRetrying if asynchronous else tenacity.Retrying
    return controller(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=lambda rs: backoff_delay(policy, rs.attempt_number, rs.outcome.exception()),
        retry=lambda rs: rs.outcome.failed and should_retry(rs.args[0], rs.outcome.exception()),
        before_sleep=lambda rs: log_retry(
            rs.args[0].operation, rs.attempt_number, policy.attempts, rs.outcome.exception(),
            rs.next_action.sleep if rs.next_action else 0.0,
        ),
        sleep=sleep,
        reraise=True,
    )


def log_retry(operation: str, attempt: int, attempts: int, exc: BaseException | None, delay: float) -> None:
    log.warning(
        "%s: attempt %s of %s failed (%s); retrying in %.1f s", operation, attempt, attempts, exc, delay
    )
