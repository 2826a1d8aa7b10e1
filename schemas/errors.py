"""The exception tree, the one HTTP error base, and pydantic errors as field/message pairs.

Every error raised on purpose derives from RegsyncError. HTTP errors (HttpError) are answers:
they carry a status, a stable code, per-field details, headers and extra top-level body members,
and an app's error middleware renders them as they are. Domain errors carry no HTTP status: each
app's error middleware maps them from one table (`map_domain_error`), and anything else, an
unmapped RegsyncError included, is a 500 naming an error id that is logged with the traceback
(`internal_error`).

    RegsyncError                                    schemas.errors
    ├── KeyFileError (also ValueError)              schemas.errors
    ├── SchemaError (also ValueError)               schemas.errors
    ├── ConfigError                                 schemas.federation
    ├── StoreError                                  national_hub.errors
    ├── IngestError                                 national_hub.errors
    ├── Overloaded                                  national_hub.errors
    ├── NodeUnreachable                             national_hub.sync.node_client
    ├── PublishError                                province_node.publisher
    ├── ImportFileError                             province_node.errors
    ├── BackupError                                 province_node.errors
    ├── RegistryBehindTopic                         province_node.errors
    ├── RecoverError                                province_node.errors
    ├── TopicUnreadable                             province_node.topic_log
    ├── DevstackError                               devstack.errors
    │   └── KafkaStartError                         devstack.kafka
    └── HttpError                     500 internal  schemas.errors
        ├── TooManyAuthFailures       429 too_many_auth_failures (both services' auth throttle)
        ├── HubError                  500 internal  national_hub.errors
        │   ├── BadRequest            400 bad_request
        │   │   └── InvalidParameter  400 invalid_parameter
        │   ├── Unauthorized          401 unauthorized
        │   ├── Forbidden             403 forbidden
        │   ├── NotFound              404 not_found
        │   ├── Conflict              409 conflict
        │   ├── UnprocessableBody     422 validation_failed
        │   └── ServiceUnavailable    503 unavailable
        └── NodeError                 500 internal  province_node.errors
            ├── BadRequest            400 bad_request
            ├── Unauthorized          401 unauthorized
            ├── Forbidden             403 forbidden
            ├── NotFound              404 not_found
            ├── MethodNotAllowed      405 method_not_allowed
            ├── Conflict              409 conflict
            ├── PayloadTooLarge       413 payload_too_large
            ├── InvalidRequest        422 invalid
            ├── TooManyRequests       429 too_many_requests
            └── Unavailable           503 unavailable

Two control-flow signals are plain Exceptions that never reach an app: Skipped
(province_node.registry: an import row already registered) and _Repeated
(national_hub.ingest.decode: a header that must appear once appears twice).

The domain tables (DOMAIN_ERRORS in national_hub.web.middleware and province_node.web.middleware):

    hub   SchemaError -> 400 invalid_request (with its details)
          StoreError  -> 503 store_unavailable
    node  (none: no domain error reaches a handler; the registry raises the node's HTTP errors)

The hub's admission middleware maps Overloaded itself, as 503 overloaded with the Retry-After
the error estimates, and counts it as shed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any, Self

from pydantic import ValidationError

from schemas.vocab import EventType

__all__ = [
    "Details",
    "DomainErrors",
    "HttpError",
    "KeyFileError",
    "RegsyncError",
    "SchemaError",
    "internal_error",
    "map_domain_error",
]

# Per-field problems: [{"field": "cert_no", "message": "must be 15 digits"}, ...].
Details = list[dict[str, str]]

# Discriminated unions put the tag value ("registered", "suspended", ...) into the error location;
# it names a union member, not a field, so callers would otherwise see e.g. "registered.cert_no".
_TAG_SEGMENTS = frozenset(EventType)

# pydantic reports a missing or unknown discriminator at the union's own location.
_TAG_ERRORS = frozenset({"union_tag_not_found", "union_tag_invalid"})

_VALUE_ERROR_PREFIX = "Value error, "


class RegsyncError(Exception):
    """Root of every error the project raises on purpose."""


class KeyFileError(RegsyncError, ValueError):
    """A key or secret file is missing, unreadable or malformed."""


class SchemaError(RegsyncError, ValueError):
    """Data that does not match the wire schema; `.details` lists each bad field."""

    def __init__(self, message: str, details: Details | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Details = details or []

    @classmethod
    def from_validation_error(cls, exc: ValidationError, prefix: str = "") -> Self:
        """Build from a pydantic ValidationError, with field paths dotted and prefixed."""
        details = []
        for err in exc.errors(include_url=False, include_context=False, include_input=False):
            parts = [str(p) for p in err["loc"] if p not in _TAG_SEGMENTS]
            message = err["msg"]
            if err["type"] in _TAG_ERRORS:
                parts.append("type")
                if err["type"] == "union_tag_not_found":
                    message = "Field required"
            if prefix:
                parts.insert(0, prefix)
            if message.startswith(_VALUE_ERROR_PREFIX):
                message = message[len(_VALUE_ERROR_PREFIX) :]
            details.append({"field": ".".join(parts), "message": message})
        first = details[0] if details else {"field": prefix, "message": str(exc)}
        summary = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        if len(details) > 1:
            summary += f" (and {len(details) - 1} more)"
        return cls(summary, details)


class HttpError(RegsyncError):
    """An error an API answers as is: {"error": {"code", "message", "details"}} plus `extra`.

    A subclass fixes `status` and `code`; an instance may override either (`code="not_ready"`).
    `headers` go on the response (e.g. Retry-After); `extra` holds members beside "error" in the
    body (e.g. the hub's 404 "explanation").
    """

    status: int = 500
    code: str = "internal"

    def __init__(
        self,
        message: str,
        details: Details | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: Details = list(details or [])
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = dict(extra or {})

    @classmethod
    def for_field(cls, field: str, message: str, **kwargs: Any) -> Self:
        """One bad field: the message is "field: message" and the details name the field."""
        return cls(f"{field}: {message}", [{"field": field, "message": message}], **kwargs)

    def body(self) -> dict[str, Any]:
        """The error document: {"error": {"code", "message", "details"}, **extra}."""
        error = {"code": self.code, "message": self.message, "details": self.details}
        return {"error": error, **self.extra}


class TooManyAuthFailures(HttpError):
    """Too many failed authentications from this client: refused unchecked until Retry-After.

    Raised by both services' auth throttle (schemas.throttle), so it is one class, not a branch
    of each service's tree.
    """

    status = 429
    code = "too_many_auth_failures"

    @classmethod
    def retry_after(cls, seconds: int) -> Self:
        """Refused for `seconds` more; the answer carries Retry-After."""
        return cls(
            f"too many failed authentications from this client; retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


# A domain error class -> the (status, code) an API answers it with. A class not in the table is
# answered as its nearest base that is; one with no mapped base is unexpected (a 500).
DomainErrors = Mapping[type[RegsyncError], tuple[int, str]]


def map_domain_error(exc: RegsyncError, table: DomainErrors) -> HttpError | None:
    """The HTTP error the table gives exc (its message and, for a SchemaError, its details)."""
    for cls in type(exc).__mro__:
        if issubclass(cls, RegsyncError) and cls in table:
            status, code = table[cls]
            details = exc.details if isinstance(exc, SchemaError) else None
            return HttpError(str(exc), details, status=status, code=code)
    return None


def internal_error(logger: logging.Logger, where: str, owner: str) -> HttpError:
    """The 500 for the exception being handled: logged with its traceback under a new error id.

    Call it inside the `except` block. The answer names the id and nothing of the failure.
    """
    error_id = secrets.token_hex(8)
    logger.exception("error id %s: unexpected failure on %s", error_id, where)
    return HttpError(f"internal error; the {owner}'s log has the details under error id {error_id}")
