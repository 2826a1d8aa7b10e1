"""UTC instants at millisecond precision, serialised as "2026-11-22T04:10:00.123Z"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError


def to_utc_ms(value: datetime) -> datetime:
    """Convert an aware datetime to UTC, truncated to whole milliseconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timezone_required", "must be timezone-aware (UTC)")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # The wire keeps milliseconds only; holding more would break parse(serialise(x)) == x.
    micro = value.microsecond
    if micro % 1000:
        value = value.replace(microsecond=micro - micro % 1000)
    return value


def _text_or_datetime(value: object) -> object:
    """Refuse numbers: pydantic would read them as Unix seconds, the wire form is text."""
    if not isinstance(value, str | datetime):
        raise PydanticCustomError("datetime_text", "must be a date-time string")
    return value


def format_utc(value: datetime) -> str:
    """Format an aware datetime as the wire form, e.g. 2026-11-22T04:10:00.123Z."""
    return to_utc_ms(value).isoformat(timespec="milliseconds")[:-6] + "Z"


def utc_now() -> datetime:
    """Return the current time as a UTC datetime truncated to milliseconds."""
    return to_utc_ms(datetime.now(UTC))


UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_text_or_datetime),
    AfterValidator(to_utc_ms),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "UTC instant, millisecond precision, e.g. 2026-11-22T04:10:00.123Z",
        }
    ),
]


# 北京时间: the registry's users read times in China Standard Time (no daylight saving).
BEIJING = timezone(timedelta(hours=8), "北京时间")


def parse_time(value: str | datetime) -> datetime:
    """A wire timestamp (…T04:10:00.123Z) or a datetime, timezone-aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def beijing_time(value: str | datetime | None) -> str:
    """'2026-12-05 21:35:10（北京时间）', or '—' when absent."""
    if value is None or value == "":
        return "—"
    return parse_time(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S（北京时间）")
