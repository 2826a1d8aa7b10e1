"""Applying a batch to the serving index: the same decision as the DuckDB store, other writes.

`apply_events` runs inside the caller's SQLite transaction. It reads what the index holds of
the certificates a batch touches, asks the pure `national_hub.store.decide.decide` which
events win (exactly what `national_hub.store.store.Store._apply` asks), and writes the
outcome: winners (upserts that never replace a newer version of the same province), records
moved aside and back for transfers keeping the code, what supersedes what, transfer links,
per-province seq progress and refused seqs. The caller writes the batch's offsets in the
same transaction, so a crash leaves either all of it or none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson
import pyarrow as pa

from national_hub.index.schema import RECORD_COLUMNS
from national_hub.ingest.messages import EVENT_SCHEMA, Batch
from national_hub.store.decide import Decision, EventFacts, Held, Link, Move, Ref, decide
from national_hub.store.progress import Progress, advance

Sqlite = Any  # sqlite3.Connection; Any keeps the cursor protocol loose for mypy

_COLUMNS = ", ".join(RECORD_COLUMNS)
_MARKS = ", ".join("?" * len(RECORD_COLUMNS))
# A record is replaced only by a newer version of its province, or by another province's
# record once store.decide has moved the certificate (apply_moves deletes the old row first).
UPSERT = (
    f"INSERT INTO records ({_COLUMNS}) VALUES ({_MARKS}) ON CONFLICT (cert_no) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in RECORD_COLUMNS if c != "cert_no")
    + " WHERE excluded.province <> records.province"
    " OR excluded.record_version > records.record_version"
)
_PARK = f"INSERT OR REPLACE INTO unshown ({_COLUMNS}) VALUES ({_MARKS})"
_KEYS = "(SELECT value FROM json_each(?))"
_HELD = (
    "SELECT cert_no, province, record_version, status, to_province,"
    f" superseded_by_province, superseded_by_cert_no FROM records WHERE cert_no IN {_KEYS}"
)
_LINKS = (
    "SELECT old_province, old_cert_no, new_province, new_cert_no, confirmed"
    f" FROM transfer_links WHERE old_cert_no IN {_KEYS}"
)
_UNSHOWN = (
    "SELECT cert_no, province, record_version, status, to_province"
    f" FROM unshown WHERE cert_no IN {_KEYS}"
)

# Event columns a records row is made of, besides the envelope.
_EVENT_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "province",
    "seq",
    "type",
    "cert_no",
    "record_version",
    "tf_province",
    "tf_cert_no",
    "tf_to",
    "record",
    "status",
    "name_norm",
    "name_pinyin",
    "category",
    "scopes",
    "org_code",
    "institution_name",
    "site_org_codes",
)


def json_list(values: Sequence[str]) -> str:
    """A list of strings as the JSON array text the index stores and binds (UTF-8 as is)."""
    return orjson.dumps(list(values)).decode()


@dataclass(slots=True)
class Events:
    """A batch's events as Python columns, in consumption order."""

    cols: dict[str, list[Any]]

    @classmethod
    def of(cls, batch: Batch, offsets: Mapping[tuple[str, int], int]) -> tuple[Events, int]:
        """The batch's events at or above the stored offset of their partition, and how many
        were below it (already applied by this index)."""
        ev = (
            pa.Table.from_batches(batch.events, EVENT_SCHEMA)
            if batch.events
            else EVENT_SCHEMA.empty_table()
        )
        cols = {c: ev.column(c).to_pylist() for c in _EVENT_COLUMNS}
        keep = [
            i
            for i, (t, p, o) in enumerate(
                zip(cols["topic"], cols["partition"], cols["offset"], strict=True)
            )
            if o >= offsets.get((t, p), 0)
        ]
        below = ev.num_rows - len(keep)
        if below:
            cols = {c: [v[i] for i in keep] for c, v in cols.items()}
        return cls(cols), below

    def __len__(self) -> int:
        return len(self.cols["cert_no"])

    def touched(self) -> set[str]:
        """Every certificate these events may change: their own and those transfers name."""
        c = self.cols
        return set(c["cert_no"]).union(x for x in c["tf_cert_no"] if x is not None)

    def facts(self) -> list[EventFacts]:
        """What store.decide needs of each event."""
        c = self.cols
        return [
            EventFacts(
                c["cert_no"][i],
                c["province"][i],
                c["record_version"][i],
                c["seq"][i],
                c["type"][i],
                (c["tf_province"][i], c["tf_cert_no"][i])
                if c["tf_cert_no"][i] is not None
                else None,
                c["status"][i],
                c["tf_to"][i],
            )
            for i in range(len(self))
        ]

    def row(self, i: int, synced_at_ms: int, superseded: Ref | None) -> tuple[Any, ...]:
        """The records row (RECORD_COLUMNS) of event i."""
        c = self.cols
        return (
            c["cert_no"][i],
            c["province"][i],
            c["record_version"][i],
            c["seq"][i],
            c["status"][i],
            c["name_norm"][i],
            c["name_pinyin"][i],
            c["category"][i],
            json_list(c["scopes"][i]),
            c["org_code"][i],
            c["institution_name"][i],
            json_list(c["site_org_codes"][i]),
            c["tf_to"][i],
            synced_at_ms,
            superseded[0] if superseded else None,
            superseded[1] if superseded else None,
            c["record"][i],
        )


@dataclass(slots=True)
class HeldState:
    """What the index holds of the certificates a batch touches (store.decide's inputs)."""

    held: dict[str, Held]
    links: dict[Link, bool]
    unshown: dict[str, dict[str, Held]]


def read_held(con: Sqlite, certs: Sequence[str]) -> HeldState:
    """Shown records, transfer links and records kept aside of these cert_nos."""
    state = HeldState({}, {}, {})
    if not certs:
        return state
    keys = json_list(certs)
    for cert, prov, ver, status, to, sup_p, sup_c in con.execute(_HELD, [keys]):
        sup = (sup_p, sup_c) if sup_p is not None else None
        state.held[cert] = Held(prov, ver, status, to, sup)
    for op, oc, np_, nc, confirmed in con.execute(_LINKS, [keys]):
        state.links[((op, oc), (np_, nc))] = bool(confirmed)
    for cert, prov, ver, status, to in con.execute(_UNSHOWN, [keys]):
        state.unshown.setdefault(cert, {})[prov] = Held(prov, ver, status, to)
    return state


def apply_moves(con: Sqlite, moves: Mapping[str, Move]) -> None:
    """Put each moved certificate's shown record aside, and bring back the one to show
    (store.transfers.apply_moves, row for row)."""
    for cert_no, move in moves.items():
        con.execute(
            f"INSERT OR REPLACE INTO unshown ({_COLUMNS})"
            f" SELECT {_COLUMNS} FROM records WHERE cert_no = ?",
            [cert_no],
        )
        con.execute("DELETE FROM records WHERE cert_no = ?", [cert_no])
        key = [cert_no, move.to_province]
        if move.restore:
            con.execute(
                f"INSERT INTO records ({_COLUMNS})"
                f" SELECT {_COLUMNS} FROM unshown WHERE cert_no = ? AND province = ?",
                key,
            )
        con.execute("DELETE FROM unshown WHERE cert_no = ? AND province = ?", key)


def write_links(con: Sqlite, links: Mapping[Link, bool]) -> None:
    """Store new transfer links and changed confirmations."""
    con.executemany(
        "INSERT INTO transfer_links VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (old_province, old_cert_no, new_province, new_cert_no)"
        " DO UPDATE SET confirmed = excluded.confirmed",
        [(o[0], o[1], n[0], n[1], int(ok)) for (o, n), ok in links.items()],
    )


def write_progress(
    con: Sqlite, mirror: Mapping[str, Progress], seqs: Mapping[str, list[int]]
) -> Mapping[str, Progress]:
    """Advance each province's applied-seq frontier (store.progress.advance); the new mirror."""
    if not seqs:
        return mirror
    merged = dict(mirror)
    for prov, batch_seqs in seqs.items():
        prev = merged.get(prov, Progress())
        new = advance(prev, batch_seqs)
        if new == prev:
            continue
        merged[prov] = new
        con.execute(
            "INSERT INTO progress VALUES (?, ?, ?) ON CONFLICT (province) DO UPDATE SET"
            " applied_seq = excluded.applied_seq, max_seq = excluded.max_seq",
            [prov, new.applied_seq, new.max_seq],
        )
        if prev.pending and prev.pending.starts[0] <= new.applied_seq:
            con.execute(
                "DELETE FROM progress_pending WHERE province = ? AND seq <= ?",
                [prov, new.applied_seq],
            )
        con.executemany(
            "INSERT OR IGNORE INTO progress_pending VALUES (?, ?)",
            [(prov, s) for s in sorted(set(batch_seqs)) if s > new.applied_seq],
        )
    return MappingProxyType(merged)


def write_rejected(
    con: Sqlite, mirror: Mapping[str, frozenset[int]], refused: Sequence[tuple[str, int]]
) -> Mapping[str, frozenset[int]]:
    """Remember seqs processed but refused; the new mirror."""
    if not refused:
        return mirror
    con.executemany("INSERT OR IGNORE INTO rejected_seqs VALUES (?, ?)", refused)
    merged = dict(mirror)
    for prov, seq in refused:
        merged[prov] = merged.get(prov, frozenset()) | {seq}
    return MappingProxyType(merged)


def write_offsets(
    con: Sqlite, mirror: Mapping[tuple[str, int], int], offsets: Mapping[tuple[str, int], int]
) -> Mapping[tuple[str, int], int]:
    """Store the next offset of every partition read; an offset never moves back (a replay
    from the DuckDB store's older offsets reads messages this index already holds)."""
    merged = dict(mirror)
    rows = []
    for tp, nxt in offsets.items():
        if nxt > merged.get(tp, -1):
            merged[tp] = nxt
            rows.append((tp[0], tp[1], nxt))
    if not rows:
        return mirror
    con.executemany(
        "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition)"
        " DO UPDATE SET next_offset = excluded.next_offset",
        rows,
    )
    return MappingProxyType(merged)


@dataclass(slots=True)
class Applied:
    """What apply_events decided and the mirrors it leaves (installed after the commit)."""

    decision: Decision
    progress: Mapping[str, Progress]
    rejected: Mapping[str, frozenset[int]]
    # (province, seq) of every refused event, in order.
    refused: list[tuple[str, int]]


def apply_events(
    con: Sqlite,
    events: Events,
    now_ms: int,
    progress: Mapping[str, Progress],
    rejected: Mapping[str, frozenset[int]],
) -> Applied:
    """Decide and write a batch's events, inside the caller's transaction."""
    c = events.cols
    wanted = set(c["cert_no"])
    wanted.update(x for x in c["tf_cert_no"] if x is not None)
    state = read_held(con, sorted(wanted))
    decision = decide(events.facts(), state.held, state.links, state.unshown)

    apply_moves(con, decision.moves)
    con.executemany(
        UPSERT,
        [
            events.row(i, now_ms, decision.superseded.get(cert))
            for cert, i in decision.winners.items()
        ],
    )
    con.executemany(_PARK, [events.row(i, now_ms, None) for i in decision.parked.values()])
    con.executemany(
        "UPDATE records SET superseded_by_province = ?, superseded_by_cert_no = ?"
        " WHERE cert_no = ?",
        [
            (v[0] if v else None, v[1] if v else None, cert)
            for cert, v in decision.superseded.items()
            if cert not in decision.winners
        ],
    )
    write_links(con, decision.links)
    refused = [(c["province"][r.index], c["seq"][r.index]) for r in decision.refused]
    return Applied(
        decision,
        write_progress(con, progress, decision.seqs),
        write_rejected(con, rejected, refused),
        refused,
    )
