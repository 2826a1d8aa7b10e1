"""The province registry in SQLite: records, outbox and idempotency keys, written by one thread.

WAL with synchronous=NORMAL: a committed transaction survives a process crash (it is in the
WAL before COMMIT returns); only an OS crash or power loss may drop the last commits.

Every write runs on one writer thread. Queued writes are committed together (group commit):
each runs inside its own SAVEPOINT, so a refused one is rolled back alone, and all of them
share one COMMIT and one WAL sync. The seq of each event is taken from MAX(seq) after BEGIN
IMMEDIATE, so seq stays gap-free even if `import` writes to the same file from another process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from uuid import uuid4

from province_node import idempotency, lifecycle, outbox
from province_node import requests as rq
from province_node.errors import NotFound, TooManyRequests, Unavailable
from schemas.canonical import canonical_bytes
from schemas.events import DETAILS_BY_TYPE
from schemas.federation import ConfigError
from schemas.person_ref import person_ref
from schemas.record import Institution, PracticeSite, Record
from schemas.signing import Signer
from schemas.timestamps import format_utc, utc_now
from schemas.vocab import EventType, Status

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registrations (
    cert_no        TEXT    PRIMARY KEY,
    id_number      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    orgs           TEXT    NOT NULL,
    record_version INTEGER NOT NULL,
    latest_seq     INTEGER NOT NULL,
    record         BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS registrations_by_name ON registrations (name);
CREATE INDEX IF NOT EXISTS registrations_by_status ON registrations (status, cert_no);
CREATE INDEX IF NOT EXISTS registrations_by_id_number ON registrations (id_number, status);
"""

# The statuses in which a registration holds its person: one ID number has at most one of these
# per province (a second is refused as duplicate_person).
_HOLDING = tuple(s.value for s in lifecycle.HOLDING)


@dataclass(frozen=True)
class Committed:
    """A committed change: the record after it and where its event sits in the outbox."""

    cert_no: str
    type: EventType
    seq: int
    record_version: int
    record: dict[str, Any]


@dataclass(frozen=True)
class Current:
    """A stored registration as the writer needs it."""

    record: Record
    id_number: str
    record_version: int


@dataclass(frozen=True)
class StoredRecord:
    """A stored registration as the API shows it."""

    cert_no: str
    id_number: str
    record_version: int
    latest_seq: int
    record: dict[str, Any]


class Skipped(Exception):
    """An import row whose cert_no is already registered; not an error."""


class WriteContext:
    """One write transaction: reads, lifecycle steps and their outbox events."""

    def __init__(self, store: Store, conn: sqlite3.Connection, next_seq: int) -> None:
        self._store = store
        self.conn = conn
        self.next_seq = next_seq
        self.committed_types: list[str] = []

    @property
    def province(self) -> str:
        """The province this registry belongs to."""
        return self._store.province

    def current(self, cert_no: str) -> Current | None:
        """The stored record of a certificate, or None."""
        row = self.conn.execute(
            "SELECT record, id_number, record_version FROM registrations WHERE cert_no = ?",
            (cert_no,),
        ).fetchone()
        if row is None:
            return None
        return Current(Record.model_validate_json(row[0]), row[1], int(row[2]))

    def exists(self, cert_no: str) -> bool:
        """Whether the certificate is registered here in any status."""
        row = self.conn.execute(
            "SELECT 1 FROM registrations WHERE cert_no = ?", (cert_no,)
        ).fetchone()
        return row is not None

    def holder(self, id_number: str, other_than: str) -> tuple[str, Status] | None:
        """A registration of this ID number, other than cert_no other_than, that holds it."""
        row = self.conn.execute(
            "SELECT cert_no, status FROM registrations WHERE id_number = ? AND cert_no <> ?"
            f" AND status IN ({', '.join('?' * len(_HOLDING))}) ORDER BY cert_no LIMIT 1",
            (id_number, other_than, *_HOLDING),
        ).fetchone()
        return None if row is None else (row[0], Status(row[1]))

    def register(
        self, req: rq.RegistrationRequest, actor: str, *, known_new: bool = False
    ) -> Committed:
        """First registration, re-registration or transfer-in."""
        current = None if known_new else self.current(req.cert_no)
        transition = lifecycle.register(
            current.record if current else None,
            current.id_number if current else None,
            req,
            province=self.province,
            person_ref=person_ref(self._store.secret, req.id_number),
            holder=self.holder(req.id_number, req.cert_no),
        )
        version = current.record_version if current else 0
        return self._append(transition, req.id_number, version + 1, actor)

    def import_row(self, req: rq.RegistrationRequest) -> Committed:
        """Register a row from an import file; Skipped if the cert_no is already here."""
        if self.exists(req.cert_no):
            raise Skipped(req.cert_no)
        return self.register(req, "import", known_new=True)

    def step(self, cert_no: str, step: rq.StepRequest, actor: str) -> Committed:
        """One lifecycle step on an existing registration."""
        current = self.current(cert_no)
        if current is None:
            raise NotFound(f"no registration with cert_no {cert_no} in province {self.province}")
        transition = lifecycle.apply_step(
            current.record, step, province=self.province, today=rq.today_cst()
        )
        return self._append(transition, current.id_number, current.record_version + 1, actor)

    def _append(
        self, t: lifecycle.Transition, id_number: str, version: int, actor: str
    ) -> Committed:
        """Write the record and its event in this transaction; the relay only ships bytes."""
        seq = self.next_seq
        record = t.record.model_dump(mode="json")
        # Validating details against the wire model keeps a bad event out of the outbox, where
        # it would block the relay forever.
        details = DETAILS_BY_TYPE[t.type].model_validate(t.details).model_dump(mode="json")
        committed_at = format_utc(utc_now())
        event_id = str(uuid4())
        value = canonical_bytes(
            {
                "schema_version": 1,
                "event_id": event_id,
                "province": self.province,
                "seq": seq,
                "type": t.type.value,
                "cert_no": t.record.cert_no,
                "record_version": version,
                "committed_at": committed_at,
                "actor": actor,
                "details": details,
                "record": record,
            }
        )
        outbox.append(
            self.conn,
            seq=seq,
            event_id=event_id,
            cert_no=t.record.cert_no,
            type=t.type.value,
            record_version=version,
            value=value,
            sig=self._store.signer.sign(value),
            committed_at=committed_at,
        )
        upsert_registration(self.conn, t.record, id_number, version, seq)
        self.next_seq = seq + 1
        self.committed_types.append(t.type.value)
        return Committed(t.record.cert_no, t.type, seq, version, record)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One job's result or the exception it raised."""

    value: T | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class GroupCommit:
    """What one transaction committed."""

    last_seq: int
    types: list[str]


class Store:
    """One SQLite connection and the transaction logic; used from a single thread only."""

    def __init__(self, path: Path, province: str, signer: Signer, secret: bytes) -> None:
        self.path = Path(path)
        self.province = province
        self.signer = signer
        self.secret = secret
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        """Open or create the database file and check it belongs to this province."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The registry holds ID numbers: created owner-only (SQLite gives its -wal and -shm
            # files the database's mode); an existing file keeps the mode its operator chose.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            conn = connect(self.path)
            conn.execute("PRAGMA schema_version").fetchone()
        except (OSError, sqlite3.Error) as exc:
            # A db path that is a directory, unwritable or not SQLite: a configuration problem.
            raise ConfigError(
                f"province[{self.province}].db: cannot open {self.path} as SQLite: {exc}"
            ) from None
        try:
            conn.executescript(SCHEMA + outbox.SCHEMA + idempotency.SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'province'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('province', ?)", (self.province,)
                )
            elif row[0] != self.province:
                raise ConfigError(
                    f"{self.path}: this registry belongs to province {row[0]}, not {self.province}"
                )
            # A restart with a new signing key is the rotation step (docs/operations.md
            # "Rotating keys"): what the old key signed and the relay has not sent yet is
            # signed again, since the relay names this key.
            outbox.resign_unpublished(conn, self.signer)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise RuntimeError("registry store is not open")
        return self._conn

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run_group(
        self, jobs: Sequence[Callable[[WriteContext], Any]]
    ) -> tuple[list[Outcome[Any]], GroupCommit | None]:
        """Run jobs in one transaction, each in its own savepoint, and commit once."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            error = Unavailable(
                f"the registry is busy ({exc}); retry shortly", headers={"Retry-After": "1"}
            )
            return [Outcome(error=error) for _ in jobs], None
        ctx = WriteContext(self, conn, outbox.last_seq(conn) + 1)
        outcomes: list[Outcome[Any]] = []
        try:
            for job in jobs:
                mark = (ctx.next_seq, len(ctx.committed_types))
                conn.execute("SAVEPOINT job")
                try:
                    value = job(ctx)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    ctx.next_seq = mark[0]
                    del ctx.committed_types[mark[1] :]
                    outcomes.append(Outcome(error=exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append(Outcome(value=value))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.exception("write transaction failed; %d writes rolled back", len(jobs))
            failed = Unavailable(f"the registry could not commit: {exc}")
            return [Outcome(error=o.error or failed) for o in outcomes] + [
                Outcome(error=failed) for _ in jobs[len(outcomes) :]
            ], None
        except BaseException:
            # Ctrl-C during an import: leave nothing half-done, then let it stop the program.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes, GroupCommit(ctx.next_seq - 1, ctx.committed_types)

    def purge_idempotency(self, before: datetime) -> int:
        """Forget idempotency keys older than before."""
        with self.conn:
            return idempotency.purge(self.conn, before)


# A recovered registration whose ID number never left the province: it awaits re-entry.
MISSING_ID_NUMBER = ""


def upsert_registration(
    conn: sqlite3.Connection, record: Record, id_number: str, version: int, seq: int
) -> None:
    """Store a registration as it stands after the event with this seq."""
    orgs: list[Institution | PracticeSite] = [record.primary_institution, *record.practice_sites]
    conn.execute(
        "INSERT INTO registrations (cert_no, id_number, name, status, orgs, record_version,"
        " latest_seq, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (cert_no) DO UPDATE SET id_number = excluded.id_number,"
        " name = excluded.name, status = excluded.status, orgs = excluded.orgs,"
        " record_version = excluded.record_version, latest_seq = excluded.latest_seq,"
        " record = excluded.record",
        (
            record.cert_no,
            id_number,
            record.name,
            record.status.value,
            "\n".join(f"{o.org_code}\t{o.name}" for o in orgs),
            version,
            seq,
            canonical_bytes(record.model_dump(mode="json")),
        ),
    )


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every user of the file needs."""
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write lock up
    # front, so two writers queue instead of failing on lock upgrade).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 10000")
    # A large page cache keeps the index pages of a 400,000-record registry in memory, and
    # rarer checkpoints turn many small WAL syncs into a few large ones.
    conn.execute("PRAGMA cache_size = -131072")
    conn.execute("PRAGMA wal_autocheckpoint = 16384")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


class _Job:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[WriteContext], Any], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.future = future


_STOP = object()


class Registry:
    """The async face of the store: one writer thread with group commit, a few reader threads."""

    def __init__(
        self,
        path: Path,
        province: str,
        signer: Signer,
        secret: bytes,
        *,
        on_commit: Callable[[GroupCommit], None] | None = None,
        queue_limit: int = 10_000,
        group_limit: int = 512,
        readers: int = 2,
    ) -> None:
        self.path = Path(path)
        self.province = province
        self._store = Store(self.path, province, signer, secret)
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queue_limit = queue_limit
        self._group_limit = group_limit
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader_count = readers
        self._readers: ThreadPoolExecutor | None = None
        self._reader_local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()

    async def start(self) -> None:
        """Open the database on the writer thread; raises what opening raised."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._writer,
            args=(opened,),
            name=f"registry-writer-{self.province}",
            daemon=True,
        )
        self._thread.start()
        try:
            await opened
        except BaseException:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            raise
        self._readers = ThreadPoolExecutor(
            max_workers=self._reader_count, thread_name_prefix=f"registry-read-{self.province}"
        )

    async def stop(self) -> None:
        """Finish queued writes, then close every connection; safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(thread.join)
        readers, self._readers = self._readers, None
        if readers is not None:
            readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    async def write(self, fn: Callable[[WriteContext], T], *, internal: bool = False) -> T:
        """Run fn in a write transaction on the writer thread and return its result.

        `internal` writes (the relay's published marker) are never refused for a full queue:
        refusing them would stall publishing exactly when clients write the most.
        """
        if self._thread is None or self._loop is None:
            raise Unavailable("the registry is not running")
        with self._pending_lock:
            if self._pending >= self._queue_limit and not internal:
                raise TooManyRequests(
                    f"{self._pending} writes are queued; retry shortly",
                    headers={"Retry-After": "1"},
                )
            self._pending += 1
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(_Job(fn, future))
        return await future

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) on a reader thread with its own read-only connection."""
        if self._readers is None or self._loop is None:
            raise Unavailable("the registry is not running")
        return await self._loop.run_in_executor(self._readers, self._read, fn, args)

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = connect(self.path, read_only=True)
            self._reader_local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return fn(conn, *args)

    # -- writer thread -----------------------------------------------------------------------

    def _writer(self, opened: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            self._store.open()
            self._store.purge_idempotency(utc_now() - timedelta(hours=idempotency.RETENTION_HOURS))
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, opened, None, exc)
            return
        loop.call_soon_threadsafe(_settle, opened, None, None)
        last_purge = utc_now()
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                jobs: list[_Job] = [first]
                while len(jobs) < self._group_limit:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        break
                    jobs.append(item)
                self._run(loop, jobs)
                if utc_now() - last_purge > timedelta(hours=1):
                    last_purge = utc_now()
                    self._store.purge_idempotency(
                        last_purge - timedelta(hours=idempotency.RETENTION_HOURS)
                    )
        finally:
            self._store.close()

    def _run(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        try:
            outcomes, commit = self._store.run_group([job.fn for job in jobs])
        except Exception as exc:
            # Never let the writer thread die: every caller still gets an answer.
            log.exception("writer failed")
            outcomes, commit = [Outcome(error=exc) for _ in jobs], None
        with self._pending_lock:
            self._pending -= len(jobs)
        if commit is not None and commit.types and self._on_commit is not None:
            try:
                self._on_commit(commit)
            except Exception:
                log.exception("on_commit callback failed")
        for job, outcome in zip(jobs, outcomes, strict=True):
            try:
                loop.call_soon_threadsafe(_settle, job.future, outcome.value, outcome.error)
            except RuntimeError:
                # The loop is closed: nobody waits for this answer any more; the write stands.
                log.warning("event loop closed before a write's answer could be delivered")


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
