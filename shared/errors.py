"""Domain errors and the one table that gives each its HTTP status; every error body is an `ErrorResponse`.

Code raises what went wrong (`InvalidInput("empty_text", ...)`, `PayloadTooLarge(...)`, `StageUnavailable(...)`)
and never picks a status: `HTTP_STATUS` below does, for every app. The `code` string is what clients branch on,
so it stays stable whatever the type.
"""

from __future__ import annotations

from typing import ClassVar

from shared.protocol.common import ErrorDetail, ErrorResponse


class APIError(Exception):
    """An error with an HTTP status and a machine-readable code, answered as `ErrorResponse`.

    Raise one of the typed subclasses below. The explicit-status form `APIError(status, code, message)` is for
    passing on a status another app chose (the gateway relaying NER's 4xx) and for code not yet converted.
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        stage: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.stage = stage
        self.headers = headers or {}

    def to_response(self, default_stage: str | None = None) -> ErrorResponse:
        return error_response(self.code, self.message, self.stage or default_stage)


class DomainError(APIError):
    """A typed error: its status is `HTTP_STATUS[type]` (the nearest listed base class), never chosen at a raise."""

    # Sent with the error unless the raise site gives its own (429/503: when to come back).
    default_headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self, code: str, message: str, *, stage: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            http_status(type(self)), code, message, stage=stage, headers={**self.default_headers, **(headers or {})}
        )


class InvalidInput(DomainError):
    """The input is unusable as sent: empty text, malformed JSON or base64, a corrupt image, a bad box."""


class InvalidRequest(DomainError):
    """The body does not follow the schema (a missing or mistyped field)."""


class PayloadTooLarge(DomainError):
    """Text, image bytes, pixels or the body are over a configured limit."""


class UnsupportedMediaType(DomainError):
    """Not an image, an image format we do not read, or a content type we do not take."""


class RequestTimeout(DomainError):
    """The request body arrived too slowly."""


class Unauthorized(DomainError):
    """No API key where one is needed."""

    default_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    """An API key that is unknown or revoked."""


class NotFound(DomainError):
    """No such path."""


class MethodNotAllowed(DomainError):
    """The path exists, the method does not."""


class TooManyRequests(DomainError):
    """Too many requests in flight; send `Retry-After`."""


class ServiceUnavailable(DomainError):
    """This app, or something it needs, cannot answer now; send `Retry-After` where a retry can succeed."""


class StageUnavailable(ServiceUnavailable):
    """A stage or backend this app calls (NER, the LLM, a VLM, the detector worker) failed or is down."""


class InternalError(DomainError):
    """A bug: logged with its traceback, answered without it."""


# The one place where a kind of error becomes an HTTP status.
HTTP_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    RequestTimeout: 408,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidRequest: 422,
    TooManyRequests: 429,
    InternalError: 500,
    ServiceUnavailable: 503,
}


def http_status(error_type: type[DomainError]) -> int:
    """The status of `error_type`: its own entry in `HTTP_STATUS`, else that of its nearest listed base."""
    for cls in error_type.__mro__:
        if issubclass(cls, DomainError) and cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    raise TypeError(f"{error_type.__name__} has no HTTP status in shared.errors.HTTP_STATUS")


def error_for_status(status: int) -> type[DomainError]:
    """The typed error answered with `status` (for passing on a stage's 4xx); InvalidInput for a status not listed."""
    for error_type, listed in HTTP_STATUS.items():
        if listed == status:
            return error_type
    return InvalidInput


def error_response(code: str, message: str, stage: str | None) -> ErrorResponse:
    return ErrorResponse(error=ErrorDetail(code=code, message=message, stage=stage))
