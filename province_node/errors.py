"""The province node's errors: HTTP answers under NodeError, each with one status and code.

The whole tree, both services' and the tooling's, is drawn in schemas/errors.py.
"""

from __future__ import annotations

from typing import Self

from schemas.errors import HttpError, RegsyncError, SchemaError


class NodeError(HttpError):
    """Base of the node's HTTP errors; the error middleware renders one as it is."""


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
    def from_schema_error(cls, exc: SchemaError) -> Self:
        """Carry over a SchemaError's per-field details."""
        return cls(exc.message, exc.details)


class TooManyRequests(NodeError):
    """The write queue is full; retry after a moment."""

    status = 429
    code = "too_many_requests"


class Unavailable(NodeError):
    """The registry cannot take writes right now (e.g. another process holds the lock)."""

    status = 503
    code = "unavailable"


# -- domain errors: no HTTP status ----------------------------------------------------------------


class ImportFileError(RegsyncError):
    """The import file as a whole cannot be read (missing, wrong CSV header)."""


class BackupError(RegsyncError):
    """A backup could not be written or did not verify."""


class RegistryBehindTopic(RegsyncError):
    """The registry's last seq is below its topic's: it was restored from an older copy."""


class RecoverError(RegsyncError):
    """The registry and its topic disagree in a way recover cannot mend on its own."""
