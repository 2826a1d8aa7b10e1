"""The one byte form of a message that is signed and put on Kafka."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import orjson
from pydantic import BaseModel

from schemas.timestamps import format_utc

# Passthrough makes orjson hand dates and datetimes to _default, so plain dicts get the same
# "YYYY-MM-DD" / "...T04:10:00.123Z" forms as models instead of orjson's microsecond RFC 3339.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__} canonically")


def canonical_bytes(obj: BaseModel | dict[str, Any]) -> bytes:
    """Serialise as compact UTF-8 JSON with sorted keys and nulls kept: the signed form."""
    if isinstance(obj, BaseModel):
        return orjson.dumps(obj.model_dump(mode="json"), option=_OPTIONS)
    return orjson.dumps(obj, default=_default, option=_OPTIONS)
