"""ServingIndex: the SQLite file national reads will be answered from; a second exactly-once
sink of the same log as the DuckDB store.

One writer thread applies batches (national_hub.index.apply), each in one transaction with
the index's own offsets; readers use one connection per reader thread and read every
multi-statement answer inside one read transaction, so a search's keys and the rows it
returns come from the same committed state. Not wired into the ingestor or the routes yet.

Durability: WAL with synchronous=NORMAL by default. A commit is atomic and survives a crash
of the hub process; only an operating-system crash or power loss can drop the last commits,
and then the offsets stored with them go too, so ingest reads those messages again and the
index ends exactly as before (FULL would add an fsync to every commit, i.e. to
commit-to-visible, for a guarantee the replay already gives).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from national_hub.errors import StoreError
from national_hub.index.apply import Events, apply_events, json_list, write_offsets
from national_hub.index.plan import SORT_MAX, WALK_BUDGET_STEPS, IndexQuery, explain, search_keys
from national_hub.index.schema import DDL, META_DDL, SCHEMA_VERSION, TABLES
from national_hub.index.seed import CHUNK_ROWS, SEEDING_KEY, ProgressCb, SeedSource, is_empty, seed
from national_hub.ingest.messages import Batch, RejectReason
from national_hub.readcache import ReadCache
from national_hub.sinkthreads import SinkThreads
from national_hub.store.progress import ApplyResult, Progress, SeqRanges

log = logging.getLogger(__name__)

T = TypeVar("T")

# What every reader of one certificate needs (the keys of store.reads.RECORD_COLUMNS);
# synced_at is added from synced_at_ms.
_READ = (
    "SELECT cert_no, province, status, seq, record_version, record, org_code, synced_at_ms,"
    " superseded_by_province, superseded_by_cert_no FROM records"
)
_READ_NAMES = (
    "cert_no",
    "province",
    "status",
    "seq",
    "record_version",
    "record",
    "org_code",
    "synced_at_ms",
    "superseded_by_province",
    "superseded_by_cert_no",
)
SYNCHRONOUS = ("NORMAL", "FULL")


def _row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_READ_NAMES, values, strict=True))
    row["synced_at"] = datetime.fromtimestamp(row["synced_at_ms"] / 1000, UTC)
    return row


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Up to limit + 1 (cert_no, hit_rank) in order, and the rows of the first limit of them
    (in the same order), all read from one snapshot."""

    keys: list[tuple[str, int]]
    rows: list[dict[str, Any]]


def _connect(path: Path, cache_mib: int, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA busy_timeout = 10000")
    con.execute(f"PRAGMA cache_size = {-1024 * cache_mib}")
    con.execute("PRAGMA temp_store = MEMORY")
    con.execute(f"PRAGMA synchronous = {synchronous}")
    return con


def _prepare(con: sqlite3.Connection, path: Path) -> None:
    """Create the tables; a file of another layout, or one whose seed (index.seed) was cut
    short, is emptied first (ingest then replays, or it is seeded again)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute(META_DDL)
        row = con.execute("SELECT value FROM index_meta WHERE key = 'schema_version'").fetchone()
        seeding = con.execute("SELECT 1 FROM index_meta WHERE key = ?", [SEEDING_KEY]).fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION) or seeding is not None:
            if seeding is not None:
                log.warning(
                    "index: %s was being filled from the store when the hub stopped; emptying it",
                    path,
                )
                con.execute("DELETE FROM index_meta WHERE key = ?", [SEEDING_KEY])
            elif row is not None:
                log.warning(
                    "index: %s has table layout %s, now %s; rebuilding it from the topics",
                    path,
                    row[0],
                    SCHEMA_VERSION,
                )
            for table in TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(
                "INSERT OR REPLACE INTO index_meta VALUES ('schema_version', ?)",
                [str(SCHEMA_VERSION)],
            )
        for ddl in DDL:
            con.execute(ddl)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


class ServingIndex:
    """The SQLite serving index; the single writer is apply_batch."""

    def __init__(
        self,
        path: Path,
        con: sqlite3.Connection,
        *,
        readers: int,
        reader_cache_mib: int,
        flush_s: float,
        sort_max: int,
        walk_budget: int,
        cache_records: int = 0,
    ) -> None:
        self.path = path
        # Hot records for lookups, verify and FHIR without a trip to a reader thread;
        # invalidated by each commit (national_hub.readcache).
        self.cache: ReadCache[str, dict[str, Any]] = ReadCache(cache_records)
        self._w = con
        self._reader_cache_mib = reader_cache_mib
        self._flush_s = flush_s
        self._sort_max = sort_max
        self._walk_budget = walk_budget
        self._closed = False
        self._threads: SinkThreads[sqlite3.Connection] = SinkThreads(
            "index", readers, self._connect_reader
        )
        self._readers = self._threads.readers
        self._writer = self._threads.writer
        # Mirrors swapped (never mutated) after each commit: read without a query or a lock.
        self._saved_offsets: Mapping[tuple[str, int], int] = MappingProxyType({})
        self._offsets: Mapping[tuple[str, int], int] = MappingProxyType({})
        self._progress: Mapping[str, Progress] = MappingProxyType({})
        self._rejected: Mapping[str, frozenset[int]] = MappingProxyType({})
        # Offsets of batches without events (heartbeats, dead letters): nothing to write, so
        # they are stored with the next transaction, or once flush_s has passed.
        self._unsaved_since: float | None = None
        self._load_state()

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        readers: int = 4,
        writer_cache_mib: int = 64,
        reader_cache_mib: int = 16,
        synchronous: str = "NORMAL",
        checkpoint_pages: int = 4000,
        flush_s: float = 5.0,
        sort_max: int = SORT_MAX,
        walk_budget: int = WALK_BUDGET_STEPS,
        cache_records: int = 0,
    ) -> ServingIndex:
        """Open (creating if needed) the index file and its tables."""
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}")
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create directory {path.parent}: {exc.strerror}") from None
        try:
            con = _connect(path, writer_cache_mib, synchronous=synchronous)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StoreError(f"cannot put {path} in WAL mode (got {mode})")
            con.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")
            con.execute("PRAGMA journal_size_limit = 67108864")
            _prepare(con, path)
            return cls(
                path,
                con,
                readers=readers,
                reader_cache_mib=reader_cache_mib,
                flush_s=flush_s,
                sort_max=sort_max,
                walk_budget=walk_budget,
                cache_records=cache_records,
            )
        except sqlite3.Error as exc:
            con.close()
            raise StoreError(f"cannot initialise {path}: {exc}") from None

    def close(self) -> None:
        """Finish queued work, store held offsets and close the file; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.submit(self._flush_unsaved).result()
        except sqlite3.Error:
            log.exception("index: storing the last offsets failed")
        self._threads.shutdown()
        self._w.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def reset(self) -> None:
        """Empty every table: the start of a rebuild (call with no apply running)."""
        con = self._w
        con.execute("BEGIN IMMEDIATE")
        try:
            for table in TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute("DELETE FROM index_meta")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        _prepare(con, self.path)
        self._unsaved_since = None
        self.cache.clear()
        self._load_state()

    def is_empty(self) -> bool:
        """No records, offsets or progress: a new, deleted, reset or re-laid-out index, which
        only a full replay of the topics would fill (or seed, from the store). Blocking."""
        if self._closed:
            raise StoreError("the serving index is closed")
        empty: bool = self._writer.submit(is_empty, self._w).result()
        return empty

    def seed(
        self,
        source: SeedSource,
        progress_cb: ProgressCb | None = None,
        *,
        chunk_rows: int = CHUNK_ROWS,
        rebuild_indexes: bool = True,
    ) -> int:
        """Fill this empty index from a snapshot of the DuckDB store (index.seed); the rows
        copied (shown and aside). Blocking: runs on the writer thread, so call it from a
        thread of its own, before ingest applies batches here. On an error (progress_cb's
        included) the index is emptied again and the error raised."""
        if self._closed:
            raise StoreError("the serving index is closed")
        done: int = self._writer.submit(
            self._seed, source, progress_cb, chunk_rows, rebuild_indexes
        ).result()
        return done

    def _seed(
        self,
        source: SeedSource,
        progress_cb: ProgressCb | None,
        chunk_rows: int,
        rebuild_indexes: bool,
    ) -> int:
        try:
            done = seed(
                self._w,
                source,
                progress_cb,
                chunk_rows=chunk_rows,
                rebuild_indexes=rebuild_indexes,
            )
        except BaseException:
            # Only a seed that began (its flag set) has written anything to undo.
            started = self._w.execute("SELECT 1 FROM index_meta WHERE key = ?", [SEEDING_KEY])
            if started.fetchone() is not None:
                log.warning("index: filling %s from the store failed; emptying it", self.path)
                self.reset()
            raise
        self._unsaved_since = None
        self.cache.clear()
        self._load_state()
        return done

    def _load_state(self) -> None:
        con = self._w
        saved = {
            (t, p): o
            for t, p, o in con.execute("SELECT topic, partition, next_offset FROM offsets")
        }
        self._saved_offsets = MappingProxyType(saved)
        self._offsets = MappingProxyType(dict(saved))
        pending: dict[str, list[int]] = {}
        for prov, seq in con.execute("SELECT province, seq FROM progress_pending"):
            pending.setdefault(prov, []).append(seq)
        self._progress = MappingProxyType(
            {
                prov: Progress(applied, top, SeqRanges.of(pending.get(prov, ())))
                for prov, applied, top in con.execute(
                    "SELECT province, applied_seq, max_seq FROM progress"
                )
            }
        )
        rejected: dict[str, set[int]] = {}
        for prov, seq in con.execute("SELECT province, seq FROM rejected_seqs"):
            rejected.setdefault(prov, set()).add(seq)
        self._rejected = MappingProxyType({p: frozenset(s) for p, s in rejected.items()})

    # ---- what it has applied (in memory) ---------------------------------------------------

    def offsets(self) -> Mapping[tuple[str, int], int]:
        """Next offset per (topic, partition): where this index resumes reading."""
        return self._offsets

    def progress(self) -> Mapping[str, Progress]:
        """Applied-seq progress per province, as committed to this index."""
        return self._progress

    def applied_seq(self, province: str) -> int:
        p = self._progress.get(province)
        return p.applied_seq if p else 0

    def is_seq_applied(self, province: str, seq: int) -> bool:
        """Whether this index has processed the province's seq (min_token, once it serves)."""
        p = self._progress.get(province)
        return p is not None and (seq <= p.applied_seq or seq in p.pending)

    def is_seq_rejected(self, province: str, seq: int) -> bool:
        return seq in self._rejected.get(province, ())

    def on_writer(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Run fn(writer connection) on the writer thread once the offsets held in memory are
        stored: no apply runs meanwhile, so fn sees one committed state whose offsets are its
        own (a snapshot, national_hub.snapshot)."""
        if self._closed:
            raise StoreError("the serving index is closed")

        def run() -> T:
            self._flush_unsaved()
            return fn(self._w)

        return self._writer.submit(run)

    # ---- writes ----------------------------------------------------------------------------

    async def apply(self, batch: Batch) -> ApplyResult:
        """Apply a batch on the writer thread."""
        if self._closed:
            raise StoreError("the serving index is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self.apply_batch, batch)

    def apply_batch(self, batch: Batch) -> ApplyResult:
        """Apply one batch in one transaction, offsets included; call on the writer thread.

        Events below this index's stored offset of their partition were applied before and
        are skipped. A batch without events only moves offsets: held in memory, written
        with the next transaction (or after flush_s); losing them re-reads messages that
        change nothing here.
        """
        if not batch.events:
            merged = dict(self._offsets)
            for tp, nxt in batch.offsets.items():
                merged[tp] = max(nxt, merged.get(tp, -1))
            self._offsets = MappingProxyType(merged)
            if self._unsaved_since is None:
                self._unsaved_since = time.monotonic()
            elif time.monotonic() - self._unsaved_since >= self._flush_s:
                self._flush_unsaved()
            return ApplyResult(heartbeats=len(batch.heartbeats), offsets=dict(batch.offsets))
        return self._transaction(batch)

    def _flush_unsaved(self) -> None:
        if self._unsaved_since is not None:
            self._transaction(Batch())

    def _transaction(self, batch: Batch) -> ApplyResult:
        t0 = time.perf_counter()
        events, below = Events.of(batch, self._offsets)
        offsets = dict(self._offsets)
        for tp, nxt in batch.offsets.items():
            offsets[tp] = max(nxt, offsets.get(tp, -1))
        con = self._w
        con.execute("BEGIN IMMEDIATE")
        try:
            applied = (
                apply_events(con, events, int(time.time() * 1000), self._progress, self._rejected)
                if len(events)
                else None
            )
            saved = write_offsets(con, self._saved_offsets, offsets)
            # Every certificate the batch may have changed (its own, and those its transfers
            # name) leaves the cache before the commit makes the change visible.
            self.cache.changing(events.touched())
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            self.cache.changed()
        # Only now, with the transaction committed, do readers of the mirrors see the change.
        self._saved_offsets = saved
        self._offsets = MappingProxyType(dict(saved))
        self._unsaved_since = None
        result = ApplyResult(events=len(events), skipped=below, offsets=dict(batch.offsets))
        if applied is not None:
            d = applied.decision
            self._progress, self._rejected = applied.progress, applied.rejected
            result.applied = len(d.applied)
            result.skipped += d.skipped
            result.applied_counts = dict(d.applied_counts)
            result.rejected_counts = dict(
                Counter((p, str(RejectReason.CERT_CONFLICT)) for p, _ in applied.refused)
            )
            result.progress = {p: self._progress[p].applied_seq for p in d.seqs}
        result.seconds = time.perf_counter() - t0
        return result

    # ---- reads -----------------------------------------------------------------------------

    def _connect_reader(self) -> sqlite3.Connection:
        con = _connect(self.path, self._reader_cache_mib)
        con.execute("PRAGMA query_only = 1")
        return con

    def _reader(self) -> sqlite3.Connection:
        """This thread's own read connection."""
        return self._threads.reader()

    def record_sync(self, cert_no: str) -> dict[str, Any] | None:
        """The shown record of a certificate (store.reads.RECORD_COLUMNS' keys), or None."""
        row = self._reader().execute(_READ + " WHERE cert_no = ?", [cert_no]).fetchone()
        return _row(row) if row is not None else None

    def records_sync(self, certs: Sequence[str]) -> list[dict[str, Any]]:
        """The shown records of these certificates, in no particular order."""
        if not certs:
            return []
        cur = self._reader().execute(
            _READ + " WHERE cert_no IN (SELECT value FROM json_each(?))", [json_list(certs)]
        )
        return [_row(r) for r in cur]

    def search_sync(self, q: IndexQuery) -> SearchResult:
        """A page of a search (call from a reader thread): keys and rows of one snapshot."""
        con = self._reader()
        con.execute("BEGIN")
        try:
            keys = search_keys(con, q, self._sort_max, self._walk_budget)
            certs = [c for c, _ in keys[: q.limit]]
            rows = []
            if certs:
                cur = con.execute(
                    _READ + " WHERE cert_no IN (SELECT value FROM json_each(?))",
                    [json_list(certs)],
                )
                by_cert = {r[0]: r for r in cur}
                rows = [_row(by_cert[c]) for c in certs]
        finally:
            con.execute("COMMIT")
        return SearchResult(keys, rows)

    def explain_sync(self, q: IndexQuery) -> list[str]:
        """EXPLAIN QUERY PLAN of the classes a first page of q may read."""
        con = self._reader()
        con.execute("BEGIN")
        try:
            return explain(con, q, self._sort_max)
        finally:
            con.execute("COMMIT")

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise StoreError("the serving index is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, fn, *args)
        except sqlite3.Error:
            log.exception("index read failed")
            raise StoreError("the hub's index could not answer; its log has the details") from None

    async def record(self, cert_no: str) -> dict[str, Any] | None:
        """The shown record of a certificate: from the cache, or record_sync (then cached,
        unless an apply came meanwhile). Callers must not change it."""
        row = self.cache.get(cert_no)
        if row is not None:
            return row
        generation = self.cache.generation
        # Read on the event loop's own connection: an indexed point read costs ~15 us, a trip
        # to a reader thread and back several times that in event-loop time alone.
        if self._closed:
            raise StoreError("the serving index is closed")
        try:
            row = self.record_sync(cert_no)
        except sqlite3.Error:
            log.exception("index read failed")
            raise StoreError("the hub's index could not answer; its log has the details") from None
        if row is not None:
            self.cache.put(cert_no, row, generation)
        return row

    async def search(self, q: IndexQuery) -> SearchResult:
        """search_sync off the event loop."""
        result: SearchResult = await self._run(self.search_sync, q)
        return result

    async def suggest(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read of national_hub.index.suggest on a reader thread, with its connection."""
        result: T = await self._run(lambda: fn(self._reader()))
        return result
