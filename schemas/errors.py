"""The project's exception tree and the conversion of pydantic errors into field/message pairs."""

from __future__ import annotations

from typing import Self

from pydantic import ValidationError

from schemas.vocab import EventType

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

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict[str, str]] = details or []

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
