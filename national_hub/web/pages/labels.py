"""Chinese labels of the registry's codes, and the search form's choices (pure)."""

from __future__ import annotations

from schemas.vocab import (
    CATEGORY_LABELS,
    EVENT_TYPE_LABELS,
    GENDER_LABELS,
    LEVEL_LABELS,
    OTHER_SCOPE,
    PROVINCES,
    SCOPES_BY_CATEGORY,
    STATUS_LABELS,
    Category,
)

# The search form's lists: (value sent, label shown). Values are the API's codes, so a page
# address means what the same parameters mean to GET /v1/physicians.
PROVINCE_CHOICES: tuple[tuple[str, str], ...] = tuple(PROVINCES.items())
CATEGORY_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (c.value, f"{label}类别") for c, label in CATEGORY_LABELS.items()
)
STATUS_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (s.value, label) for s, label in STATUS_LABELS.items()
)
_BEFORE = {c: tuple(Category)[:i] for i, c in enumerate(Category)}
# Each scope once, grouped by category (全科医学专业 and the "other" scope sit under several).
SCOPE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (
        f"{CATEGORY_LABELS[c]}类别",
        tuple(
            s
            # The "other" scope last: it is the exception, not a specialty.
            for s in sorted(SCOPES_BY_CATEGORY[c], key=lambda s: (s == OTHER_SCOPE, s))
            if not any(s in SCOPES_BY_CATEGORY[p] for p in _BEFORE[c])
        ),
    )
    for c in Category
)


# Labels by code text: the record JSON carries codes as strings.
_CATEGORY = {c.value: label for c, label in CATEGORY_LABELS.items()}
_STATUS = {s.value: label for s, label in STATUS_LABELS.items()}
_LEVEL = {lv.value: label for lv, label in LEVEL_LABELS.items()}
_GENDER = {g.value: label for g, label in GENDER_LABELS.items()}
_EVENT = {e.value: label for e, label in EVENT_TYPE_LABELS.items()}


def _label(table: dict[str, str], code: str | None) -> str:
    # A code this version does not know is shown as it is rather than hidden.
    return "—" if code is None else table.get(code, code)


def category_label(code: str | None) -> str:
    """'临床' for clinical."""
    return _label(_CATEGORY, code)


def status_label(code: str | None) -> str:
    """'暂停执业' for suspended."""
    return _label(_STATUS, code)


def level_label(code: str | None) -> str:
    """'执业医师' for physician."""
    return _label(_LEVEL, code)


def gender_label(code: str | None) -> str:
    """'男' for male."""
    return _label(_GENDER, code)


def event_label(code: str | None) -> str:
    """'暂停执业' for suspended (the history's event types)."""
    return _label(_EVENT, code)


def province_label(code: str | None) -> str:
    """'重庆市' for 50."""
    if code is None:
        return "—"
    return PROVINCES.get(code, code)
