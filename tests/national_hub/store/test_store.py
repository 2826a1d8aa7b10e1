"""The store's apply logic on a real DuckDB file, fed decoded messages without Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hubkit import (
    HubEnv,
    Message,
    cert,
    heartbeat,
    lifecycle,
    make_event,
    signed,
    store_held_elsewhere,
)

from national_hub.errors import StoreError
from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch
from national_hub.store.progress import Progress, advance
from national_hub.store.store import Store
from schemas.events import Event
from schemas.samples import SECOND_INSTITUTION
from schemas.wire import signed_headers


@dataclass
class Raw:
    """A consumed message as aiokafka hands it over."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class Feeder:
    """Turns messages into batches with per-partition offsets, like the consumer does."""

    def __init__(self, env: HubEnv) -> None:
        self.env = env
        self.decoder = Decoder(DecoderSpec.from_settings(env.settings()))
        self.next: dict[tuple[str, int], int] = {}

    def batch(self, messages: list[Message], partition: int = 0) -> Batch:
        raws = []
        for m in messages:
            tp = (m.topic, partition)
            off = self.next.get(tp, 0)
            self.next[tp] = off + 1
            raws.append(Raw(m.topic, partition, off, m.key, m.value, m.headers))
        b = Batch()
        b.extend(self.decoder.decode_many(raws))
        return b

    def events(self, events: list[Event], partition: int = 0) -> Batch:
        return self.batch([signed(self.env, e) for e in events], partition)


@pytest.fixture
def store(hub_env: HubEnv) -> Iterator[Store]:
    s = Store.open(hub_env.db)
    yield s
    s.close()


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in store.fetch_sync(sql)]


def test_batch_keeps_the_newest_version_and_history_gets_every_event(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    events = lifecycle(hub_env, "50", cert("50", 1))
    result = store.apply_batch(feed.events(events))
    assert (result.applied, result.skipped) == (len(events), 0)
    assert rows(store, "SELECT record_version, status, seq FROM records") == [
        (len(events), "cancelled", len(events))
    ]
    assert rows(store, "SELECT record_version FROM history ORDER BY apply_id") == [
        (v,) for v in range(1, len(events) + 1)
    ]
    assert store.applied_seq("50") == len(events)
    assert store.offsets() == {(hub_env.topic("50"), 0): len(events)}


def test_duplicates_and_older_versions_change_nothing(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    events = lifecycle(hub_env, "50", cert("50", 1), ("registered", "suspended", "reinstated"))
    store.apply_batch(feed.events(events))
    before = rows(store, "SELECT * EXCLUDE (committed_at, synced_at) FROM records")
    again = store.apply_batch(feed.events([*events, events[0], events[2]]))
    assert (again.applied, again.skipped) == (0, 5)
    assert rows(store, "SELECT * EXCLUDE (committed_at, synced_at) FROM records") == before
    assert rows(store, "SELECT count(*) FROM history") == [(3,)]


def test_list_changes_and_scalar_changes_both_land(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    c = cert("50", 2)
    store.apply_batch(feed.events([make_event(hub_env, "registered", "50", c, 1, name="李娜")]))
    # Separate batches so each change is an update of a stored row, not an in-batch merge.
    store.apply_batch(feed.events([make_event(hub_env, "site_filed", "50", c, 2, name="李娜")]))
    assert rows(store, "SELECT length(site_org_codes), name FROM records") == [(1, "李娜")]
    store.apply_batch(feed.events([make_event(hub_env, "changed", "50", c, 3, name="李 娜")]))
    got = rows(store, "SELECT record_version, name, name_norm, name_pinyin, org_code FROM records")
    assert got[0][:4] == (3, "李 娜", "李娜", "lina")
    assert got[0][4] == SECOND_INSTITUTION.org_code  # the approved change moved it
    store.apply_batch(feed.events([make_event(hub_env, "suspended", "50", c, 4, name="李 娜")]))
    assert rows(store, "SELECT record_version, status, length(site_org_codes) FROM records") == [
        (4, "suspended", 0)
    ]


def test_progress_is_gap_aware() -> None:
    p = advance(Progress(), [1, 2, 5, 4])
    assert (p.applied_seq, p.max_seq, sorted(p.pending)) == (2, 5, [4, 5])
    p = advance(p, [3, 2])
    assert (p.applied_seq, list(p.pending)) == (5, [])


def test_pending_seqs_behind_a_gap_are_kept_as_one_range() -> None:
    p = advance(Progress(), range(3, 100_003))
    p = advance(p, range(100_003, 200_003))
    assert (p.applied_seq, p.pending.starts, p.pending.ends) == (0, (3,), (200_002,))
    assert 150_000 in p.pending and 2 not in p.pending


def test_progress_survives_reopen_with_pending_seqs(hub_env: HubEnv) -> None:
    feed = Feeder(hub_env)
    evs = [make_event(hub_env, "registered", "50", cert("50", n), 1) for n in range(1, 6)]
    store = Store.open(hub_env.db)
    store.apply_batch(feed.events([evs[0], evs[2], evs[4]]))
    assert store.applied_seq("50") == 1
    assert store.is_seq_applied("50", 3) and not store.is_seq_applied("50", 2)
    store.close()
    store.close()  # idempotent
    store = Store.open(hub_env.db)
    try:
        assert store.is_seq_applied("50", 5)
        store.apply_batch(feed.events([evs[1], evs[3]], partition=1))
        assert store.applied_seq("50") == 5
        assert rows(store, "SELECT count(*) FROM progress_pending") == [(0,)]
    finally:
        store.close()


@pytest.mark.parametrize("old_first", [True, False])
def test_transfer_supersedes_the_old_record_in_either_order(
    hub_env: HubEnv, store: Store, old_first: bool
) -> None:
    feed = Feeder(hub_env)
    old, new = cert("50", 3), cert("44", 3)
    old_side = [
        make_event(hub_env, "registered", "50", old, 1),
        make_event(hub_env, "transferred_out", "50", old, 2, to_province="44"),
    ]
    new_side = [
        make_event(
            hub_env, "registered", "44", new, 1, transfer_from={"province": "50", "cert_no": old}
        )
    ]
    for part in (old_side, new_side) if old_first else (new_side, old_side):
        store.apply_batch(feed.events(part))
    assert rows(
        store,
        "SELECT province, status, superseded_by_province, superseded_by_cert_no"
        " FROM records ORDER BY province",
    ) == [("44", "active", None, None), ("50", "transferred_out", "44", new)]


def test_transfer_keeping_the_code_moves_the_record(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    c = cert("50", 4)
    store.apply_batch(feed.events([make_event(hub_env, "registered", "50", c, 1)]))
    moved = {"province": "50", "cert_no": c}
    store.apply_batch(
        feed.events([make_event(hub_env, "registered", "44", c, 1, transfer_from=moved)])
    )
    late_old = store.apply_batch(
        feed.events([make_event(hub_env, "transferred_out", "50", c, 2, to_province="44")])
    )
    # The old province's release is taken (and kept aside): it confirms the move.
    assert late_old.applied == 1 and late_old.dead_letters == 0
    assert rows(store, "SELECT province, record_version, status FROM records") == [
        ("44", 1, "active")
    ]
    assert rows(store, "SELECT province, record_version, status FROM unshown_records") == [
        ("50", 2, "transferred_out")
    ]


def test_a_second_province_claiming_a_cert_is_dead_lettered(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    c = cert("50", 5)
    store.apply_batch(feed.events([make_event(hub_env, "registered", "50", c, 1)]))
    result = store.apply_batch(feed.events([make_event(hub_env, "registered", "11", c, 1)]))
    assert result.dead_letters == 1
    assert rows(store, "SELECT province FROM records") == [("50",)]
    assert rows(store, "SELECT split_part(reason, ':', 1), key FROM dead_letters") == [
        ("cert_conflict", c)
    ]
    assert store.is_seq_applied("11", 1)


def test_a_conflicting_seq_stays_rejected_after_reopen(hub_env: HubEnv) -> None:
    feed = Feeder(hub_env)
    c = cert("50", 6)
    store = Store.open(hub_env.db)
    try:
        store.apply_batch(feed.events([make_event(hub_env, "registered", "50", c, 1)]))
        claim = make_event(hub_env, "registered", "11", c, 1)
        store.apply_batch(feed.events([claim, claim]))
    finally:
        store.close()
    store = Store.open(hub_env.db)
    try:
        assert store.applied_seq("11") == claim.seq  # processed: the frontier moved on
        assert store.is_seq_rejected("11", claim.seq)
        assert not store.is_seq_rejected("50", 1)
    finally:
        store.close()


def test_an_untrusted_event_does_not_move_the_frontier(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    evs = [make_event(hub_env, "registered", "50", cert("50", n), 1) for n in range(1, 4)]
    forged = signed(hub_env, evs[1], signer=hub_env.signers["11"])
    store.apply_batch(feed.batch([signed(hub_env, evs[0]), forged, signed(hub_env, evs[2])]))
    assert store.applied_seq("50") == evs[0].seq
    assert not store.is_seq_applied("50", evs[1].seq)
    assert not store.is_seq_rejected("50", evs[1].seq)


def test_dead_letter_bytes_never_keep_an_id_number(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    value = b'{"province": "50", "record": {"person": {"id_number": "110101199001011234"}}}'
    headers = signed_headers(hub_env.signers["50"], value)
    store.apply_batch(feed.batch([Message(hub_env.topic("50"), b"k", value, headers)]))
    (raw, reason), *_ = rows(store, "SELECT raw, reason FROM dead_letters")
    assert b"110101199001011234" not in raw
    assert b'"id_number":"[redacted]"' in raw
    assert reason.startswith("schema:") and "id_number redacted" in reason


async def test_a_failed_query_does_not_show_duckdb_text(store: Store) -> None:
    with pytest.raises(StoreError) as err:
        await store.fetch("SELECT * FROM no_such_table")
    assert "no_such_table" not in str(err.value) and "Catalog" not in str(err.value)


def test_heartbeats_keep_the_latest_per_province(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    store.apply_batch(feed.batch([heartbeat(hub_env, "50", 5, 4), heartbeat(hub_env, "50", 6, 6)]))
    store.apply_batch(feed.batch([heartbeat(hub_env, "11", 1, 1)]))
    hbs = store.heartbeats()
    assert (hbs["50"].heartbeat.committed_seq, hbs["11"].heartbeat.published_seq) == (6, 1)


def test_heartbeats_alone_are_written_at_close(hub_env: HubEnv) -> None:
    feed = Feeder(hub_env)
    store = Store.open(hub_env.db)
    store.apply_batch(feed.batch([heartbeat(hub_env, "50", 5, 4), heartbeat(hub_env, "50", 6, 6)]))
    assert rows(store, "SELECT count(*) FROM heartbeats") == [(0,)]
    store.close()
    reopened = Store.open(hub_env.db)
    try:
        assert rows(reopened, "SELECT province, committed_seq FROM heartbeats") == [("50", 6)]
        assert reopened.offsets() == {(hub_env.heartbeats_topic, 0): 2}
    finally:
        reopened.close()


def test_heartbeats_held_in_memory_go_with_the_next_event_batch(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    store.apply_batch(feed.batch([heartbeat(hub_env, "11", 1, 1)]))
    ev = make_event(hub_env, "registered", "50", cert("50", 1), 1)
    store.apply_batch(feed.batch([signed(hub_env, ev)]))
    assert rows(store, "SELECT province FROM heartbeats") == [("11",)]


def test_open_refuses_a_file_another_process_holds(hub_env: HubEnv, tmp_path: Path) -> None:
    with store_held_elsewhere(hub_env.db):
        with pytest.raises(StoreError, match="in use by another process"):
            Store.open(hub_env.db)
