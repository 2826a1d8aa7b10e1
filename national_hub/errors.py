"""The hub's exceptions: each HTTP-facing one carries its status and error code."""

from __future__ import annotations

from typing import Any

from schemas.errors import RegsyncError
from schemas.federation import ConfigError

__all__ = [
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "HubError",
    "IngestError",
    "InvalidParameter",
    "NotFound",
    "ServiceUnavailable",
    "StoreError",
    "TooManyAuthFailures",
    "Unauthorized",
]


class HubError(RegsyncError):
    """Base of the hub's errors; the API middleware turns one into its JSON error body."""

    status: int = 500
    code: str = "internal"

    def __init__(
        self,
        message: str,
        details: list[dict[str, str]] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict[str, str]] = details or []
        # Top-level members beside "error", e.g. the 404 "explanation" of a lookup.
        self.extra: dict[str, Any] = extra or {}
        # Response headers the error needs, e.g. Retry-After.
        self.headers: dict[str, str] = {}
        if code is not None:
            self.code = code


class BadRequest(HubError):
    """The request is malformed (400)."""

    status = 400
    code = "bad_request"


class InvalidParameter(BadRequest):
    """One query/path/body parameter is invalid; the details name it (400)."""

    code = "invalid_parameter"

    def __init__(self, field: str, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{field}: {message}", [{"field": field, "message": message}], extra=extra)
        self.field = field


class Unauthorized(HubError):
    """No usable credentials were presented (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    """The credentials do not grant this (403)."""

    status = 403
    code = "forbidden"


class TooManyAuthFailures(HubError):
    """The client failed authentication too often; refused unchecked until Retry-After (429)."""

    status = 429
    code = "too_many_auth_failures"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed authentications from this client; retry after {retry_after} s"
        )
        self.headers["Retry-After"] = str(retry_after)


class NotFound(HubError):
    """The resource does not exist at the hub (404)."""

    status = 404
    code = "not_found"


class Conflict(HubError):
    """The request cannot be answered in the current state, e.g. a token not yet applied (409)."""

    status = 409
    code = "conflict"


class ServiceUnavailable(HubError):
    """The hub cannot answer now, e.g. not ready yet (503)."""

    status = 503
    code = "unavailable"


class StoreError(ServiceUnavailable):
    """The DuckDB store cannot be opened or used."""

    code = "store_unavailable"


class IngestError(HubError):
    """Consuming from Kafka failed in a way the ingest loop reports rather than retries."""

    code = "ingest_failed"
