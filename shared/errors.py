"""The one exception type that every app turns into a 4xx/5xx JSON error body."""

from __future__ import annotations


class APIError(Exception):
    """An error with an HTTP status and a machine-readable code, answered as `ErrorResponse`."""

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

    def to_body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "stage": self.stage}}
