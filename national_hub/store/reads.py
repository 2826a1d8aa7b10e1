"""The named reads of the hub's store: every SELECT the services run, in one place.

Each read is a small async function of a `Fetcher` (the Store's read side), so the handlers and
engines above the store say what they want, never how it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Fetcher(Protocol):
    """The read side of national_hub.store.store.Store."""

    async def fetch(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[dict[str, Any]]:
        """All rows as dicts."""
        ...

    async def fetch_one(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> dict[str, Any] | None:
        """The first row as a dict, or None."""
        ...


_PHYSICIAN = (
    "SELECT province, record_version, synced_at, record, superseded_by_province,"
    " superseded_by_cert_no FROM records WHERE cert_no = ?"
)
_HISTORY = (
    "SELECT type, seq, record_version, committed_at, applied_at, province"
    " FROM history WHERE cert_no = ? ORDER BY apply_id"
)
_HAS_RECORD = "SELECT 1 AS x FROM records WHERE cert_no = ?"
_DEAD_LETTERS = (
    'SELECT topic, partition, "offset", key, reason, received_at, province FROM dead_letters'
)
_DEAD_LETTERS_ORDER = ' ORDER BY received_at DESC, topic, partition, "offset" DESC LIMIT ?'
_RECORD_COUNT = "SELECT count(*) AS n FROM records"
# Columns a stats answer may group by; the only names ever put into its SQL text.
STATS_GROUPS = ("province", "category", "status")


async def physician(store: Fetcher, cert_no: str) -> dict[str, Any] | None:
    """The records row a lookup serves (record JSON, where and when from), or None."""
    return await store.fetch_one(_PHYSICIAN, [cert_no])


async def history(store: Fetcher, cert_no: str) -> list[dict[str, Any]]:
    """The applied events of a certificate, oldest first."""
    return await store.fetch(_HISTORY, [cert_no])


async def has_record(store: Fetcher, cert_no: str) -> bool:
    """Whether the hub holds a record with this certificate number."""
    return await store.fetch_one(_HAS_RECORD, [cert_no]) is not None


async def dead_letters(store: Fetcher, province: str | None, limit: int) -> list[dict[str, Any]]:
    """Refused messages, newest first, of one province or all."""
    sql = _DEAD_LETTERS
    params: list[Any] = []
    if province:
        sql += " WHERE province = ?"
        params.append(province)
    params.append(limit)
    return await store.fetch(sql + _DEAD_LETTERS_ORDER, params)


async def record_count(store: Fetcher) -> int:
    """How many records the hub holds."""
    row = await store.fetch_one(_RECORD_COUNT)
    return int(row["n"]) if row else 0


async def stats_counts(store: Fetcher, groups: tuple[str, ...]) -> list[dict[str, Any]]:
    """Record counts per combination of groups (each one of STATS_GROUPS), ordered by them."""
    if not set(groups) <= set(STATS_GROUPS):
        raise ValueError(f"stats groups must be among {STATS_GROUPS}")
    columns = ", ".join(groups)
    if groups:
        sql = (
            f"SELECT {columns}, count(*) AS count FROM records "
            f"GROUP BY {columns} ORDER BY {columns}"
        )
    else:
        sql = "SELECT count(*) AS count FROM records"
    return await store.fetch(sql)
