"""The hub's DuckDB store: one file, one writer thread applying batches, pooled readers."""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from national_hub.errors import StoreError
from national_hub.ingest import (
    CERT_CONFLICT,
    EVENT_SCHEMA,
    RECORD_FIELDS,
    Batch,
    DeadLetter,
    HeartbeatMsg,
)
from national_hub.tables import RECORDS_DDL
from schemas.events import Heartbeat
from schemas.timestamps import utc_now

log = logging.getLogger(__name__)

# Longest a heartbeats-only batch stays in memory before it is written (see apply_batch).
HEARTBEAT_FLUSH_S = 5.0

_TS = pa.timestamp("us", tz="UTC")
_STR_LIST = pa.list_(pa.string())

# Tables other than `records` (whose DDL is shared with the query side in tables.py).
_DDL = (
    RECORDS_DDL,
    """
    CREATE TABLE IF NOT EXISTS history (
        apply_id       BIGINT NOT NULL,
        cert_no        VARCHAR NOT NULL,
        province       VARCHAR NOT NULL,
        seq            BIGINT NOT NULL,
        type           VARCHAR NOT NULL,
        record_version INTEGER NOT NULL,
        committed_at   TIMESTAMPTZ NOT NULL,
        applied_at     TIMESTAMPTZ NOT NULL,
        event_id       VARCHAR NOT NULL
    )
    """,
    # Without it a history lookup scans every event ever applied (~80 ms at 6M rows); with it
    # ~1 ms, for ~2 us more per applied event.
    "CREATE INDEX IF NOT EXISTS history_cert_no ON history (cert_no)",
    """
    CREATE TABLE IF NOT EXISTS offsets (
        topic       VARCHAR NOT NULL,
        partition   INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (topic, partition)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS dead_letters (
        topic       VARCHAR NOT NULL,
        partition   INTEGER NOT NULL,
        "offset"    BIGINT NOT NULL,
        key         VARCHAR,
        reason      VARCHAR NOT NULL,
        raw         BLOB NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        province    VARCHAR,
        PRIMARY KEY (topic, partition, "offset")
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS progress (
        province    VARCHAR PRIMARY KEY,
        applied_seq BIGINT NOT NULL,
        max_seq     BIGINT NOT NULL,
        updated_at  TIMESTAMPTZ NOT NULL
    )
    """,
    # Seqs applied above the contiguous frontier, waiting for the gap below them to fill.
    """
    CREATE TABLE IF NOT EXISTS progress_pending (
        province VARCHAR NOT NULL,
        seq      BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS heartbeats (
        province              VARCHAR PRIMARY KEY,
        committed_seq         BIGINT NOT NULL,
        published_seq         BIGINT NOT NULL,
        outbox_backlog        BIGINT NOT NULL,
        oldest_unpublished_at TIMESTAMPTZ,
        sent_at               TIMESTAMPTZ NOT NULL,
        received_at           TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS applied_counts (
        province VARCHAR NOT NULL,
        type     VARCHAR NOT NULL,
        n        BIGINT NOT NULL,
        PRIMARY KEY (province, type)
    )
    """,
    # Seqs the hub processed but refused (cert_conflict): they count towards the frontier, yet a
    # sync token naming one must not read as applied.
    """
    CREATE TABLE IF NOT EXISTS rejected_seqs (
        province  VARCHAR NOT NULL,
        seq       BIGINT NOT NULL,
        reason    VARCHAR NOT NULL,
        topic     VARCHAR NOT NULL,
        partition INTEGER NOT NULL,
        "offset"  BIGINT NOT NULL,
        PRIMARY KEY (province, seq)
    )
    """,
    # old (province, cert_no) -> new one: known from a transfer-in, whichever record came first.
    """
    CREATE TABLE IF NOT EXISTS transfer_links (
        old_province VARCHAR NOT NULL,
        old_cert_no  VARCHAR NOT NULL,
        new_province VARCHAR NOT NULL,
        new_cert_no  VARCHAR NOT NULL,
        linked_at    TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (old_province, old_cert_no)
    )
    """,
)

TABLES = (
    "records",
    "history",
    "offsets",
    "dead_letters",
    "progress",
    "progress_pending",
    "heartbeats",
    "applied_counts",
    "transfer_links",
    "rejected_seqs",
)

# The records table's columns in order: the decoded fields sit between the envelope and the
# JSON, so the batch's Arrow columns line up with RECORDS_DDL.
_RECORD_COLUMNS = (
    "cert_no",
    "province",
    "record_version",
    "seq",
    *RECORD_FIELDS,
    "record",
    "committed_at",
    "synced_at",
    "superseded_by_province",
    "superseded_by_cert_no",
)
_RECORD_SCHEMA = pa.schema(
    [
        ("cert_no", pa.string()),
        ("province", pa.string()),
        ("record_version", pa.int32()),
        ("seq", pa.int64()),
        ("status", pa.string()),
        ("name", pa.string()),
        ("name_norm", pa.string()),
        ("name_pinyin", pa.string()),
        ("gender", pa.string()),
        ("level", pa.string()),
        ("category", pa.string()),
        ("scopes", _STR_LIST),
        ("org_code", pa.string()),
        ("institution_name", pa.string()),
        ("region_code", pa.string()),
        ("site_org_codes", _STR_LIST),
        ("person_ref", pa.string()),
        ("record", pa.string()),
        ("committed_at", _TS),
        ("synced_at", _TS),
        ("superseded_by_province", pa.string()),
        ("superseded_by_cert_no", pa.string()),
    ]
)
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
_LOOKUP_SQL_HEAD = (
    "SELECT rowid, cert_no, record_version, scopes, site_org_codes, "
    + ", ".join(c for g in _GROUPS for c in g)
    + " FROM records WHERE cert_no IN "
)
_LINKS_SQL_HEAD = (
    "SELECT old_province, old_cert_no, new_province, new_cert_no"
    " FROM transfer_links WHERE old_cert_no IN "
)
_KEYS = "(SELECT cert_no FROM _k)"
# Up to this many cert_nos, an apply's lookup goes through the primary-key index.
_INDEX_LOOKUP_MAX = 256
# Up to this many rows, small tables are written by UPDATE/INSERT per key, not an upsert.
_SMALL_UPSERT_MAX = 8
_HISTORY_SCHEMA = pa.schema(
    [
        ("apply_id", pa.int64()),
        ("cert_no", pa.string()),
        ("province", pa.string()),
        ("seq", pa.int64()),
        ("type", pa.string()),
        ("record_version", pa.int32()),
        ("committed_at", _TS),
        ("applied_at", _TS),
        ("event_id", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class SeqRanges:
    """An immutable set of seqs as sorted, disjoint, non-adjacent closed ranges.

    Seqs applied above a gap are nearly always one run, so memory and the per-batch copy grow
    with the number of gaps, not with how many seqs wait behind them.
    """

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    @classmethod
    def of(cls, seqs: Iterable[int]) -> SeqRanges:
        """The set of these seqs."""
        return cls().union(seqs)

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        i = bisect.bisect_right(self.starts, seq) - 1
        return i >= 0 and seq <= self.ends[i]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self.starts, self.ends, strict=True):
            yield from range(lo, hi + 1)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in zip(self.starts, self.ends, strict=True))

    def __bool__(self) -> bool:
        return bool(self.starts)

    def union(self, seqs: Iterable[int]) -> SeqRanges:
        """This set with the seqs added."""
        new = sorted(set(seqs))
        if not new:
            return self
        # Only ranges the new seqs may touch are walked; those below and above are sliced.
        first = max(0, bisect.bisect_right(self.starts, new[0]) - 1)
        last = bisect.bisect_right(self.starts, new[-1] + 1)
        starts: list[int] = []
        ends: list[int] = []

        def put(lo: int, hi: int) -> None:
            if ends and lo <= ends[-1] + 1:
                if hi > ends[-1]:
                    ends[-1] = hi
            else:
                starts.append(lo)
                ends.append(hi)

        i = first
        for s in new:
            while i < last and self.starts[i] <= s:
                put(self.starts[i], self.ends[i])
                i += 1
            put(s, s)
        for j in range(i, last):
            put(self.starts[j], self.ends[j])
        return SeqRanges(
            self.starts[:first] + tuple(starts) + self.starts[last:],
            self.ends[:first] + tuple(ends) + self.ends[last:],
        )

    def drop_first(self) -> SeqRanges:
        """This set without its lowest range."""
        return SeqRanges(self.starts[1:], self.ends[1:])


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the hub has applied one province's seqs: contiguous frontier and the rest."""

    applied_seq: int = 0
    max_seq: int = 0
    pending: SeqRanges = SeqRanges()


@dataclass(frozen=True, slots=True)
class HeartbeatState:
    """The latest valid heartbeat of a province and when the hub received it."""

    heartbeat: Heartbeat
    received_at: datetime


@dataclass(slots=True)
class ApplyResult:
    """What one batch did to the store."""

    events: int = 0
    applied: int = 0
    skipped: int = 0
    dead_letters: int = 0
    heartbeats: int = 0
    applied_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # (province, seconds from committed_at, on the province's clock, to applied)
    latencies: list[tuple[str, float]] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)
    # Every valid heartbeat of the batch, in consumption order (not only each province's last).
    beats: list[Heartbeat] = field(default_factory=list)
    # Per province, committed_at of the batch's seqs at or above the new frontier: what the
    # freshness estimate needs once the frontier reaches them (usually one seq per province).
    commit_times: dict[str, dict[int, datetime]] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(slots=True)
class _Stored:
    """A records row as the writer needs it: where it is and what may change."""

    rid: int
    province: str
    version: int
    scopes: tuple[str, ...]
    sites: tuple[str, ...]
    groups: tuple[tuple[Any, ...], ...]

    @property
    def superseded(self) -> tuple[str, str] | None:
        """The (province, cert_no) that replaced this record, if any."""
        p, c = self.groups[_SUPERSEDED_GROUP]
        return (p, c) if p is not None else None


def _advance(prev: Progress, seqs: Sequence[int]) -> Progress:
    """Fold newly applied seqs into a province's progress; duplicates change nothing.

    Costs the batch's seqs plus the number of gaps, never the number of pending seqs.
    """
    frontier = prev.applied_seq
    above = [s for s in seqs if s > frontier]
    if not above:
        return prev
    pending = prev.pending.union(above)
    top = max(prev.max_seq, max(above))
    # Ranges never touch, so at most the lowest one joins the frontier.
    if pending.starts and pending.starts[0] == frontier + 1:
        frontier = pending.ends[0]
        pending = pending.drop_first()
    return Progress(frontier, top, pending)


def _commit_times(
    ev: pa.Table, progress: Mapping[str, Progress], seqs: Mapping[str, Sequence[int]]
) -> dict[str, dict[int, datetime]]:
    """committed_at of each province's batch seqs at or above its new applied frontier."""
    out: dict[str, dict[int, datetime]] = {}
    if not ev.num_rows:
        return out
    provinces = ev.column("province")
    seq = ev.column("seq")
    for prov in seqs:
        frontier = progress[prov].applied_seq if prov in progress else 0
        # Filtered in Arrow: only these few rows become Python objects, not the whole batch.
        mask = pc.and_(pc.equal(provinces, prov), pc.greater_equal(seq, frontier))
        sub = ev.filter(mask)
        if sub.num_rows:
            out[prov] = dict(
                zip(
                    sub.column("seq").to_pylist(),
                    sub.column("committed_at").to_pylist(),
                    strict=True,
                )
            )
    return out


def _upsert(
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


class Store:
    """DuckDB file holding the national records; the single writer is apply_batch."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, readers: int = 4) -> None:
        self.path = path
        self._con = con
        self._closed = False
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="hub-read")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-write")
        self._w = con.cursor()
        # In-memory mirrors of small tables, swapped (never mutated) after each commit so
        # the event loop can read them without a query or a lock.
        self._offsets: Mapping[tuple[str, int], int] = MappingProxyType({})
        self._progress: Mapping[str, Progress] = MappingProxyType({})
        self._heartbeats: Mapping[str, HeartbeatState] = MappingProxyType({})
        self._rejected: Mapping[str, frozenset[int]] = MappingProxyType({})
        self._next_apply_id = 1
        # Heartbeats (and their offsets) applied in memory only: written with the next
        # transaction, or by flush once HEARTBEAT_FLUSH_S passed (see apply_batch).
        self._unsaved_heartbeats: dict[str, HeartbeatState] = {}
        self._unsaved_offsets: dict[tuple[str, int], int] = {}
        self._unsaved_since: float | None = None
        self._load_state()

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, readers: int = 4, memory_limit: str = "1GB") -> Store:
        """Open (creating if needed) the store file and its tables."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create directory {path.parent}: {exc.strerror}") from None
        try:
            con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise StoreError(
                    f"cannot open {path}: it is in use by another process "
                    f"(is another national-hub running on it?)"
                ) from None
            raise StoreError(f"cannot open {path}: {text}") from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            # Timestamps come back as UTC everywhere, whatever the host's zone.
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            # Fewer, larger checkpoints: catch-up writes far more than 16 MB of WAL a second.
            con.execute("SET GLOBAL checkpoint_threshold = '256MB'")
            # DuckDB would otherwise cache up to 80% of RAM; beyond the limit it evicts.
            con.execute("SET GLOBAL memory_limit = ?", [memory_limit])
            for ddl in _DDL:
                con.execute(ddl)
            return cls(path, con, readers)
        except duckdb.Error as exc:
            con.close()
            raise StoreError(f"cannot initialise {path}: {exc}") from None

    def close(self) -> None:
        """Finish queued work and close the file; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.submit(self._flush_unsaved).result()
        except duckdb.Error:
            log.exception("store: writing the last heartbeats failed")
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._cursors_lock:
            cursors, self._cursors = self._cursors, []
        for cur in cursors:
            cur.close()
        self._w.close()
        self._con.close()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def reset(self) -> None:
        """Drop and recreate every ingest table: the start of a rebuild."""
        con = self._w
        con.begin()
        try:
            for table in TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
            for ddl in _DDL:
                con.execute(ddl)
            con.commit()
        except duckdb.Error:
            con.rollback()
            raise
        con.execute("CHECKPOINT")
        self._load_state()

    def _load_state(self) -> None:
        """Fill the in-memory mirrors from the tables."""
        con = self._w
        self._offsets = MappingProxyType(
            {
                (t, p): o
                for t, p, o in con.execute(
                    "SELECT topic, partition, next_offset FROM offsets"
                ).fetchall()
            }
        )
        pending: dict[str, list[int]] = {}
        for prov, seq in con.execute("SELECT province, seq FROM progress_pending").fetchall():
            pending.setdefault(prov, []).append(seq)
        self._progress = MappingProxyType(
            {
                prov: Progress(applied, top, SeqRanges.of(pending.get(prov, ())))
                for prov, applied, top in con.execute(
                    "SELECT province, applied_seq, max_seq FROM progress"
                ).fetchall()
            }
        )
        hbs: dict[str, HeartbeatState] = {}
        for row in (
            con.sql(
                "SELECT province, committed_seq, published_seq, outbox_backlog,"
                " oldest_unpublished_at, sent_at, received_at FROM heartbeats"
            )
            .to_arrow_table()
            .to_pylist()
        ):
            hb = Heartbeat(
                province=row["province"],
                committed_seq=row["committed_seq"],
                published_seq=row["published_seq"],
                outbox_backlog=row["outbox_backlog"],
                oldest_unpublished_at=row["oldest_unpublished_at"],
                sent_at=row["sent_at"],
            )
            hbs[row["province"]] = HeartbeatState(hb, row["received_at"])
        self._heartbeats = MappingProxyType(hbs)
        rejected: dict[str, set[int]] = {}
        for prov, seq in con.execute("SELECT province, seq FROM rejected_seqs").fetchall():
            rejected.setdefault(prov, set()).add(seq)
        self._rejected = MappingProxyType({p: frozenset(s) for p, s in rejected.items()})
        top = con.execute("SELECT coalesce(max(apply_id), 0) FROM history").fetchone()
        self._next_apply_id = (top[0] if top else 0) + 1

    # ---- in-memory state -------------------------------------------------------------------

    def offsets(self) -> Mapping[tuple[str, int], int]:
        """Stored next offset per (topic, partition)."""
        return self._offsets

    def progress(self) -> Mapping[str, Progress]:
        """Applied-seq progress per province."""
        return self._progress

    def applied_seq(self, province: str) -> int:
        """The province's contiguous applied seq (0 when nothing applied)."""
        p = self._progress.get(province)
        return p.applied_seq if p else 0

    def is_seq_applied(self, province: str, seq: int) -> bool:
        """Whether the hub has processed the province's event with this seq (or refused it:
        see is_seq_rejected)."""
        p = self._progress.get(province)
        return p is not None and (seq <= p.applied_seq or seq in p.pending)

    def is_seq_rejected(self, province: str, seq: int) -> bool:
        """Whether the hub processed the province's event with this seq but refused it."""
        return seq in self._rejected.get(province, ())

    def heartbeats(self) -> Mapping[str, HeartbeatState]:
        """Latest valid heartbeat per province."""
        return self._heartbeats

    # ---- reads -----------------------------------------------------------------------------

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """This reader thread's own cursor."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    def fetch_sync(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[dict[str, Any]]:
        """Run a query on this thread's cursor; rows as dicts (call from a reader thread)."""
        cur = self._reader()
        # Plain tuples, not Arrow: for the few rows a request reads this is half the time
        # (TIMESTAMPTZ values come back through pytz, in UTC).
        cur.execute(sql, params if params else None)
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    async def fetch(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[dict[str, Any]]:
        """Run a read query off the event loop; rows as dicts."""
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, self.fetch_sync, sql, params)
        except duckdb.Error:
            # The detail (DuckDB's text, the SQL) is for the log; clients learn only that it failed.
            log.exception("store query failed: %s", sql)
            raise StoreError("the hub's store could not answer; its log has the details") from None

    async def fetch_one(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> dict[str, Any] | None:
        """Like fetch, returning the first row or None."""
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def record_counts(self) -> dict[tuple[str, str], int]:
        """Records per (province, status)."""
        rows = await self.fetch("SELECT province, status, count(*) AS n FROM records GROUP BY ALL")
        return {(r["province"], r["status"]): r["n"] for r in rows}

    # ---- writes ----------------------------------------------------------------------------

    async def apply(self, batch: Batch) -> ApplyResult:
        """Apply a batch on the writer thread."""
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self.apply_batch, batch)

    def apply_batch(self, batch: Batch) -> ApplyResult:
        """Apply one batch in one transaction, offsets included; call on the writer thread.

        A batch of nothing but heartbeats is applied in memory and written later: each
        province sends one a second, and a transaction per heartbeat kept the single writer
        busy while events queued behind it. Losing them in a crash is harmless: their stored
        offset is older, so they are read again, and an older heartbeat never replaces a
        newer one.
        """
        if not batch.events and not batch.dead:
            return self._apply_heartbeats(batch)
        return self._transaction(batch)

    def _apply_heartbeats(self, batch: Batch) -> ApplyResult:
        """Apply a heartbeats-only batch to the mirrors; write it once it is old enough."""
        t0 = time.perf_counter()
        now = utc_now()
        merged = self._merge_heartbeats(self._heartbeats, batch.heartbeats, now)
        for h in batch.heartbeats:
            state = merged[h.heartbeat.province]
            self._unsaved_heartbeats[h.heartbeat.province] = state
        self._unsaved_offsets.update(batch.offsets)
        offsets = dict(self._offsets)
        offsets.update(batch.offsets)
        self._offsets = MappingProxyType(offsets)
        self._heartbeats = merged
        if self._unsaved_since is None:
            self._unsaved_since = time.monotonic()
        elif time.monotonic() - self._unsaved_since >= HEARTBEAT_FLUSH_S:
            self._flush_unsaved()
        result = ApplyResult(
            heartbeats=len(batch.heartbeats),
            offsets=dict(batch.offsets),
            beats=[h.heartbeat for h in batch.heartbeats],
        )
        result.seconds = time.perf_counter() - t0
        return result

    def _flush_unsaved(self) -> None:
        """Write heartbeats applied in memory only (writer thread)."""
        if self._unsaved_since is not None:
            self._transaction(Batch())

    def _transaction(self, batch: Batch) -> ApplyResult:
        """Apply a batch, and any heartbeats held in memory, in one transaction."""
        t0 = time.perf_counter()
        con = self._w
        con.begin()
        try:
            result, commit_state = self._apply(con, batch)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        self._unsaved_heartbeats.clear()
        self._unsaved_offsets.clear()
        self._unsaved_since = None
        # Only now, with the transaction durable, do readers of the mirrors see the change.
        (
            self._offsets,
            self._progress,
            self._heartbeats,
            self._rejected,
            self._next_apply_id,
        ) = commit_state
        result.seconds = time.perf_counter() - t0
        return result

    def _lookup(
        self, con: duckdb.DuckDBPyConnection, certs: list[str]
    ) -> tuple[dict[str, _Stored], dict[tuple[str, str], tuple[str, str]]]:
        """Current rows and known transfer links for these cert_nos, in two set-based reads."""
        stored: dict[str, _Stored] = {}
        links: dict[tuple[str, str], tuple[str, str]] = {}
        if not certs:
            return stored, links
        # A short list of constants is looked up in the primary-key index; a join with a
        # registered table scans all records, which only pays off for catch-up batches.
        small = len(certs) <= _INDEX_LOOKUP_MAX
        if small:
            marks = ", ".join("?" * len(certs))
            record_rows = con.execute(_LOOKUP_SQL_HEAD + f"({marks})", certs).fetchall()
            link_rows = con.execute(_LINKS_SQL_HEAD + f"({marks})", certs).fetchall()
        else:
            con.register("_k", pa.table({"cert_no": pa.array(certs, pa.string())}))
            try:
                record_rows = con.execute(_LOOKUP_SQL_HEAD + _KEYS).fetchall()
                link_rows = con.execute(_LINKS_SQL_HEAD + _KEYS).fetchall()
            finally:
                con.unregister("_k")
        for row in record_rows:
            rid, cert, ver, scopes, sites = row[:5]
            groups: list[tuple[Any, ...]] = []
            i = 5
            for g in _GROUPS:
                groups.append(tuple(row[i : i + len(g)]))
                i += len(g)
            stored[cert] = _Stored(
                rid, groups[3][1], ver, tuple(scopes), tuple(sites), tuple(groups)
            )
        for op, oc, np_, nc in link_rows:
            links[(op, oc)] = (np_, nc)
        return stored, links

    def _apply(
        self, con: duckdb.DuckDBPyConnection, batch: Batch
    ) -> tuple[
        ApplyResult,
        tuple[
            Mapping[tuple[str, int], int],
            Mapping[str, Progress],
            Mapping[str, HeartbeatState],
            Mapping[str, frozenset[int]],
            int,
        ],
    ]:
        """The body of apply_batch, inside its transaction."""
        now = utc_now()
        result = ApplyResult()
        dead: list[DeadLetter] = []
        rejected: Counter[tuple[str, str]] = Counter()
        for d in batch.dead:
            rejected[(d.province or "unknown", d.code)] += 1
            # Bad heartbeats arrive every second from a misconfigured node; they are counted
            # and logged, not kept, so they cannot bury the real dead letters.
            if not d.is_heartbeat:
                dead.append(d)
        latest_hb: dict[str, Heartbeat] = {}
        for h in batch.heartbeats:
            hb = h.heartbeat
            prev_hb = latest_hb.get(hb.province)
            if prev_hb is None or hb.sent_at >= prev_hb.sent_at:
                latest_hb[hb.province] = hb
        result.heartbeats = len(batch.heartbeats)

        ev = (
            pa.Table.from_batches(batch.events, EVENT_SCHEMA)
            if batch.events
            else EVENT_SCHEMA.empty_table()
        )
        n = ev.num_rows
        result.events = n
        certs = ev.column("cert_no").to_pylist()
        provinces = ev.column("province").to_pylist()
        versions = ev.column("record_version").to_pylist()
        seq_col = ev.column("seq").to_pylist()
        types = ev.column("type").to_pylist()
        tf_p = ev.column("tf_province").to_pylist()
        tf_c = ev.column("tf_cert_no").to_pylist()

        wanted = set(certs)
        wanted.update(c for c in tf_c if c is not None)
        stored, links = self._lookup(con, sorted(wanted))

        # Decide event by event, in consumption order, which ones are newer than what the
        # hub holds; only those reach history, and only each cert's last one reaches records.
        state: dict[str, tuple[str, int]] = {c: (s.province, s.version) for c, s in stored.items()}
        winners: dict[str, int] = {}
        new_links: dict[tuple[str, str], tuple[str, str]] = {}
        hist: list[int] = []
        seqs: dict[str, list[int]] = {}
        refused: list[DeadLetter] = []
        refused_seqs: list[int] = []
        applied_counts: Counter[tuple[str, str]] = Counter()
        for i in range(n):
            cert = certs[i]
            province = provinces[i]
            version = versions[i]
            seqs.setdefault(province, []).append(seq_col[i])
            cur = state.get(cert)
            tf = (tf_p[i], tf_c[i]) if tf_c[i] is not None else None
            if cur is None or (cur[0] == province and version > cur[1]):
                pass
            elif cur[0] == province:
                result.skipped += 1  # a duplicate or a replay: already applied
                continue
            elif tf == (cur[0], cert):
                pass  # transfer-in that kept the certificate code: the new province takes over
            elif (new_links.get((province, cert)) or links.get((province, cert))) == (
                cur[0],
                cert,
            ):
                result.skipped += 1  # the old province's events after a same-code transfer
                continue
            else:
                # Processed (its seq still counts towards the frontier) but refused: kept as
                # a dead letter and as a rejected seq, so its sync token never reads applied.
                rejected[(province, CERT_CONFLICT)] += 1
                row = ev.slice(i, 1).to_pylist()[0]
                letter = DeadLetter(
                    topic=row["topic"],
                    partition=row["partition"],
                    offset=row["offset"],
                    key=row["key"],
                    code=CERT_CONFLICT,
                    detail=f"cert_no {cert} is held by province {cur[0]}, and this "
                    f"event is not a transfer from it",
                    raw=batch.raws[i] if i < len(batch.raws) else b"",
                    province=province,
                )
                dead.append(letter)
                refused.append(letter)
                refused_seqs.append(seq_col[i])
                continue
            state[cert] = (province, version)
            winners[cert] = i
            hist.append(i)
            applied_counts[(province, types[i])] += 1
            if tf is not None:
                new_links[tf] = (province, cert)

        all_links = {**links, **new_links}
        self._write_records(con, now, ev, winners, stored, all_links, new_links)
        next_apply_id, latencies = self._write_history(con, now, ev, hist)
        if new_links:
            self._write_links(con, now, new_links)
        if dead:
            self._write_dead_letters(con, now, dead)
        heartbeats = self._write_heartbeats(con, now, latest_hb, batch.heartbeats)
        progress = self._write_progress(con, now, seqs)
        rejected_seqs = self._write_rejected_seqs(con, refused, refused_seqs)
        if applied_counts:
            _upsert(
                con,
                "applied_counts",
                ("province", "type"),
                pa.table(
                    {
                        "province": [p for p, _ in applied_counts],
                        "type": [t for _, t in applied_counts],
                        "n": pa.array(list(applied_counts.values()), pa.int64()),
                    }
                ),
                add=True,
            )
        offsets = self._write_offsets(con, {**self._unsaved_offsets, **batch.offsets})

        result.applied = len(hist)
        result.dead_letters = len(dead)
        result.applied_counts = dict(applied_counts)
        result.rejected_counts = dict(rejected)
        result.latencies = latencies
        result.offsets = dict(batch.offsets)
        result.progress = {p: progress[p].applied_seq for p in seqs}
        result.beats = [h.heartbeat for h in batch.heartbeats]
        result.commit_times = _commit_times(ev, progress, seqs)
        return result, (offsets, progress, heartbeats, rejected_seqs, next_apply_id)

    def _write_records(
        self,
        con: duckdb.DuckDBPyConnection,
        now: datetime,
        ev: pa.Table,
        winners: dict[str, int],
        stored: dict[str, _Stored],
        links: dict[tuple[str, str], tuple[str, str]],
        new_links: dict[tuple[str, str], tuple[str, str]],
    ) -> None:
        """Insert new records, update changed ones in place, rewrite the rest."""
        changed: list[tuple[list[int], list[int]]] = [([], []) for _ in _GROUPS]
        sup_only: list[tuple[int, str, str]] = []
        # Old records that a transfer in this batch supersedes, and that are not rewritten
        # below anyway: only their two link columns change.
        for (op, oc), (np_, nc) in new_links.items():
            prev = stored.get(oc)
            if prev is None or prev.province != op or prev.superseded == (np_, nc):
                continue
            w = winners.get(oc)
            if w is not None and ev.column("province")[w].as_py() == op:
                continue
            sup_only.append((prev.rid, np_, nc))
        if sup_only:
            con.register(
                "_s",
                pa.table(
                    {
                        "rid": pa.array([r for r, _, _ in sup_only], pa.int64()),
                        "p": [p for _, p, _ in sup_only],
                        "c": [c for _, _, c in sup_only],
                    }
                ),
            )
            con.execute(
                "UPDATE records SET superseded_by_province = s.p, superseded_by_cert_no = s.c"
                " FROM _s s WHERE records.rowid = s.rid"
            )
            con.unregister("_s")
        if not winners:
            return

        wt = ev.take(pa.array(list(winners.values()), pa.int64()))
        m = wt.num_rows
        w_certs = wt.column("cert_no").to_pylist()
        w_prov = wt.column("province").to_pylist()
        sups = [links.get((p, c)) for p, c in zip(w_prov, w_certs, strict=True)]
        rec = pa.table(
            [
                *(wt.column(c) for c in ("cert_no", "province", "record_version", "seq")),
                *(wt.column(c) for c in RECORD_FIELDS),
                wt.column("record"),
                wt.column("committed_at"),
                pa.repeat(pa.scalar(now, _TS), m),
                pa.array([s[0] if s else None for s in sups], pa.string()),
                pa.array([s[1] if s else None for s in sups], pa.string()),
            ],
            schema=_RECORD_SCHEMA,
        )

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
            con.execute(f"INSERT INTO records SELECT {', '.join(_RECORD_COLUMNS)} FROM _ins")
            con.unregister("_ins")

    def _write_history(
        self, con: duckdb.DuckDBPyConnection, now: datetime, ev: pa.Table, hist: list[int]
    ) -> tuple[int, list[tuple[str, float]]]:
        """Append applied events to history; return the next apply_id and latencies."""
        first = self._next_apply_id
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
                pa.repeat(pa.scalar(now, _TS), n),
                h.column("event_id"),
            ],
            schema=_HISTORY_SCHEMA,
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

    def _write_links(
        self,
        con: duckdb.DuckDBPyConnection,
        now: datetime,
        new_links: dict[tuple[str, str], tuple[str, str]],
    ) -> None:
        """Remember transfer links, whichever side's record arrives later."""
        con.register(
            "_l",
            pa.table(
                {
                    "old_province": [k[0] for k in new_links],
                    "old_cert_no": [k[1] for k in new_links],
                    "new_province": [v[0] for v in new_links.values()],
                    "new_cert_no": [v[1] for v in new_links.values()],
                    "linked_at": pa.array([now] * len(new_links), _TS),
                }
            ),
        )
        con.execute(
            "INSERT INTO transfer_links SELECT * FROM _l ON CONFLICT (old_province, old_cert_no)"
            " DO UPDATE SET new_province = excluded.new_province,"
            " new_cert_no = excluded.new_cert_no, linked_at = excluded.linked_at"
        )
        con.unregister("_l")

    def _write_dead_letters(
        self, con: duckdb.DuckDBPyConnection, now: datetime, dead: list[DeadLetter]
    ) -> None:
        """Keep refused messages with their bytes and reasons."""
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
                    "received_at": pa.array([now] * len(dead), _TS),
                    "province": pa.array([d.province for d in dead], pa.string()),
                }
            ),
        )
        # A replay meets the same bad messages again; keep the first sighting.
        con.execute("INSERT OR IGNORE INTO dead_letters SELECT * FROM _d")
        con.unregister("_d")

    def _write_rejected_seqs(
        self, con: duckdb.DuckDBPyConnection, letters: list[DeadLetter], seqs: list[int]
    ) -> Mapping[str, frozenset[int]]:
        """Remember the seqs processed but refused; return the new mirror."""
        if not letters:
            return self._rejected
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
        merged = dict(self._rejected)
        added: dict[str, set[int]] = {}
        for prov, s in firsts:
            added.setdefault(prov, set()).add(s)
        for prov, new in added.items():
            merged[prov] = merged.get(prov, frozenset()) | new
        return MappingProxyType(merged)

    @staticmethod
    def _merge_heartbeats(
        mirror: Mapping[str, HeartbeatState], beats: Sequence[HeartbeatMsg], now: datetime
    ) -> Mapping[str, HeartbeatState]:
        """The mirror with each province's newest heartbeat of beats taken in."""
        merged = dict(mirror)
        for h in beats:
            hb = h.heartbeat
            prev = merged.get(hb.province)
            if prev is None or hb.sent_at >= prev.heartbeat.sent_at:
                merged[hb.province] = HeartbeatState(hb, now)
        return MappingProxyType(merged)

    def _write_heartbeats(
        self,
        con: duckdb.DuckDBPyConnection,
        now: datetime,
        latest: dict[str, Heartbeat],
        beats: Sequence[HeartbeatMsg],
    ) -> Mapping[str, HeartbeatState]:
        """Keep each province's newest heartbeat (and those held in memory); the new mirror."""
        merged = self._merge_heartbeats(self._heartbeats, beats, now)
        states = dict(self._unsaved_heartbeats)
        states.update((p, merged[p]) for p in latest)
        if not states:
            return self._heartbeats
        hbs = [st.heartbeat for st in states.values()]
        con.register(
            "_hb",
            pa.table(
                {
                    "province": [h.province for h in hbs],
                    "committed_seq": pa.array([h.committed_seq for h in hbs], pa.int64()),
                    "published_seq": pa.array([h.published_seq for h in hbs], pa.int64()),
                    "outbox_backlog": pa.array([h.outbox_backlog for h in hbs], pa.int64()),
                    "oldest_unpublished_at": pa.array([h.oldest_unpublished_at for h in hbs], _TS),
                    "sent_at": pa.array([h.sent_at for h in hbs], _TS),
                    "received_at": pa.array([st.received_at for st in states.values()], _TS),
                }
            ),
        )
        con.execute(
            "INSERT INTO heartbeats SELECT * FROM _hb ON CONFLICT (province) DO UPDATE SET"
            " committed_seq = excluded.committed_seq, published_seq = excluded.published_seq,"
            " outbox_backlog = excluded.outbox_backlog,"
            " oldest_unpublished_at = excluded.oldest_unpublished_at,"
            " sent_at = excluded.sent_at, received_at = excluded.received_at"
            " WHERE excluded.sent_at >= heartbeats.sent_at"
        )
        con.unregister("_hb")
        return merged

    def _write_progress(
        self, con: duckdb.DuckDBPyConnection, now: datetime, seqs: dict[str, list[int]]
    ) -> Mapping[str, Progress]:
        """Advance each province's applied-seq frontier; return the new mirror."""
        if not seqs:
            return self._progress
        merged = dict(self._progress)
        add_p: list[str] = []
        add_s: list[int] = []
        rows_p: list[str] = []
        rows_a: list[int] = []
        rows_m: list[int] = []
        for prov, batch_seqs in seqs.items():
            prev = merged.get(prov, Progress())
            new = _advance(prev, batch_seqs)
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
            _upsert(
                con,
                "progress",
                ("province",),
                pa.table(
                    {
                        "province": rows_p,
                        "applied_seq": pa.array(rows_a, pa.int64()),
                        "max_seq": pa.array(rows_m, pa.int64()),
                        "updated_at": pa.array([now] * len(rows_p), _TS),
                    }
                ),
            )
        if add_p:
            con.register("_pp", pa.table({"province": add_p, "seq": pa.array(add_s, pa.int64())}))
            con.execute("INSERT INTO progress_pending SELECT * FROM _pp")
            con.unregister("_pp")
        return MappingProxyType(merged)

    def _write_offsets(
        self, con: duckdb.DuckDBPyConnection, offsets: dict[tuple[str, int], int]
    ) -> Mapping[tuple[str, int], int]:
        """Store the next offset of every partition the batch read."""
        if not offsets:
            return self._offsets
        _upsert(
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
        merged = dict(self._offsets)
        merged.update(offsets)
        return MappingProxyType(merged)
