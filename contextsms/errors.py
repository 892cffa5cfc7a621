"""Errors of the ContextSMS API, one class per documented code.

Messages are the server's own words (never a token or a body we sent), so they can be shown
in logs and, where the bot chooses, to people.
"""

from __future__ import annotations

from typing import ClassVar

_LONGEST_SERVER_TEXT = 100


def printable(text: str) -> str:
    """`text` with its control characters escaped (a newline becomes `\\n`), so that words
    from the server cannot forge a line in a log."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def server_text(value: object) -> str | None:
    """A short field the server sent (a request id, a timestamp), printable and of bounded
    length, or None when it is missing or not text."""
    if not isinstance(value, str) or not value:
        return None
    return printable(value[:_LONGEST_SERVER_TEXT])


class ContextSMSError(Exception):
    """Base of everything the client raises.

    `outcome_unknown` is True when the failed call was a change (create, update, delete) that
    reached the server and may have been applied there: the caller must not say "nothing was
    changed", but look the object up or say that the outcome is unknown.
    """

    outcome_unknown: bool = False


class ApiError(ContextSMSError):
    """The server answered with an error status."""

    code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.message = printable(message)
        self.status = status
        self.request_id = server_text(request_id)
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        rid = f" [requestId {self.request_id}]" if self.request_id else ""
        return f"HTTP {self.status} {self.code or 'ERROR'}: {self.message}{where}{rid}"


class BadRequest(ApiError):
    code = "BAD_REQUEST"


class Unauthorized(ApiError):
    code = "UNAUTHORIZED"


class PermissionDenied(ApiError):
    code = "PERMISSION_DENIED"


class NotFound(ApiError):
    code = "NOT_FOUND"


class DuplicateMapping(ApiError):
    code = "DUPLICATE_MAPPING"


class RateLimited(ApiError):
    """429 that outlasted the retries (or the deadline)."""

    code = "RATE_LIMITED"


class ServerError(ApiError):
    """5xx: report `request_id` to support."""

    def __init__(self, message: str, *, timestamp: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.timestamp = timestamp


class UnexpectedResponse(ApiError):
    """An answer the contract does not describe (an unknown code, a body that is not JSON)."""


class TransportError(ContextSMSError):
    """The server could not be reached or the connection broke, after every retry."""


class DeadlineExceeded(ContextSMSError, TimeoutError):
    """The call's deadline passed before it finished.

    `outcome_unknown`: as for every ContextSMSError (a change whose answer never came).
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    cls.code: cls
    for cls in (BadRequest, Unauthorized, PermissionDenied, NotFound, DuplicateMapping)
    if cls.code
}
ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
    409: DuplicateMapping,
    429: RateLimited,
}
