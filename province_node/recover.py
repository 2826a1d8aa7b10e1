"""`province-node recover`: bring a registry restored from an older copy forward from its topic.

The province's topic holds every event it published, each carrying the whole record after the
change, its exact signed bytes and its seq. Recover applies the events after the registry's
last seq (record, history in the outbox, and with it the seq counter), marks them published
where Kafka has them, and marks published any older event the copy still had as unpublished
(so the relay does not send it again). It runs against the registry file with the node stopped.

Events carry person_ref, never the ID number (it never leaves the province), so a registration
first created after the backup comes back without one: it is stored with an empty ID number
and listed for re-entry. Running recover again applies nothing and lists what is still missing.
"""

from __future__ import annotations

import asyncio
import csv
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from province_node import outbox, recovery_store, topic_log
from province_node.config import NodeSettings
from province_node.errors import RecoverError
from province_node.registry import MISSING_ID_NUMBER, Store, upsert_registration
from schemas.record import Record
from schemas.timestamps import utc_now

BATCH = 1000


@dataclass(frozen=True, slots=True)
class RecoverSummary:
    """What recover did and what is left for people to do."""

    registry_seq_before: int
    registry_seq_after: int
    topic_seq: int
    applied: int
    marked_published: int
    reentry: list[tuple[str, str]]
    reentry_path: Path
    seconds: float


@dataclass(frozen=True, slots=True)
class Plan:
    """The events to apply and the older ones to mark published; decided without writing."""

    apply: list[topic_log.TopicEvent]
    mark_published: list[topic_log.TopicEvent]
    topic_seq: int


def plan(
    events: list[topic_log.TopicEvent],
    registry_seq: int,
    known: dict[int, tuple[str, bool]],
) -> Plan:
    """Which topic events to apply or mark; RecoverError if the registry and topic disagree.

    `known` is seq → (event_id, published) of the registry's own events up to registry_seq.
    """
    by_seq: dict[int, topic_log.TopicEvent] = {}
    for event in sorted(events, key=lambda e: (e.seq, e.partition, e.offset)):
        first = by_seq.setdefault(event.seq, event)
        # A resend repeats an event byte for byte; a different event_id is a seq used twice.
        if first.event_id != event.event_id:
            raise RecoverError(
                f"topic holds two different events with seq {event.seq} "
                f"(partition {first.partition} offset {first.offset} and partition "
                f"{event.partition} offset {event.offset}); resolve by hand"
            )
    mark: list[topic_log.TopicEvent] = []
    for seq, event in by_seq.items():
        if seq > registry_seq:
            continue
        mine = known.get(seq)
        if mine is not None and mine[0] != event.event_id:
            raise RecoverError(
                f"registry's event with seq {seq} differs from the topic's (event_id "
                f"{mine[0]} vs {event.event_id}): the registry has diverged from its topic"
            )
        if mine is not None and not mine[1]:
            mark.append(event)
    newer = [by_seq[s] for s in sorted(by_seq) if s > registry_seq]
    expected = list(range(registry_seq + 1, registry_seq + 1 + len(newer)))
    if [e.seq for e in newer] != expected:
        missing = sorted(set(range(registry_seq + 1, max(by_seq) + 1)) - set(by_seq))
        raise RecoverError(f"topic lacks events with seq {missing[:10]}: cannot apply past a gap")
    topic_seq = max(by_seq) if by_seq else 0
    return Plan(newer, mark, topic_seq)


def recover(
    settings: NodeSettings,
    *,
    reentry_path: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RecoverSummary:
    """Apply the topic's newer events to the registry file and write the re-entry list."""
    started = time.monotonic()
    store = Store(
        settings.db_path, settings.province, settings.load_signer(), settings.load_secret()
    )
    store.open()
    try:
        conn = store.conn
        before = outbox.last_seq(conn)

        def reading(done: int, total: int) -> None:
            if progress is not None:
                progress("reading topic", done, total)

        try:
            events = asyncio.run(topic_log.read_all(settings, reading))
        except TimeoutError:
            raise topic_log.TopicUnreadable("reading the topic timed out") from None
        steps = plan(events, before, outbox.event_ids(conn, 1, before))
        _apply(conn, steps, progress)
        after = outbox.last_seq(conn)
        recovery_store.meta_delete(conn, recovery_store.RESTORED_FROM_BACKUP)
        missing = recovery_store.missing_id_numbers(conn)
    finally:
        store.close()
    path = reentry_path or settings.db_path.with_name(settings.db_path.stem + ".reentry.csv")
    write_reentry(path, missing)
    return RecoverSummary(
        before,
        after,
        steps.topic_seq,
        len(steps.apply),
        len(steps.mark_published),
        missing,
        path,
        time.monotonic() - started,
    )


def _apply(
    conn: sqlite3.Connection, steps: Plan, progress: Callable[[str, int, int], None] | None
) -> None:
    now = utc_now()
    conn.execute("BEGIN IMMEDIATE")
    outbox.mark_published(
        conn, [outbox.Published(e.seq, e.partition, e.offset, now) for e in steps.mark_published]
    )
    conn.execute("COMMIT")
    total = len(steps.apply)
    for start in range(0, total, BATCH):
        batch = steps.apply[start : start + BATCH]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for event in batch:
                _apply_one(conn, event)
            outbox.mark_published(
                conn, [outbox.Published(e.seq, e.partition, e.offset, now) for e in batch]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if progress is not None:
            progress("applying events", start + len(batch), total)


def _apply_one(conn: sqlite3.Connection, event: topic_log.TopicEvent) -> None:
    doc = orjson.loads(event.value)
    record = Record.model_validate(doc["record"])
    id_number = recovery_store.id_number_of(conn, event.cert_no)
    outbox.append(
        conn,
        seq=event.seq,
        event_id=event.event_id,
        cert_no=event.cert_no,
        type=event.type,
        record_version=event.record_version,
        value=event.value,
        sig=event.sig,
        committed_at=event.committed_at,
    )
    upsert_registration(
        conn,
        record,
        MISSING_ID_NUMBER if id_number is None else id_number,
        event.record_version,
        event.seq,
    )


def write_reentry(path: Path, missing: list[tuple[str, str]]) -> None:
    """The re-entry list: one row per registration whose ID number must be entered again."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["cert_no", "name", "missing"])
        for cert_no, name in missing:
            writer.writerow([cert_no, name, "id_number"])
