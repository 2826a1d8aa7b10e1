"""The hub's errors: HTTP answers under HubError, and the domain errors the middleware maps.

The whole tree, both services' and the tooling's, is drawn in schemas/errors.py.
"""

from __future__ import annotations

from schemas.errors import HttpError, RegsyncError, TooManyAuthFailures
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
