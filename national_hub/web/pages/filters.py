"""Jinja filters of the site: dates and times as a person in China reads them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

# Shared with the province node's console: times as a person in China reads them.
from schemas.timestamps import BEIJING, beijing_time, parse_time

__all__ = ["BEIJING", "FILTERS", "beijing_time", "chinese_date", "iso_date", "parse_time"]


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
