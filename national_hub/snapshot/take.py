"""Taking a snapshot of a hub's two sinks at one point in the log, while it serves and ingests.

The copy runs on the store's writer thread, so no apply is half done: the store is checkpointed
(its write-ahead log folded into the file) and its file copied while the writer waits, and from
inside that wait the index's writer copies the index with SQLite's backup API. Ingest hands a
batch to the store before the index and waits for both (ingest.sinks), so with the store's
writer held the index finishes the batch it has and gets no other: both copies hold the same
messages, and each holds the offsets it resumes from. Reads go on meanwhile (they use reader
connections); ingest waits for the copy (about a second per 100 MB of store on this machine's
disk, bench/snapshot.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from national_hub.index.index import ServingIndex
from national_hub.snapshot.archive import (
    SnapshotError,
    copy_hashing,
    extract_checked,
    file_sha256,
    member,
    write_archive,
)
from national_hub.snapshot.facts import (
    index_facts,
    index_file_facts,
    store_facts,
    store_file_facts,
)
from national_hub.snapshot.manifest import (
    INDEX_MEMBER,
    STORE_MEMBER,
    Manifest,
    SinkFacts,
    differences,
)
from national_hub.store.store import Store
from schemas.timestamps import utc_now

log = logging.getLogger(__name__)

STORE_WAL_MEMBER = STORE_MEMBER + ".wal"
# Longest the copy waits for the index to apply the batch the store has just applied.
INDEX_WAIT_S = 10.0
# SQLite backup step, in pages: between steps the progress is reported.
BACKUP_PAGES = 4096


# What POST /v1/ops/snapshot takes as the file's name: no directory, no hidden file.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def snapshot_dir(db_path: Path) -> Path:
    """Where a running hub writes the snapshots it is asked for: `snapshots/` beside its DuckDB
    file. The ops route takes only a file name, so an ops token cannot make the hub write
    anywhere else; `national-hub snapshot` moves the file to its --out afterwards."""
    return db_path.parent / "snapshots"


@dataclass
class SnapshotState:
    """How far a snapshot is, for a progress bar; written by the snapshot's thread only."""

    out: Path
    phase: str = "waiting"
    done_bytes: int = 0
    total_bytes: int = 0
    error: str | None = None
    manifest: Manifest | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self, phase: str, total: int) -> None:
        with self._lock:
            self.phase, self.done_bytes, self.total_bytes = phase, 0, total

    def add(self, n: int) -> None:
        with self._lock:
            self.done_bytes += n

    @property
    def finished(self) -> bool:
        return self.phase in ("done", "failed")


@dataclass(frozen=True, slots=True)
class _Copied:
    store: SinkFacts
    index: SinkFacts
    store_sha: str
    wal_sha: str | None


def _copy_index(con: sqlite3.Connection, dst_path: Path, state: SnapshotState) -> SinkFacts:
    """On the index's writer thread: its facts, and a copy by the backup API."""
    facts = index_facts(con)
    page = int(con.execute("PRAGMA page_size").fetchone()[0])
    dst = sqlite3.connect(str(dst_path))
    try:
        done = 0

        def step(_status: int, remaining: int, total: int) -> None:
            nonlocal done
            now = (total - remaining) * page
            state.add(now - done)
            done = now

        con.backup(dst, pages=BACKUP_PAGES, progress=step)
        # A plain rollback-journal file: a copy opened read-only needs no -shm beside it; the
        # hub puts it back in WAL mode when it opens it.
        dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        dst.close()
    return facts


def _index_holds(store_offsets: Mapping[tuple[str, int], int], index: ServingIndex) -> bool:
    held = index.offsets()
    return all(held.get(tp, -1) >= nxt for tp, nxt in store_offsets.items())


def _await_index(store_offsets: Mapping[tuple[str, int], int], index: ServingIndex) -> None:
    """Wait (on the store's writer) until the index holds what the store holds.

    The store's writer may take this job straight after a batch, before the event loop has
    handed the same batch to the index (ingest.sinks); copied then, the index would be a batch
    behind. Each copy would still be whole (each holds its own offsets, and ingest resumes from
    the lower), but not at one point in the log. Bounded: an index whose apply fails is copied
    as it is, and the manifest records both sinks' offsets.
    """
    deadline = time.monotonic() + INDEX_WAIT_S
    while not _index_holds(store_offsets, index):
        if time.monotonic() >= deadline:
            log.warning("snapshot: the index did not reach the store's offsets; copied as is")
            return
        time.sleep(0.005)


def _copy_sinks(store: Store, index: ServingIndex, work: Path, state: SnapshotState) -> _Copied:
    """Both copies at one point in the log (see the module's docstring)."""

    def on_store_writer(con: duckdb.DuckDBPyConnection) -> _Copied:
        _await_index(store.offsets(), index)
        index_done = index.on_writer(lambda icon: _copy_index(icon, work / INDEX_MEMBER, state))
        con.execute("CHECKPOINT")
        facts = store_facts(con)
        with store.path.open("rb") as src, (work / STORE_MEMBER).open("wb") as dst:
            sha = copy_hashing(src, dst, state.add)
        # CHECKPOINT empties it; should a reader have kept part of it, it travels along.
        wal = Path(str(store.path) + ".wal")
        wal_sha = None
        if wal.exists() and wal.stat().st_size > 0:
            with wal.open("rb") as src, (work / STORE_WAL_MEMBER).open("wb") as dst:
                wal_sha = copy_hashing(src, dst, state.add)
        return _Copied(facts, index_done.result(), sha, wal_sha)

    return store.on_writer(on_store_writer).result()


def verify_copies(
    manifest_store: SinkFacts, manifest_index: SinkFacts, store_file: Path, index_file: Path
) -> None:
    """Re-open the copies and check their offsets, applied seqs and counts are the manifest's."""
    problems = differences("store", manifest_store, store_file_facts(store_file))
    problems += differences("index", manifest_index, index_file_facts(index_file))
    if problems:
        raise SnapshotError("the copies do not match the manifest: " + "; ".join(problems[:5]))


def take(store: Store, index: ServingIndex, out: Path, state: SnapshotState) -> Manifest:
    """Write a verified snapshot of the store and the index to `out` (a new file)."""
    if out.exists():
        raise SnapshotError(f"{out} exists already; name a new file")
    if not out.parent.is_dir():
        raise SnapshotError(f"{out.parent} is not a directory")
    created_at = utc_now()
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    partial = out.with_name(f".{out.name}.partial")
    try:
        sizes = store.path.stat().st_size + index.path.stat().st_size
        state.begin("copying", sizes)
        copied = _copy_sinks(store, index, work, state)
        state.begin("verifying", 0)
        verify_copies(copied.store, copied.index, work / STORE_MEMBER, work / INDEX_MEMBER)
        index_file = work / INDEX_MEMBER
        state.begin("hashing", index_file.stat().st_size)
        members = [
            member(STORE_MEMBER, work / STORE_MEMBER, copied.store_sha),
            member(INDEX_MEMBER, index_file, file_sha256(index_file, state.add)),
        ]
        files = {STORE_MEMBER: work / STORE_MEMBER, INDEX_MEMBER: index_file}
        if copied.wal_sha is not None:
            members.append(member(STORE_WAL_MEMBER, work / STORE_WAL_MEMBER, copied.wal_sha))
            files[STORE_WAL_MEMBER] = work / STORE_WAL_MEMBER
        manifest = Manifest(created_at, copied.store, copied.index, tuple(members))
        total = sum(m.size for m in members)
        state.begin("writing", total)
        write_archive(partial, manifest, files, state.add)
        # What was written is read back and checked before it gets its name.
        state.begin("checking", total)
        extract_checked(partial, manifest, None, state.add)
        os.replace(partial, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)
    log.info(
        "snapshot: %s written (%d records, %d bytes)", out, manifest.records(), out.stat().st_size
    )
    return manifest


def run(store: Store, index: ServingIndex, state: SnapshotState) -> None:
    """take() for a background thread: the outcome goes into state, never raised."""
    try:
        state.manifest = take(store, index, state.out, state)
        state.phase = "done"
    except SnapshotError as exc:
        state.error, state.phase = str(exc), "failed"
    except Exception as exc:
        log.exception("snapshot to %s failed", state.out)
        state.error, state.phase = f"snapshot failed: {exc}", "failed"
    finally:
        state.seconds = time.monotonic() - state.started


class SnapshotSlot:
    """The latest snapshot of a hub process and the future running it (one at a time)."""

    def __init__(self) -> None:
        self.current: SnapshotState | None = None
        self.task: asyncio.Future[None] | None = None
