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


class RecordSource(Protocol):
    """What serves a certificate's shown record: the Store, or the serving index that answers
    public reads (national_hub.index.index.ServingIndex)."""

    async def record(self, cert_no: str) -> dict[str, Any] | None:
        """The row of RECORD_COLUMNS' names, or None."""
        ...


# A record as every reader of one certificate needs it: lookup, FHIR, verify, explain and the
# search pages (public_item). epoch_ms: a plain number on every fetch path (DuckDB's own
# TIMESTAMPTZ conversion, outside Arrow, needs pytz).
RECORD_COLUMNS = (
    "cert_no, province, status, seq, record_version, record, org_code, synced_at, "
    "epoch_ms(synced_at) AS synced_at_ms, superseded_by_province, superseded_by_cert_no"
)
_RECORD = f"SELECT {RECORD_COLUMNS} FROM records WHERE cert_no = ?"
_HISTORY = (
    "SELECT type, seq, record_version, committed_at, applied_at, province"
    " FROM history WHERE cert_no = ? ORDER BY apply_id"
)
_HAS_RECORD = "SELECT 1 AS x FROM records WHERE cert_no = ?"
_DEAD_LETTERS = (
    'SELECT topic, partition, "offset", key, reason, received_at, province, authenticated,'
    " raw_size AS size, raw_sha256 AS sha256 FROM dead_letters"
)
_DEAD_LETTERS_ORDER = ' ORDER BY received_at DESC, topic, partition, "offset" DESC LIMIT ?'
_RECORD_COUNT = "SELECT count(*) AS n FROM records"
# Columns a stats answer may group by; the only names ever put into its SQL text.
STATS_GROUPS = ("province", "category", "status")


async def record(store: Fetcher, cert_no: str) -> dict[str, Any] | None:
    """The records row of a certificate (RECORD_COLUMNS), or None."""
    return await store.fetch_one(_RECORD, [cert_no])


async def records(store: Fetcher, certs: Sequence[str]) -> list[dict[str, Any]]:
    """The records rows (RECORD_COLUMNS) of these certificates, in no particular order."""
    if not certs:
        return []
    marks = ", ".join("?" * len(certs))
    return await store.fetch(
        f"SELECT {RECORD_COLUMNS} FROM records WHERE cert_no IN ({marks})", certs
    )


async def history(store: Fetcher, cert_no: str) -> list[dict[str, Any]]:
    """The applied events of a certificate, oldest first."""
    return await store.fetch(_HISTORY, [cert_no])


async def has_record(store: Fetcher, cert_no: str) -> bool:
    """Whether the hub holds a record with this certificate number."""
    return await store.fetch_one(_HAS_RECORD, [cert_no]) is not None


async def dead_letters(store: Fetcher, province: str | None, limit: int) -> list[dict[str, Any]]:
    """Refused messages, newest first, of one province or all (ops only: all includes what
    nobody signed)."""
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


# Only what a province signed is ever explained publicly: bytes nobody signed (authenticated
# false, province NULL) are anyone's, and say nothing about a province or a certificate.
_DEAD_BY_SEQ = (
    'SELECT province, reason, topic, partition, "offset" FROM dead_letters'
    " WHERE province = ? AND seq = ? AND authenticated ORDER BY received_at DESC LIMIT 1"
)
# A seq the hub processed but refused (cert_conflict).
_REJECTED_SEQ = (
    'SELECT province, reason, topic, partition, "offset" FROM rejected_seqs'
    " WHERE province = ? AND seq = ?"
)
_DEAD_BY_CERT = (
    'SELECT province, reason, topic, partition, "offset" FROM dead_letters'
    " WHERE key = ? AND authenticated"
)
_DEAD_BY_CERT_ORDER = " ORDER BY received_at DESC LIMIT 1"
# Only a confirmed link says a registration moved (store.decide); with several, the same one
# as the records' superseded_by columns.
_LINK = (
    "SELECT old_province, new_province, new_cert_no FROM transfer_links"
    " WHERE old_cert_no = ? AND confirmed"
)
_LINK_ORDER = " ORDER BY new_province, new_cert_no LIMIT 1"
# Transfer-ins the old province has not confirmed, with what the hub holds of the old record.
_UNCONFIRMED = """
SELECT l.old_province, l.old_cert_no, l.new_province, l.new_cert_no, l.linked_at,
       coalesce(r.status, u.status) AS old_status,
       CASE WHEN coalesce(r.status, u.status) = 'transferred_out'
            THEN json_extract_string(coalesce(r.record, u.record), '$.transfer.to_province')
       END AS old_to_province
FROM transfer_links l
LEFT JOIN records r ON r.cert_no = l.old_cert_no AND r.province = l.old_province
LEFT JOIN unshown_records u ON u.cert_no = l.old_cert_no AND u.province = l.old_province
WHERE NOT l.confirmed
"""
_UNCONFIRMED_ORDER = " ORDER BY l.linked_at DESC, l.old_cert_no, l.new_cert_no LIMIT ?"
_UNSHOWN = "SELECT province, status FROM unshown_records WHERE cert_no = ? AND province = ?"
_DEAD_LETTER_COUNTS = (
    "SELECT province, count(*) AS n FROM dead_letters"
    " WHERE authenticated AND province IS NOT NULL GROUP BY province"
)


async def dead_letter_of_seq(store: Fetcher, province: str, seq: int) -> dict[str, Any] | None:
    """The newest refused message the province signed with this seq, or None."""
    return await store.fetch_one(_DEAD_BY_SEQ, [province, seq])


async def rejected_seq(store: Fetcher, province: str, seq: int) -> dict[str, Any] | None:
    """Why the hub refused a seq it processed (e.g. a cert_conflict), or None."""
    return await store.fetch_one(_REJECTED_SEQ, [province, seq])


async def dead_letter_of_cert(
    store: Fetcher, cert_no: str, province: str | None
) -> dict[str, Any] | None:
    """The newest refused message a province signed, keyed with this certificate, or None."""
    if province:
        return await store.fetch_one(
            _DEAD_BY_CERT + " AND province = ?" + _DEAD_BY_CERT_ORDER, [cert_no, province]
        )
    return await store.fetch_one(_DEAD_BY_CERT + _DEAD_BY_CERT_ORDER, [cert_no])


async def transfer_link(
    store: Fetcher, cert_no: str, province: str | None
) -> dict[str, Any] | None:
    """Where a certificate (of one province) moved to, if its province confirmed a transfer
    out to the province that registered the transfer-in, or None."""
    if province:
        return await store.fetch_one(
            _LINK + " AND old_province = ?" + _LINK_ORDER, [cert_no, province]
        )
    return await store.fetch_one(_LINK + _LINK_ORDER, [cert_no])


async def unconfirmed_transfers(
    store: Fetcher, cert_no: str | None, limit: int
) -> list[dict[str, Any]]:
    """Transfer-ins not confirmed by the old province (naming cert_no at either end, if
    given), newest first, with the old record's status and where it went (if it did)."""
    if cert_no is None:
        return await store.fetch(_UNCONFIRMED + _UNCONFIRMED_ORDER, [limit])
    return await store.fetch(
        _UNCONFIRMED + " AND (l.old_cert_no = ? OR l.new_cert_no = ?)" + _UNCONFIRMED_ORDER,
        [cert_no, cert_no, limit],
    )


async def unshown_record(store: Fetcher, cert_no: str, province: str) -> dict[str, Any] | None:
    """The province's record of this code that the hub keeps but does not show, or None."""
    return await store.fetch_one(_UNSHOWN, [cert_no, province])


async def dead_letter_counts(store: Fetcher) -> dict[str, int]:
    """Dead letters each province signed (what nobody signed is no province's)."""
    return {r["province"]: int(r["n"]) for r in await store.fetch(_DEAD_LETTER_COUNTS)}


# "In force": a changing registration is an active one with a change request pending.
IN_FORCE = ("active", "changing")
# provinces: in how many provinces; most_in_one: the most in force in any one province.
_PERSONS = f"""
SELECT person_ref, count(DISTINCT province) AS provinces, max(in_province) AS most_in_one,
       list(struct_pack(province := province, cert_no := cert_no, name := name,
                        status := status) ORDER BY province, cert_no) AS records
FROM (
    SELECT person_ref, province, cert_no, name, status,
           count(*) OVER (PARTITION BY person_ref, province) AS in_province
    FROM records
    WHERE status IN ({", ".join(f"'{s}'" for s in IN_FORCE)})
      AND person_ref IS NOT NULL AND superseded_by_province IS NULL
)
GROUP BY person_ref
HAVING count(*) > 1
ORDER BY person_ref
LIMIT ?
"""

_CONFLICTS = """
SELECT d.key AS cert_no, d.province AS claimed_by, any_value(r.province) AS held_by,
       count(*) AS events_rejected, min(d.received_at) AS first_rejected_at,
       max(d.received_at) AS last_rejected_at, arg_max(d.reason, d.received_at) AS reason
FROM dead_letters d LEFT JOIN records r ON r.cert_no = d.key
WHERE d.reason LIKE ? AND d.key IS NOT NULL
GROUP BY d.key, d.province
ORDER BY last_rejected_at DESC, cert_no
LIMIT ?
"""


async def persons_in_force_twice(store: Fetcher, limit: int) -> list[dict[str, Any]]:
    """Persons (person_ref) with more than one record in force: in how many provinces, the
    most in any one province, and the records."""
    return await store.fetch(_PERSONS, [limit])


async def cert_conflicts(store: Fetcher, reason_like: str, limit: int) -> list[dict[str, Any]]:
    """Certificates whose events were refused as claimed by another province, newest first."""
    return await store.fetch(_CONFLICTS, [reason_like, limit])
