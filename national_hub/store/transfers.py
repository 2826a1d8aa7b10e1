"""The writes of an apply that carry out transfers (decided in store.decide).

Rare next to lifecycle events, so written row by row where that is simplest: a certificate
code whose shown record passes to another province (the old one goes aside to
`unshown_records`, or comes back from it), the records kept aside, what supersedes a record
whose own row did not change, and the transfer links with their confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import duckdb
import pyarrow as pa

from national_hub.store.decide import Link, Move, Ref
from national_hub.store.schema import TS
from national_hub.store.writes import Stored, record_rows


def apply_moves(
    con: duckdb.DuckDBPyConnection, moves: Mapping[str, Move], stored: dict[str, Stored]
) -> None:
    """Put each moved certificate's shown record aside, and bring back the one to show.

    A moved certificate leaves `stored`: its new shown record is inserted by write_records
    (from the batch), or here (from aside, when the batch has no event of it).
    """
    for cert_no, move in moves.items():
        con.execute(
            "INSERT OR REPLACE INTO unshown_records SELECT * FROM records WHERE cert_no = ?",
            [cert_no],
        )
        con.execute("DELETE FROM records WHERE cert_no = ?", [cert_no])
        stored.pop(cert_no, None)
        key = [move.to_province, cert_no]
        if move.restore:
            con.execute(
                "INSERT INTO records SELECT * FROM unshown_records"
                " WHERE province = ? AND cert_no = ?",
                key,
            )
        con.execute("DELETE FROM unshown_records WHERE province = ? AND cert_no = ?", key)


def write_unshown(
    con: duckdb.DuckDBPyConnection, now: datetime, ev: pa.Table, parked: Mapping[Ref, int]
) -> None:
    """Keep aside the latest records of certificates another province's record is shown for."""
    if not parked:
        return
    con.register("_un", record_rows(ev, list(parked.values()), now, [None] * len(parked)))
    try:
        con.execute("INSERT OR REPLACE INTO unshown_records SELECT * FROM _un")
    finally:
        con.unregister("_un")


def write_superseded(con: duckdb.DuckDBPyConnection, changes: Mapping[str, Ref | None]) -> None:
    """Set what supersedes shown records that the batch did not rewrite."""
    if not changes:
        return
    con.register(
        "_sup",
        pa.table(
            {
                "cert_no": list(changes),
                "p": pa.array([v[0] if v else None for v in changes.values()], pa.string()),
                "c": pa.array([v[1] if v else None for v in changes.values()], pa.string()),
            }
        ),
    )
    try:
        con.execute(
            "UPDATE records SET superseded_by_province = s.p, superseded_by_cert_no = s.c"
            " FROM _sup s WHERE records.cert_no = s.cert_no"
        )
    finally:
        con.unregister("_sup")


def write_links(con: duckdb.DuckDBPyConnection, now: datetime, links: Mapping[Link, bool]) -> None:
    """Store new transfer links and changed confirmations (a link keeps when it was made)."""
    if not links:
        return
    con.register(
        "_l",
        pa.table(
            {
                "old_province": [old[0] for old, _ in links],
                "old_cert_no": [old[1] for old, _ in links],
                "new_province": [new[0] for _, new in links],
                "new_cert_no": [new[1] for _, new in links],
                "linked_at": pa.array([now] * len(links), TS),
                "confirmed": pa.array(list(links.values()), pa.bool_()),
            }
        ),
    )
    try:
        con.execute(
            "INSERT INTO transfer_links SELECT * FROM _l"
            " ON CONFLICT (old_province, old_cert_no, new_province, new_cert_no)"
            " DO UPDATE SET confirmed = excluded.confirmed"
        )
    finally:
        con.unregister("_l")
