"""Jinja filters of the site: dates and times as a person in China reads them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

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


def chinese_date(value: str | date | None) -> str:
    """'2026年12月5日', or '—' when absent."""
    if value is None or value == "":
        return "—"
    day = value if isinstance(value, date) else date.fromisoformat(value)
    return f"{day.year}年{day.month}月{day.day}日"


def iso_date(value: str | date | None) -> str:
    """The date for a <time datetime=…> attribute."""
    if value is None or value == "":
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


FILTERS: dict[str, Callable[..., Any]] = {
    "beijing_time": beijing_time,
    "chinese_date": chinese_date,
    "iso_date": iso_date,
}
