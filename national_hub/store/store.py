"""The Store: one DuckDB file, one writer thread applying batches, pooled readers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from national_hub.errors import StoreError
from national_hub.ingest.messages import (
    EVENT_SCHEMA,
    Batch,
    DeadLetter,
    RejectReason,
)
from national_hub.readcache import ReadCache
from national_hub.sinkthreads import SinkThreads
from national_hub.store import reads
from national_hub.store.decide import EventFacts, decide
from national_hub.store.export import BATCH_ROWS, ServingExport, open_export
from national_hub.store.heartbeats import HeartbeatGate
from national_hub.store.progress import (
    ApplyResult,
    HeartbeatState,
    Progress,
    SeqRanges,
    commit_times,
)
from national_hub.store.schema import DDL, META_DDL, SCHEMA_VERSION, TABLES
from national_hub.store.transfers import (
    apply_moves,
    write_links,
    write_superseded,
    write_unshown,
)
from national_hub.store.writes import (
    merge_heartbeats,
    read_current,
    upsert,
    write_dead_letters,
    write_heartbeats,
    write_history,
    write_offsets,
    write_progress,
    write_records,
    write_rejected_seqs,
)
from schemas.events import Heartbeat
from schemas.timestamps import utc_now

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bytes nobody signed are kept (as a prefix and a hash, for ops) up to this many; beyond, a
# flood of them is only counted (regsync_hub_unauthenticated_messages_total) and logged.
UNAUTHENTICATED_KEPT = 10_000


def _prepare(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Create the tables; a file of another layout is emptied first (ingest then replays)."""
    con.execute(META_DDL)
    row = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'offsets'"
        ).fetchone()
        if found and found[0]:
            log.warning(
                "store: %s was written by a hub with another table layout (%s, now %s); "
                "rebuilding it from the province topics",
                path,
                row[0] if row else "unversioned",
                SCHEMA_VERSION,
            )
            for table in TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(
            "INSERT OR REPLACE INTO store_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    for ddl in DDL:
        con.execute(ddl)


class Store:
    """DuckDB file holding the national records; the single writer is apply_batch."""

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        readers: int = 4,
        heartbeat_flush_s: float = 5.0,
        history_cache: int = 0,
    ) -> None:
        self.path = path
        self._con = con
        # Recent histories (GET .../history), dropped by each commit that adds to them.
        self.history_cache: ReadCache[str, list[dict[str, Any]]] = ReadCache(history_cache)
        # Longest a heartbeats-only batch stays in memory before it is written (apply_batch).
        self._heartbeat_flush_s = heartbeat_flush_s
        self._closed = False
        self._threads: SinkThreads[duckdb.DuckDBPyConnection] = SinkThreads(
            "hub", readers, con.cursor
        )
        self._readers = self._threads.readers
        self._writer = self._threads.writer
        self._w = con.cursor()
        # In-memory mirrors of small tables, swapped (never mutated) after each commit so
        # the event loop can read them without a query or a lock.
        self._offsets: Mapping[tuple[str, int], int] = MappingProxyType({})
        self._progress: Mapping[str, Progress] = MappingProxyType({})
        self._heartbeats: Mapping[str, HeartbeatState] = MappingProxyType({})
        self._rejected: Mapping[str, frozenset[int]] = MappingProxyType({})
        self._next_apply_id = 1
        self._unauthenticated_kept = 0
        # Heartbeats (and their offsets) applied in memory only: written with the next
        # transaction, or by flush once heartbeat_flush_s passed (see apply_batch).
        self._unsaved_heartbeats: dict[str, HeartbeatState] = {}
        self._unsaved_offsets: dict[tuple[str, int], int] = {}
        self._unsaved_since: float | None = None
        # Which heartbeats are taken (writer thread only): newer ones, none of the far future.
        self._gate = HeartbeatGate()
        self._load_state()

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        readers: int = 4,
        memory_limit: str = "1GB",
        heartbeat_flush_s: float = 5.0,
        history_cache: int = 0,
    ) -> Store:
        """Open (creating if needed) the store file and its tables.

        memory_limit and heartbeat_flush_s: HubSettings.tuning.store (these defaults are its).
        """
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
            _prepare(con, path)
            return cls(path, con, readers, heartbeat_flush_s, history_cache)
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
        self._threads.shutdown()
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
            _prepare(con, self.path)
            con.commit()
        except duckdb.Error:
            con.rollback()
            raise
        con.execute("CHECKPOINT")
        self.history_cache.clear()
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
        kept = con.execute("SELECT count(*) FROM dead_letters WHERE NOT authenticated").fetchone()
        self._unauthenticated_kept = kept[0] if kept else 0

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
        return self._threads.reader()

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

    async def history(self, cert_no: str) -> list[dict[str, Any]]:
        """The applied events of a certificate, oldest first (reads.history), cached until a
        commit adds to them. Callers must not change the answer."""
        rows = self.history_cache.get(cert_no)
        if rows is not None:
            return rows
        generation = self.history_cache.generation
        rows = await reads.history(self, cert_no)
        if rows:
            self.history_cache.put(cert_no, rows, generation)
        return rows

    async def record(self, cert_no: str) -> dict[str, Any] | None:
        """The shown record of a certificate (reads.RECORD_COLUMNS), or None: a RecordSource."""
        return await reads.record(self, cert_no)

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

    def export_serving(self, batch_rows: int = BATCH_ROWS) -> AbstractContextManager[ServingExport]:
        """What a new serving index is filled from, read from one snapshot on a cursor of its
        own (store.export): a context manager; blocking, so use it from a thread."""
        if self._closed:
            raise StoreError("the store is closed")
        return open_export(self._con, batch_rows)

    def on_writer(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Run fn(writer connection) on the writer thread once the heartbeats and offsets held
        in memory are written: no apply runs meanwhile, so fn sees one committed state whose
        offsets are its own (a snapshot, national_hub.snapshot)."""
        if self._closed:
            raise StoreError("the store is closed")

        def run() -> T:
            self._flush_unsaved()
            return fn(self._w)

        return self._writer.submit(run)

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
        merged, taken, refused = merge_heartbeats(
            self._gate, self._heartbeats, batch.heartbeats, now
        )
        for hb in taken:
            self._unsaved_heartbeats[hb.province] = merged[hb.province]
        self._unsaved_offsets.update(batch.offsets)
        offsets = dict(self._offsets)
        offsets.update(batch.offsets)
        self._offsets = MappingProxyType(offsets)
        self._heartbeats = merged
        if self._unsaved_since is None:
            self._unsaved_since = time.monotonic()
        elif time.monotonic() - self._unsaved_since >= self._heartbeat_flush_s:
            self._flush_unsaved()
        result = ApplyResult(
            heartbeats=len(batch.heartbeats),
            offsets=dict(batch.offsets),
            beats=taken,
            rejected_counts=dict(refused),
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
            self.history_cache.changing(batch.cert_nos())
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            self.history_cache.changed()
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
            self._unauthenticated_kept,
        ) = commit_state
        result.seconds = time.perf_counter() - t0
        return result

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
            int,
        ],
    ]:
        """The body of apply_batch, inside its transaction."""
        now = utc_now()
        result = ApplyResult()
        dead: list[DeadLetter] = []
        rejected: Counter[tuple[str, str]] = Counter()
        unauthenticated: Counter[tuple[str, str]] = Counter()
        kept = self._unauthenticated_kept
        for d in batch.dead:
            if not d.authenticated:
                # Anyone's bytes: counted apart from the provinces', kept only up to a bound.
                unauthenticated[(d.topic, d.code)] += 1
                if d.is_heartbeat or kept >= UNAUTHENTICATED_KEPT:
                    continue
                kept += 1
            else:
                rejected[(d.province or "unknown", d.code)] += 1
            # Bad heartbeats arrive every second from a misconfigured node; they are counted
            # and logged, not kept, so they cannot bury the real dead letters.
            if not d.is_heartbeat:
                dead.append(d)
        heartbeats, beats, refused_beats = merge_heartbeats(
            self._gate, self._heartbeats, batch.heartbeats, now
        )
        rejected.update(refused_beats)
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
        statuses = ev.column("status").to_pylist()
        tf_to = ev.column("tf_to").to_pylist()

        wanted = set(certs)
        wanted.update(c for c in tf_c if c is not None)
        current = read_current(con, sorted(wanted))
        stored = current.stored

        facts = [
            EventFacts(
                certs[i],
                provinces[i],
                versions[i],
                seq_col[i],
                types[i],
                (tf_p[i], tf_c[i]) if tf_c[i] is not None else None,
                statuses[i],
                tf_to[i],
            )
            for i in range(n)
        ]
        decision = decide(
            facts, {c: s.held() for c, s in stored.items()}, current.links, current.unshown
        )
        result.skipped = decision.skipped
        winners, hist = decision.winners, decision.applied
        seqs, applied_counts = decision.seqs, decision.applied_counts
        refused: list[DeadLetter] = []
        refused_seqs: list[int] = []
        for r in decision.refused:
            # Kept as a dead letter and as a rejected seq, so its sync token never reads applied.
            rejected[(provinces[r.index], RejectReason.CERT_CONFLICT)] += 1
            row = ev.slice(r.index, 1).to_pylist()[0]
            letter = DeadLetter(
                topic=row["topic"],
                partition=row["partition"],
                offset=row["offset"],
                key=row["key"],
                code=RejectReason.CERT_CONFLICT,
                detail=r.detail(certs[r.index]),
                raw=batch.raws[r.index] if r.index < len(batch.raws) else b"",
                province=provinces[r.index],
                seq=seq_col[r.index],
            )
            dead.append(letter)
            refused.append(letter)
            refused_seqs.append(seq_col[r.index])

        # Transfers first: a certificate whose shown record changes province leaves `stored`.
        apply_moves(con, decision.moves, stored)
        write_records(con, now, ev, winners, stored, decision.superseded)
        write_unshown(con, now, ev, decision.parked)
        write_superseded(con, {c: v for c, v in decision.superseded.items() if c not in winners})
        write_links(con, now, decision.links)
        next_apply_id, latencies = write_history(con, self._next_apply_id, now, ev, hist)
        if dead:
            write_dead_letters(con, now, dead)
        states = dict(self._unsaved_heartbeats)
        states.update((hb.province, heartbeats[hb.province]) for hb in beats)
        write_heartbeats(con, states)
        progress = write_progress(con, self._progress, now, seqs)
        rejected_seqs = write_rejected_seqs(con, self._rejected, refused, refused_seqs)
        if applied_counts:
            upsert(
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
        offsets = write_offsets(con, self._offsets, {**self._unsaved_offsets, **batch.offsets})

        result.applied = len(hist)
        result.dead_letters = len(dead)
        result.applied_counts = dict(applied_counts)
        result.rejected_counts = dict(rejected)
        result.unauthenticated_counts = dict(unauthenticated)
        result.latencies = latencies
        result.offsets = dict(batch.offsets)
        result.progress = {p: progress[p].applied_seq for p in seqs}
        result.beats = beats
        result.commit_times = commit_times(ev, progress, seqs)
        return result, (offsets, progress, heartbeats, rejected_seqs, next_apply_id, kept)
