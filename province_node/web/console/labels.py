"""How the console words and shows a registration's values (pure): masked ID numbers, Chinese
labels of the vocabularies, Beijing time, status badges, what a pending change would change.
Labels come from schemas.vocab, the one place the Chinese of each code is kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from schemas.vocab import (
    CATEGORY_LABELS,
    EVENT_TYPE_LABELS,
    GENDER_LABELS,
    LEVEL_LABELS,
    PROVINCES,
    STATUS_LABELS,
    Category,
    EventType,
    Gender,
    Level,
    Status,
)

BEIJING = timezone(timedelta(hours=8), "CST")

# The badge of each status: the word is the status, the colour only repeats it.
_BADGES: dict[Status, str] = {
    Status.ACTIVE: "badge-ok",
    Status.CHANGING: "badge-wait",
    Status.SUSPENDED: "badge-warn",
    Status.CANCELLED: "badge-muted",
    Status.REVOKED: "badge-bad",
    Status.TRANSFERRED_OUT: "badge-muted",
}


def mask_id(id_number: str) -> str:
    """An ID number as shown by default: the region (6) and the last 4, the birth date and
    sequence hidden (500103********123X)."""
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def _label(table: Mapping[Any, str], enum: type[Any], raw: object) -> str:
    try:
        return table[enum(raw)]
    except ValueError:
        return str(raw)


def status_label(raw: object) -> str:
    """注册状态 in Chinese (正常, 变更中, …)."""
    return _label(STATUS_LABELS, Status, raw)


def status_badge(raw: object) -> str:
    """The badge class of a status (badge-muted for an unknown one)."""
    try:
        return _BADGES[Status(str(raw))]
    except ValueError:
        return "badge-muted"


def category_label(raw: object) -> str:
    """执业类别 in Chinese."""
    return _label(CATEGORY_LABELS, Category, raw)


def level_label(raw: object) -> str:
    """执业级别 in Chinese."""
    return _label(LEVEL_LABELS, Level, raw)


def gender_label(raw: object) -> str:
    """性别 in Chinese."""
    return _label(GENDER_LABELS, Gender, raw)


def event_label(raw: object) -> str:
    """An event type in Chinese (注册, 暂停执业, …)."""
    return _label(EVENT_TYPE_LABELS, EventType, raw)


def province_label(code: object) -> str:
    """A province's name from its code (the code itself when unknown)."""
    return PROVINCES.get(str(code), str(code))


def beijing_time(text: str | None) -> str:
    """A stored UTC time (…T08:10:00.123Z) as Beijing time, to the second: 2026-12-05 16:10:00."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def institution_text(inst: Mapping[str, Any] | None) -> str:
    """An institution as one line: its name and credit code."""
    if not inst:
        return ""
    return f"{inst.get('name', '')}（{inst.get('org_code', '')}）"


def scopes_text(scopes: object) -> str:
    """执业范围, joined with the Chinese enumeration comma."""
    if not isinstance(scopes, (list, tuple)):
        return ""
    return "、".join(str(s) for s in scopes)


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One field a pending change would change: what it is called, now, after."""

    label: str
    old: str
    new: str


# The fields a change may set, in the order the page lists them: (key, label, how shown).
_CHANGE_FIELDS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("primary_institution", "主要执业机构", institution_text),
    ("category", "执业类别", category_label),
    ("scopes", "执业范围", scopes_text),
    ("level", "执业级别", level_label),
)


def pending_changes(record: Mapping[str, Any]) -> list[ChangeLine]:
    """What the record's pending change would change (empty when none pends)."""
    pending = record.get("pending_change")
    if not isinstance(pending, Mapping):
        return []
    return [
        ChangeLine(label, show(record.get(key)), show(pending[key]))
        for key, label, show in _CHANGE_FIELDS
        if pending.get(key) is not None
    ]


# The filters of the find page: (value, label).
STATUS_CHOICES: tuple[tuple[str, str], ...] = tuple((s.value, STATUS_LABELS[s]) for s in Status)
