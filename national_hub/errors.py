"""The hub's errors: HTTP answers under HubError, and the domain errors the middleware maps.

The whole tree, both services' and the tooling's, is drawn in schemas/errors.py.
"""

from __future__ import annotations

from typing import Literal, get_args

from schemas.errors import HttpError, RegsyncError, TooManyAuthFailures
from schemas.federation import ConfigError

__all__ = [
    "SHED_REASONS",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "HubError",
    "IngestError",
    "InvalidParameter",
    "NotFound",
    "Overloaded",
    "ServiceUnavailable",
    "ShedReason",
    "StoreError",
    "TooManyAuthFailures",
    "Unauthorized",
    "UnprocessableBody",
]


class HubError(HttpError):
    """Base of the hub's HTTP errors; the error middleware renders one as it is."""


class BadRequest(HubError):
    """The request is malformed (400)."""

    status = 400
    code = "bad_request"


class InvalidParameter(BadRequest):
    """One query/path/body parameter is invalid; build with `for_field`: details name it (400)."""

    code = "invalid_parameter"


class Unauthorized(HubError):
    """No usable credentials were presented (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    """The credentials do not grant this (403)."""

    status = 403
    code = "forbidden"


class NotFound(HubError):
    """The resource does not exist at the hub (404)."""

    status = 404
    code = "not_found"


class Conflict(HubError):
    """The request cannot be answered in the current state, e.g. a token not yet applied (409)."""

    status = 409
    code = "conflict"


class UnprocessableBody(HubError):
    """A JSON body whose fields do not validate (422); the details name each field."""

    status = 422
    code = "validation_failed"


class ServiceUnavailable(HubError):
    """The hub cannot answer now, e.g. not ready yet (503)."""

    status = 503
    code = "unavailable"


# -- domain errors: no HTTP status; national_hub.web.middleware maps them --------------------------


class StoreError(RegsyncError):
    """The DuckDB store cannot be opened or used."""


class IngestError(RegsyncError):
    """Consuming from Kafka failed in a way the ingest loop reports rather than retries."""


# Why an admission turned a request away: every slot busy and the queue full, or its turn did
# not come within the longest wait. Also the `reason` label of regsync_hub_requests_shed_total.
ShedReason = Literal["queue_full", "queue_timeout"]
SHED_REASONS: tuple[ShedReason, ...] = get_args(ShedReason)
_SHED_WHY: dict[ShedReason, str] = {
    "queue_full": "every place is taken and the queue is full",
    "queue_timeout": "this request waited its longest in the queue",
}


class Overloaded(RegsyncError):
    """More requests than the hub serves at once and lets wait: this one was turned away.

    `retry_after_s` (whole seconds, at least 1) estimates when a retry would be served. The
    admission middleware (national_hub.web.middleware) answers it with 503 and Retry-After.
    """

    def __init__(self, reason: ShedReason, retry_after_s: int) -> None:
        why = _SHED_WHY[reason]
        super().__init__(
            f"the national hub has more requests than it can serve ({why}); "
            f"retry after {retry_after_s} s"
        )
        self.reason: ShedReason = reason
        self.retry_after_s = retry_after_s
