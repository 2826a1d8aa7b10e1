"""The writes of one apply transaction, each a function of the connection and what it changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from national_hub.ingest.messages import (
    RECORD_FIELDS,
    DeadLetter,
    HeartbeatMsg,
)
from national_hub.store.decide import Held, Link, Ref
from national_hub.store.heartbeats import HeartbeatGate
from national_hub.store.progress import HeartbeatState, Progress, advance
from national_hub.store.schema import (
    HISTORY_SCHEMA,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    TS,
)
from schemas.events import Heartbeat

# Decoding hands over these columns ready-made, in table order, between seq and record.
# What every lifecycle event changes: updated in place for each record that keeps its lists.
_ALWAYS = ("record_version", "seq", "committed_at", "synced_at", "status", "record")
# Columns that rarely change, rewritten only where they did, in groups of at most three
# strings: DuckDB 2.0 takes a far slower path for an UPDATE of four or more VARCHAR columns
# (measured on 4,400 rows: three columns 5 ms, four 220 ms), and a list column change costs a
# delete and insert, so those rows are rewritten whole instead.
_GROUPS = (
    ("name", "name_norm", "name_pinyin"),
    ("gender", "level", "category"),
    ("org_code", "institution_name", "region_code"),
    ("person_ref", "province"),
    ("superseded_by_province", "superseded_by_cert_no"),
)
_SUPERSEDED_GROUP = 4
# status and, of a transferred_out record only, where it went: what a transfer's confirmation
# is decided on (store.decide).
TO_PROVINCE = (
    "CASE WHEN status = 'transferred_out'"
    " THEN json_extract_string(record, '$.transfer.to_province') END"
)
_LOOKUP_SQL_HEAD = (
    "SELECT rowid, cert_no, record_version, scopes, site_org_codes, "
    + ", ".join(c for g in _GROUPS for c in g)
    + f", status, {TO_PROVINCE} FROM records WHERE cert_no IN "
)
_LINKS_SQL_HEAD = (
    "SELECT old_province, old_cert_no, new_province, new_cert_no, confirmed"
    " FROM transfer_links WHERE old_cert_no IN "
)
_UNSHOWN_SQL_HEAD = (
    f"SELECT cert_no, province, record_version, status, {TO_PROVINCE}"
    " FROM unshown_records WHERE cert_no IN "
)
_KEYS = "(SELECT cert_no FROM _k)"
# Up to this many cert_nos, an apply's lookup goes through the primary-key index.
_INDEX_LOOKUP_MAX = 256
# Up to this many rows, small tables are written by UPDATE/INSERT per key, not an upsert.
_SMALL_UPSERT_MAX = 8


@dataclass(slots=True)
class Stored:
    """A records row as the writer needs it: where it is and what may change."""

    rid: int
    province: str
    version: int
    scopes: tuple[str, ...]
    sites: tuple[str, ...]
    groups: tuple[tuple[Any, ...], ...]
    status: str
    to_province: str | None

    @property
    def superseded(self) -> tuple[str, str] | None:
        """The (province, cert_no) that replaced this record, if any."""
        p, c = self.groups[_SUPERSEDED_GROUP]
        return (p, c) if p is not None else None

    def held(self) -> Held:
        """What the decision needs of it."""
        return Held(self.province, self.version, self.status, self.to_province, self.superseded)


@dataclass(slots=True)
class Current:
    """What the hub holds of the certificates a batch touches."""

    stored: dict[str, Stored]  # cert_no → its shown record
    links: dict[Link, bool]  # links whose old cert_no is one of them → confirmed
    unshown: dict[str, dict[str, Held]]  # cert_no → province → a record kept aside


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    keys: tuple[str, ...],
    rows: pa.Table,
    *,
    add: bool = False,
) -> None:
    """Insert or update rows of a small keyed table (rows has the table's columns, in order).

    With add, an existing row's values are increased by the new ones instead of replaced.
    """
    values = [c for c in rows.column_names if c not in keys]
    new = {c: (f"{table}.{c} + excluded.{c}" if add else f"excluded.{c}") for c in values}
    if rows.num_rows <= _SMALL_UPSERT_MAX:
        # An UPDATE by key costs a fifth of an upsert from a registered table, and a live
        # hub's batch touches one or two partitions and provinces.
        sets = ", ".join(f"{c} = {c} + ?" if add else f"{c} = ?" for c in values)
        update = f"UPDATE {table} SET {sets} WHERE " + (" AND ".join(f"{c} = ?" for c in keys))
        insert = f"INSERT INTO {table} VALUES ({', '.join('?' * rows.num_columns)})"
        for row in rows.to_pylist():
            found = con.execute(update, [row[c] for c in (*values, *keys)]).fetchone()
            if not found or not found[0]:
                con.execute(insert, list(row.values()))
        return
    con.register("_up", rows)
    try:
        con.execute(
            f"INSERT INTO {table} SELECT * FROM _up ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{c} = {expr}" for c, expr in new.items())
        )
    finally:
        con.unregister("_up")


def read_current(con: duckdb.DuckDBPyConnection, certs: list[str]) -> Current:
    """Shown records, transfer links and records kept aside of these cert_nos."""
    stored: dict[str, Stored] = {}
    links: dict[Link, bool] = {}
    unshown: dict[str, dict[str, Held]] = {}
    if not certs:
        return Current(stored, links, unshown)
    # A short list of constants is looked up in the primary-key index; a join with a
    # registered table scans all records, which only pays off for catch-up batches.
    small = len(certs) <= _INDEX_LOOKUP_MAX
    if small:
        marks = ", ".join("?" * len(certs))
        record_rows = con.execute(_LOOKUP_SQL_HEAD + f"({marks})", certs).fetchall()
        link_rows = con.execute(_LINKS_SQL_HEAD + f"({marks})", certs).fetchall()
        unshown_rows = con.execute(_UNSHOWN_SQL_HEAD + f"({marks})", certs).fetchall()
    else:
        con.register("_k", pa.table({"cert_no": pa.array(certs, pa.string())}))
        try:
            record_rows = con.execute(_LOOKUP_SQL_HEAD + _KEYS).fetchall()
            link_rows = con.execute(_LINKS_SQL_HEAD + _KEYS).fetchall()
            unshown_rows = con.execute(_UNSHOWN_SQL_HEAD + _KEYS).fetchall()
        finally:
            con.unregister("_k")
    for row in record_rows:
        rid, cert, ver, scopes, sites = row[:5]
        groups: list[tuple[Any, ...]] = []
        i = 5
        for g in _GROUPS:
            groups.append(tuple(row[i : i + len(g)]))
            i += len(g)
        status, to_province = row[i], row[i + 1]
        stored[cert] = Stored(
            rid,
            groups[3][1],
            ver,
            tuple(scopes),
            tuple(sites),
            tuple(groups),
            status,
            to_province,
        )
    for op, oc, np_, nc, confirmed in link_rows:
        links[((op, oc), (np_, nc))] = confirmed
    for cert, prov, ver, status, to_province in unshown_rows:
        unshown.setdefault(cert, {})[prov] = Held(prov, ver, status, to_province)
    return Current(stored, links, unshown)


def record_rows(
    ev: pa.Table,
    indexes: Sequence[int],
    now: datetime,
    superseded: Sequence[Ref | None],
) -> pa.Table:
    """The records rows (RECORD_SCHEMA) of these events, superseded as given."""
    wt = ev.take(pa.array(list(indexes), pa.int64()))
    return pa.table(
        [
            *(wt.column(c) for c in ("cert_no", "province", "record_version", "seq")),
            *(wt.column(c) for c in RECORD_FIELDS),
            wt.column("record"),
            wt.column("committed_at"),
            pa.repeat(pa.scalar(now, TS), wt.num_rows),
            pa.array([s[0] if s else None for s in superseded], pa.string()),
            pa.array([s[1] if s else None for s in superseded], pa.string()),
        ],
        schema=RECORD_SCHEMA,
    )


def write_records(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    ev: pa.Table,
    winners: dict[str, int],
    stored: dict[str, Stored],
    superseded: Mapping[str, Ref | None],
) -> None:
    """Insert new records, update changed ones in place, rewrite the rest.

    superseded: what supersedes each winner's record (store.decide), None for most.
    """
    changed: list[tuple[list[int], list[int]]] = [([], []) for _ in _GROUPS]
    if not winners:
        return

    w_certs = list(winners)
    rec = record_rows(ev, list(winners.values()), now, [superseded.get(c) for c in w_certs])

    # Only rows that exist need comparing, so only their values leave Arrow.
    existing = [j for j, c in enumerate(w_certs) if c in stored]
    inserts = [j for j, c in enumerate(w_certs) if c not in stored]
    updates: list[int] = []
    upd_rids: list[int] = []
    del_rids: list[int] = []
    if existing:
        sub = rec.take(pa.array(existing, pa.int64()))
        values = {
            c: sub.column(c).to_pylist()
            for c in ("scopes", "site_org_codes", *(c for g in _GROUPS for c in g))
        }
        for k, j in enumerate(existing):
            prev = stored[w_certs[j]]
            if (
                tuple(values["scopes"][k]) != prev.scopes
                or tuple(values["site_org_codes"][k]) != prev.sites
            ):
                # DuckDB rewrites list columns by delete+insert anyway; do it whole.
                del_rids.append(prev.rid)
                inserts.append(j)
                continue
            updates.append(j)
            upd_rids.append(prev.rid)
            for gi, group in enumerate(_GROUPS):
                if tuple(values[c][k] for c in group) != prev.groups[gi]:
                    changed[gi][0].append(j)
                    changed[gi][1].append(prev.rid)

    if updates:
        t = rec.take(pa.array(updates, pa.int64())).select(list(_ALWAYS))
        con.register("_u", t.append_column("rid", pa.array(upd_rids, pa.int64())))
        sets = ", ".join(f"{c} = u.{c}" for c in _ALWAYS)
        con.execute(f"UPDATE records SET {sets} FROM _u u WHERE records.rowid = u.rid")
        con.unregister("_u")
    for gi, (rows, rids) in enumerate(changed):
        if not rows:
            continue
        group = _GROUPS[gi]
        t = rec.take(pa.array(rows, pa.int64())).select(list(group))
        con.register("_g", t.append_column("rid", pa.array(rids, pa.int64())))
        sets = ", ".join(f"{c} = g.{c}" for c in group)
        con.execute(f"UPDATE records SET {sets} FROM _g g WHERE records.rowid = g.rid")
        con.unregister("_g")
    if del_rids:
        con.register("_del", pa.table({"rid": pa.array(del_rids, pa.int64())}))
        con.execute("DELETE FROM records WHERE rowid IN (SELECT rid FROM _del)")
        con.unregister("_del")
    if inserts:
        con.register("_ins", rec.take(pa.array(inserts, pa.int64())))
        con.execute(f"INSERT INTO records SELECT {', '.join(RECORD_COLUMNS)} FROM _ins")
        con.unregister("_ins")


def write_history(
    con: duckdb.DuckDBPyConnection, first: int, now: datetime, ev: pa.Table, hist: list[int]
) -> tuple[int, list[tuple[str, float]]]:
    """Append applied events to history; return the next apply_id and latencies."""
    if not hist:
        return first, []
    n = len(hist)
    h = ev.take(pa.array(hist, pa.int64()))
    committed = h.column("committed_at")
    table = pa.table(
        [
            pa.array(range(first, first + n), pa.int64()),
            h.column("cert_no"),
            h.column("province"),
            h.column("seq"),
            h.column("type"),
            h.column("record_version"),
            committed,
            pa.repeat(pa.scalar(now, TS), n),
            h.column("event_id"),
        ],
        schema=HISTORY_SCHEMA,
    )
    con.register("_h", table)
    con.execute("INSERT INTO history SELECT * FROM _h")
    con.unregister("_h")
    # Commit-to-apply latency, computed on the column rather than event by event.
    now_us = int(now.timestamp() * 1_000_000)
    ages = pc.subtract(pa.scalar(now_us, pa.int64()), committed.cast(pa.int64()))
    provinces = h.column("province").to_pylist()
    return first + n, [
        (p, us / 1_000_000) for p, us in zip(provinces, ages.to_pylist(), strict=True)
    ]


def write_dead_letters(
    con: duckdb.DuckDBPyConnection, now: datetime, dead: list[DeadLetter]
) -> None:
    """Keep refused messages: a prefix of their bytes, size, hash and why."""
    con.register(
        "_d",
        pa.table(
            {
                "topic": [d.topic for d in dead],
                "partition": pa.array([d.partition for d in dead], pa.int32()),
                "offset": pa.array([d.offset for d in dead], pa.int64()),
                "key": pa.array([d.key for d in dead], pa.string()),
                "reason": [d.reason for d in dead],
                "raw": pa.array([d.raw for d in dead], pa.binary()),
                "received_at": pa.array([now] * len(dead), TS),
                "province": pa.array([d.province for d in dead], pa.string()),
                "authenticated": pa.array([d.authenticated for d in dead], pa.bool_()),
                "seq": pa.array([d.seq for d in dead], pa.int64()),
                "raw_size": pa.array([d.size for d in dead], pa.int64()),
                "raw_sha256": [d.sha256 for d in dead],
            }
        ),
    )
    # A replay meets the same bad messages again; keep the first sighting.
    con.execute("INSERT OR IGNORE INTO dead_letters BY NAME SELECT * FROM _d")
    con.unregister("_d")


def write_rejected_seqs(
    con: duckdb.DuckDBPyConnection,
    mirror: Mapping[str, frozenset[int]],
    letters: list[DeadLetter],
    seqs: list[int],
) -> Mapping[str, frozenset[int]]:
    """Remember the seqs processed but refused; return the new mirror."""
    if not letters:
        return mirror
    # One row per (province, seq): a batch may carry the same refused event twice.
    firsts: dict[tuple[str, int], DeadLetter] = {}
    for d, s in zip(letters, seqs, strict=True):
        firsts.setdefault((d.province or "", s), d)
    letters = list(firsts.values())
    seqs = [s for _, s in firsts]
    con.register(
        "_r",
        pa.table(
            {
                "province": [p for p, _ in firsts],
                "seq": pa.array(seqs, pa.int64()),
                "reason": [d.reason for d in letters],
                "topic": [d.topic for d in letters],
                "partition": pa.array([d.partition for d in letters], pa.int32()),
                "offset": pa.array([d.offset for d in letters], pa.int64()),
            }
        ),
    )
    # A replay refuses the same events again; keep the first sighting.
    con.execute("INSERT OR IGNORE INTO rejected_seqs SELECT * FROM _r")
    con.unregister("_r")
    merged = dict(mirror)
    added: dict[str, set[int]] = {}
    for prov, s in firsts:
        added.setdefault(prov, set()).add(s)
    for prov, new in added.items():
        merged[prov] = merged.get(prov, frozenset()) | new
    return MappingProxyType(merged)


def merge_heartbeats(
    gate: HeartbeatGate,
    mirror: Mapping[str, HeartbeatState],
    beats: Sequence[HeartbeatMsg],
    now: datetime,
) -> tuple[Mapping[str, HeartbeatState], list[Heartbeat], Counter[tuple[str, str]]]:
    """The mirror with the heartbeats the gate takes; those taken, in order; the refused ones
    counted by (province, reason code)."""
    merged = dict(mirror)
    taken: list[Heartbeat] = []
    refused: Counter[tuple[str, str]] = Counter()
    for h in beats:
        hb = h.heartbeat
        why = gate.admit(hb, merged.get(hb.province), now)
        if why is not None:
            refused[(hb.province, why)] += 1
            continue
        merged[hb.province] = HeartbeatState(hb, now)
        taken.append(hb)
    return MappingProxyType(merged), taken, refused


def write_heartbeats(con: duckdb.DuckDBPyConnection, states: Mapping[str, HeartbeatState]) -> None:
    """Store these provinces' last heartbeats taken (the gate already judged them newer)."""
    if not states:
        return
    hbs = [st.heartbeat for st in states.values()]
    con.register(
        "_hb",
        pa.table(
            {
                "province": [h.province for h in hbs],
                "committed_seq": pa.array([h.committed_seq for h in hbs], pa.int64()),
                "published_seq": pa.array([h.published_seq for h in hbs], pa.int64()),
                "outbox_backlog": pa.array([h.outbox_backlog for h in hbs], pa.int64()),
                "oldest_unpublished_at": pa.array([h.oldest_unpublished_at for h in hbs], TS),
                "sent_at": pa.array([h.sent_at for h in hbs], TS),
                "received_at": pa.array([st.received_at for st in states.values()], TS),
            }
        ),
    )
    con.execute(
        "INSERT INTO heartbeats SELECT * FROM _hb ON CONFLICT (province) DO UPDATE SET"
        " committed_seq = excluded.committed_seq, published_seq = excluded.published_seq,"
        " outbox_backlog = excluded.outbox_backlog,"
        " oldest_unpublished_at = excluded.oldest_unpublished_at,"
        " sent_at = excluded.sent_at, received_at = excluded.received_at"
    )
    con.unregister("_hb")


def write_progress(
    con: duckdb.DuckDBPyConnection,
    mirror: Mapping[str, Progress],
    now: datetime,
    seqs: dict[str, list[int]],
) -> Mapping[str, Progress]:
    """Advance each province's applied-seq frontier; return the new mirror."""
    if not seqs:
        return mirror
    merged = dict(mirror)
    add_p: list[str] = []
    add_s: list[int] = []
    rows_p: list[str] = []
    rows_a: list[int] = []
    rows_m: list[int] = []
    for prov, batch_seqs in seqs.items():
        prev = merged.get(prov, Progress())
        new = advance(prev, batch_seqs)
        if new == prev:
            continue
        merged[prov] = new
        rows_p.append(prov)
        rows_a.append(new.applied_seq)
        rows_m.append(new.max_seq)
        if prev.pending and prev.pending.starts[0] <= new.applied_seq:
            con.execute(
                "DELETE FROM progress_pending WHERE province = ? AND seq <= ?",
                [prov, new.applied_seq],
            )
        # Only the batch's own seqs can be new, so this never walks the pending set.
        for s in sorted(set(batch_seqs)):
            if s > new.applied_seq and s not in prev.pending:
                add_p.append(prov)
                add_s.append(s)
    if rows_p:
        upsert(
            con,
            "progress",
            ("province",),
            pa.table(
                {
                    "province": rows_p,
                    "applied_seq": pa.array(rows_a, pa.int64()),
                    "max_seq": pa.array(rows_m, pa.int64()),
                    "updated_at": pa.array([now] * len(rows_p), TS),
                }
            ),
        )
    if add_p:
        con.register("_pp", pa.table({"province": add_p, "seq": pa.array(add_s, pa.int64())}))
        con.execute("INSERT INTO progress_pending SELECT * FROM _pp")
        con.unregister("_pp")
    return MappingProxyType(merged)


def write_offsets(
    con: duckdb.DuckDBPyConnection,
    mirror: Mapping[tuple[str, int], int],
    offsets: dict[tuple[str, int], int],
) -> Mapping[tuple[str, int], int]:
    """Store the next offset of every partition the batch read."""
    if not offsets:
        return mirror
    upsert(
        con,
        "offsets",
        ("topic", "partition"),
        pa.table(
            {
                "topic": [t for t, _ in offsets],
                "partition": pa.array([p for _, p in offsets], pa.int32()),
                "next_offset": pa.array(list(offsets.values()), pa.int64()),
            }
        ),
    )
    merged = dict(mirror)
    merged.update(offsets)
    return MappingProxyType(merged)
