"""One error tree for every FATE Flow failure.

``FateFlowError`` is the root. Every error carries ``operation`` (e.g. ``"job.query"``), ``message``
and ``transient`` (True when trying again later may succeed: connection errors, timeouts, HTTP 5xx
and 429), so Airflow retry policies can tell transient from permanent failures.
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "FateFlowError",
    "FateFlowConnectionError",
    "FateFlowTimeoutError",
    "FateFlowApiError",
    "FateFlowAuthError",
    "FateFlowNotFoundError",
    "FateFlowResponseError",
    "FateFlowInputError",
    "FateFlowArchiveError",
    "FateFlowJobError",
    "FateFlowJobFailedError",
    "FateFlowJobCanceledError",
    "FateFlowJobTimeoutError",
    "FateFlowDeadlineError",
    "FateFlowAmbiguousSubmitError",
    "summarize_retmsg",
    "error_to_dict",
    "error_from_dict",
]

_MAX_MESSAGE = 500


def summarize_retmsg(retmsg: Any, limit: int = _MAX_MESSAGE) -> str:
    """One readable line from a FATE ``retmsg``.

    FATE puts whole Python tracebacks in ``retmsg``; keep their first and last non-empty lines.

    :param retmsg: the server's message (any type; ``None`` gives ``""``).
    :param limit: maximum length of the result in characters (default 500).
    """
    if retmsg is None:
        return ""
    text = str(retmsg)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if len(lines) == 1:
        line = lines[0]
    elif lines[0].startswith("Traceback"):
        line = f"{lines[0]} ... {lines[-1]}"
    else:
        line = " ".join(lines)
    if len(line) > limit:
        line = line[: limit - 3] + "..."
    return line


class FateFlowError(Exception):
    """Root of every error raised by the FATE Flow client.

    :param message: human-readable description (one line).
    :param operation: the client operation, e.g. ``"job.query"`` (may be ``None``).
    """

    transient: bool = False

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        self.message = message
        self.operation = operation
        super().__init__(message)

    def _prefix(self) -> str:
        return f"{self.operation}: " if self.operation else ""

    def __str__(self) -> str:
        return f"{self._prefix()}{self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class FateFlowConnectionError(FateFlowError):
    """The server could not be reached or the connection broke (transient).

    :param request_sent: False when the failure happened before any byte of the request left this
        machine (connect refused or connect timeout): such a call is safe to resend even when it
        creates something.
    :param transient: False for failures that do not heal by trying again (a TLS certificate problem,
        an invalid URL); default True.
    """

    def __init__(self, message: str, *, operation: str | None = None, request_sent: bool = True,
                 transient: bool = True) -> None:
        super().__init__(message, operation=operation)
        self.request_sent = request_sent
        self.transient = transient


class FateFlowTimeoutError(FateFlowConnectionError):
    """A connect or read timeout (transient)."""


class FateFlowApiError(FateFlowError):
    """The server answered with an error envelope (``retcode != 0``, or an HTTP error with JSON).

    :param retcode: FATE ``retcode`` (``None`` if the body had none).
    :param retmsg: FATE ``retmsg`` as sent (may hold a traceback).
    :param http_status: HTTP status code.
    :param data: the envelope's ``data`` (e.g. per-party details), if any.
    :param body_excerpt: a short excerpt of the raw body.
    :param retry_after: seconds from a ``Retry-After`` header, if any.
    :param hint: extra explanation appended to the message.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        operation: str | None = None,
        retcode: int | None = None,
        retmsg: str | None = None,
        http_status: int | None = None,
        data: Any = None,
        body_excerpt: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.retcode = retcode
        self.retmsg = retmsg
        self.http_status = http_status
        self.data = data
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after
        self.hint = hint
        if message is None:
            message = summarize_retmsg(retmsg) or "(no message)"
        if hint:
            message = f"{message} ({hint})"
        super().__init__(message, operation=operation)

    @property
    def transient(self) -> bool:  # type: ignore[override]
        status = self.http_status or 0
        return status >= 500 or status == 429

    def __str__(self) -> str:
        details = []
        if self.retcode is not None:
            details.append(f"retcode {self.retcode}")
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        where = f" [{', '.join(details)}]" if details else ""
        return f"{self._prefix()}{self.message}{where}"


class FateFlowAuthError(FateFlowApiError):
    """Client authentication failed (retcode 109; HTTP 401/403/425 on FATE Flow 1.7/1.8).

    :param reason: one of ``missing_headers``, ``invalid_timestamp``, ``clock_skew``, ``invalid_nonce``,
        ``unknown_app_key``, ``bad_signature``, ``server_not_configured``, ``unknown``.
    """

    def __init__(self, message: str | None = None, *, reason: str = "unknown", **kwargs: Any) -> None:
        self.reason = reason
        super().__init__(message, **kwargs)


class FateFlowNotFoundError(FateFlowApiError):
    """The job, task, model, table or output asked for does not exist."""


class FateFlowResponseError(FateFlowError):
    """The answer could not be understood (HTML, empty, truncated or over-size JSON, wrong shape).

    :param http_status: HTTP status code, if a response arrived.
    :param excerpt: a short, printable excerpt of the body.
    :param retry_after: seconds from a ``Retry-After`` header, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        http_status: int | None = None,
        excerpt: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.http_status = http_status
        self.excerpt = excerpt
        self.retry_after = retry_after
        super().__init__(message, operation=operation)

    @property
    def transient(self) -> bool:  # type: ignore[override]
        status = self.http_status or 0
        return status >= 500 or status == 429

    def __str__(self) -> str:
        status = f" [HTTP {self.http_status}]" if self.http_status is not None else ""
        excerpt = f": {self.excerpt!r}" if self.excerpt else ""
        return f"{self._prefix()}{self.message}{status}{excerpt}"


class FateFlowInputError(FateFlowError, ValueError):
    """Bad local input (conf/DSL/file/argument), detected before any request is sent."""


class FateFlowArchiveError(FateFlowError):
    """A downloaded archive is unsafe or corrupt (path traversal, links, special files, bombs)."""


class FateFlowJobError(FateFlowError):
    """A job reached a non-success terminal state.

    :param job_id: the FATE job id.
    :param status: the terminal status word.
    :param retmsg: a short reason (e.g. the failed task's error report), if known.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        job_id: str,
        status: str,
        retmsg: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.job_id = job_id
        self.status = str(getattr(status, "value", status))
        self.retmsg = retmsg
        if message is None:
            message = f"job {job_id} ended with status {self.status}"
            if retmsg:
                message += f": {summarize_retmsg(retmsg)}"
        super().__init__(message, operation=operation)


class FateFlowJobFailedError(FateFlowJobError):
    """The job ended ``failed``."""


class FateFlowJobCanceledError(FateFlowJobError):
    """The job ended ``canceled``."""


class FateFlowJobTimeoutError(FateFlowJobError):
    """The job ended ``timeout`` (or a client-side wait deadline passed: :class:`FateFlowDeadlineError`)."""


class FateFlowDeadlineError(FateFlowJobTimeoutError):
    """A wait's own deadline passed before the job (or component, or table) got where it was awaited.

    :param deadline_reason: which limit: ``"deadline"`` (the operator's ``timeout``), ``"execution_timeout"``
        or ``"sensor_timeout"``.
    :param stopped: whether the FATE job was stopped when the deadline passed.
    """

    def __init__(self, message: str | None = None, *, deadline_reason: str = "deadline", stopped: bool = False,
                 **kwargs: Any) -> None:
        self.deadline_reason = deadline_reason
        self.stopped = stopped
        super().__init__(message, **kwargs)


class FateFlowAmbiguousSubmitError(FateFlowError):
    """A create call's answer was lost and the job it may have created could not be found.

    The job may or may not exist. ``marker`` is the token written into the job conf; ``cause`` the
    original transport error; ``searched`` is True when the server answered the last lookup (made after
    the recovery delays) and it found no such job, False when that lookup failed too.
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        marker: str | None = None,
        cause: BaseException | None = None,
        searched: bool = False,
    ) -> None:
        self.marker = marker
        self.cause = cause
        self.searched = searched
        super().__init__(message, operation=operation)


# -- crossing a process boundary (trigger events) -------------------------------------------------------

#: Attributes an error keeps when it crosses the trigger boundary (besides its message and operation).
_FIELDS = ("retcode", "retmsg", "http_status", "reason", "request_sent", "transient", "job_id", "status",
           "deadline_reason", "stopped", "excerpt", "marker", "searched")


def _error_classes() -> dict[str, type[FateFlowError]]:
    found: dict[str, type[FateFlowError]] = {}
    pending: list[type[FateFlowError]] = [FateFlowError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def error_to_dict(err: BaseException) -> dict[str, Any]:
    """A JSON-safe description of ``err`` (its class name, message, operation and typed attributes).

    :func:`error_from_dict` rebuilds an error of the same class from it, so a failure that happened in the
    triggerer is raised in the worker with the type a poke would have raised.
    """
    if not isinstance(err, FateFlowError):
        return {"type": type(err).__name__, "message": str(err), "fateflow": False}
    out: dict[str, Any] = {"type": type(err).__name__, "message": err.message, "operation": err.operation,
                           "fateflow": True}
    for name in _FIELDS:
        value = getattr(err, name, None)
        if isinstance(value, (str, int, float, bool)):
            out[name] = value
    return out


def error_from_dict(data: dict[str, Any]) -> FateFlowError:
    """The error :func:`error_to_dict` described (a plain :class:`FateFlowError` for unknown classes).

    The rebuilt error carries the same class, message and attributes; its ``str()`` is the same as the
    original's.
    """
    cls = _error_classes().get(str(data.get("type"))) if data.get("fateflow") else None
    message = str(data.get("message") or "")
    if cls is None:  # not one of ours: keep its name in the message
        cls, message = FateFlowError, f"{data.get('type')}: {message}"
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.message = message
    err.operation = data.get("operation")
    defaults = {"retcode": None, "retmsg": None, "http_status": None, "data": None, "body_excerpt": None,
                "retry_after": None, "hint": None, "excerpt": None, "reason": "unknown", "request_sent": True,
                "cause": None, "marker": None, "searched": False}
    for name, value in defaults.items():
        setattr(err, name, data.get(name, value))
    for name in _FIELDS:
        if name in data and name not in ("transient",):
            setattr(err, name, data[name])
    if isinstance(err, FateFlowConnectionError):
        err.transient = bool(data.get("transient", True))
    return err
