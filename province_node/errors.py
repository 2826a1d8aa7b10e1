"""Errors the province node raises on purpose; each maps to one HTTP status and error code."""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.errors import RegsyncError, SchemaError

Details = list[dict[str, str]]


class NodeError(RegsyncError):
    """An error with an HTTP status, a stable code and optional per-field details."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        details: Details | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: Details = details or []
        self.headers: dict[str, str] = headers or {}

    def body(self) -> dict[str, Any]:
        """The error document: {"error": {"code", "message", "details"}}."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(NodeError):
    """The request could not be read at all (malformed JSON, bad header)."""

    status = 400
    code = "bad_request"


class Unauthorized(NodeError):
    """No token, or a token the node does not know."""

    status = 401
    code = "unauthorized"


class Forbidden(NodeError):
    """A known token whose role may not do this."""

    status = 403
    code = "forbidden"


class NotFound(NodeError):
    """No such registration or route."""

    status = 404
    code = "not_found"


class MethodNotAllowed(NodeError):
    """The route exists but not for this method."""

    status = 405
    code = "method_not_allowed"


class Conflict(NodeError):
    """The step is not allowed from the record's current state; the message says why."""

    status = 409
    code = "conflict"


class PayloadTooLarge(NodeError):
    """The request body exceeds the node's limit."""

    status = 413
    code = "payload_too_large"


class InvalidRequest(NodeError):
    """Well-formed JSON with bad values; details name each bad field."""

    status = 422
    code = "invalid"

    @classmethod
    def from_schema_error(cls, exc: SchemaError) -> InvalidRequest:
        """Carry over a SchemaError's per-field details."""
        return cls(exc.message, exc.details)

    @classmethod
    def field(cls, field: str, message: str) -> InvalidRequest:
        """One bad field."""
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


class TooManyRequests(NodeError):
    """The write queue is full; retry after a moment."""

    status = 429
    code = "too_many_requests"


class TooManyAuthFailures(NodeError):
    """The client failed authentication too often; refused unchecked until Retry-After."""

    status = 429
    code = "too_many_auth_failures"


class Unavailable(NodeError):
    """The registry cannot take writes right now (e.g. another process holds the lock)."""

    status = 503
    code = "unavailable"


class InternalError(NodeError):
    """An unexpected failure; the body never carries internals."""

    status = 500
    code = "internal"


class ImportFileError(RegsyncError):
    """The import file as a whole cannot be read (missing, wrong CSV header)."""
