"""Suggestions while a person types a name or an institution (the search page's list).

SQL against the serving index. Every step is an index seek bounded by the rows it returns:
distinct names are walked one seek at a time in the name indexes (never grouped over every
match of a short prefix), a name's count stops at COUNT_CAP rows, and institution names are
read in order from the `institutions` table's (institution_name, org_code) index, which holds
each distinct institution once with its count. So a one-letter prefix costs what its few
suggestions cost, not what its million matches would.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# Counts stop here: "1000+" tells a person as much as an exact 48,213, for a fraction.
COUNT_CAP = 1000
# Hanzi names shown under one pinyin key (zhangwei: 张伟, 张玮, 章伟).
NAMES_PER_PINYIN = 3
# The highest code point: key + this bounds every text that starts with key.
_TOP = "\U0010ffff"
_NAME_COLUMNS = ("name_norm", "name_pinyin")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggestion: the text to fill in, how many shown records carry it (at most
    COUNT_CAP; `capped` when there are more)."""

    kind: str  # "name" or "institution"
    text: str
    count: int
    capped: bool


def _count(con: sqlite3.Connection, column: str, value: str) -> tuple[int, bool]:
    (n,) = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM records WHERE {column} = ? LIMIT ?)",
        [value, COUNT_CAP + 1],
    ).fetchone()
    return min(n, COUNT_CAP), n > COUNT_CAP


def _distinct_after(
    con: sqlite3.Connection, column: str, prefix: str, after: str | None
) -> str | None:
    """The next distinct value of column starting with prefix, after `after` (one seek)."""
    if after is None:
        sql = f"SELECT {column} FROM records WHERE {column} >= ? AND {column} < ?"
        args = [prefix, prefix + _TOP]
    else:
        sql = f"SELECT {column} FROM records WHERE {column} > ? AND {column} < ?"
        args = [after, prefix + _TOP]
    row = con.execute(sql + f" ORDER BY {column} LIMIT 1", args).fetchone()
    return None if row is None else str(row[0])


def _shown_name(con: sqlite3.Connection, name_norm: str) -> str:
    """A name as registered (with its middle dot), for a normalised key."""
    row = con.execute(
        "SELECT json_extract(record, '$.name') FROM records WHERE name_norm = ? LIMIT 1",
        [name_norm],
    ).fetchone()
    return str(row[0]) if row is not None and row[0] else name_norm


def name_suggestions(
    con: sqlite3.Connection, column: str, key: str, limit: int
) -> list[Suggestion]:
    """Names starting with key (normalised hanzi, or toneless pinyin), at most limit."""
    if column not in _NAME_COLUMNS:
        raise ValueError(f"not a name column: {column}")
    found: list[Suggestion] = []
    after: str | None = None
    while len(found) < limit:
        value = _distinct_after(con, column, key, after)
        if value is None:
            break
        after = value
        if column == "name_norm":
            count, capped = _count(con, "name_norm", value)
            found.append(Suggestion("name", _shown_name(con, value), count, capped))
            continue
        # A pinyin key: the hanzi names it stands for, most common first, among its first
        # COUNT_CAP records.
        rows = con.execute(
            "SELECT name_norm, count(*) AS n FROM"
            " (SELECT name_norm FROM records WHERE name_pinyin = ? LIMIT ?)"
            " GROUP BY name_norm ORDER BY n DESC, name_norm LIMIT ?",
            [value, COUNT_CAP, NAMES_PER_PINYIN],
        ).fetchall()
        for name_norm, _ in rows:
            if len(found) < limit:
                count, capped = _count(con, "name_norm", name_norm)
                found.append(Suggestion("name", _shown_name(con, name_norm), count, capped))
    return found


def institution_suggestions(
    con: sqlite3.Connection, prefix: str, limit: int, first: str | None = None
) -> list[Suggestion]:
    """Institutions whose full name starts with prefix, with how many shown records name
    them as primary institution, at most limit; `first` (the full name of an abbreviation
    typed, 重医附一院) leads the list, as it is what the search will match."""
    rows = con.execute(
        "SELECT institution_name, sum(n) FROM institutions"
        " WHERE institution_name >= ? AND institution_name < ?"
        " GROUP BY institution_name ORDER BY institution_name LIMIT ?",
        [prefix, prefix + _TOP, limit],
    ).fetchall()
    found = [Suggestion("institution", str(name), int(n), False) for name, n in rows]
    if first is None:
        return found
    lead = Suggestion("institution", first, institution_count(con, first), False)
    return [lead, *(s for s in found if s.text != first)][:limit]


def institution_count(con: sqlite3.Connection, name: str) -> int:
    """How many shown records name this institution (by its full name) as primary."""
    (n,) = con.execute(
        "SELECT coalesce(sum(n), 0) FROM institutions WHERE institution_name = ?", [name]
    ).fetchone()
    return int(n)
