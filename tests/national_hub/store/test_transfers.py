"""Transfers between provinces on a real DuckDB file (issue 12, finding 1).

Only the old province can release its registration: a transfer-in supersedes the old record
(or, keeping its certificate code, takes it over) only once the old record is transferred_out
to the new province, whichever of the two arrives first. Every arrival order ends alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hubkit import HubEnv, cert, make_event, signed, snapshot

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, Raw
from national_hub.store.store import Store
from schemas.events import Event

OLD, NEW = cert("11", 1), cert("50", 1)


class Feeder:
    """Events to batches, each province on its own topic with growing offsets."""

    def __init__(self, env: HubEnv) -> None:
        self.env = env
        self.decoder = Decoder(DecoderSpec.from_settings(env.settings()))
        self.next: dict[str, int] = {}

    def batch(self, events: Sequence[Event]) -> Batch:
        raws = []
        for e in events:
            m = signed(self.env, e)
            off = self.next.get(m.topic, 0)
            self.next[m.topic] = off + 1
            raws.append(Raw(m.topic, 0, off, m.key, m.value, m.headers))
        b = Batch()
        b.extend(self.decoder.decode_many(raws))
        return b


@pytest.fixture
def store(hub_env: HubEnv) -> Iterator[Store]:
    s = Store.open(hub_env.db)
    yield s
    s.close()


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in store.fetch_sync(sql)]


def superseded(store: Store, cert_no: str) -> tuple[Any, ...]:
    (got,) = rows(
        store,
        "SELECT superseded_by_province, superseded_by_cert_no FROM records"
        f" WHERE cert_no = '{cert_no}'",
    )
    return got


def claim(env: HubEnv, old: str = OLD, new: str = NEW, province: str = "50") -> Event:
    """The new province's transfer-in from 11's record `old`."""
    return make_event(
        env, "registered", province, new, 1, transfer_from={"province": "11", "cert_no": old}
    )


def apply_each(store: Store, feed: Feeder, events: Sequence[Event]) -> None:
    for e in events:
        store.apply_batch(feed.batch([e]))


# ---- a new certificate code ---------------------------------------------------------------------


@pytest.mark.parametrize("claim_first", [True, False])
def test_a_transfer_in_from_an_active_record_does_not_supersede_it(
    hub_env: HubEnv, store: Store, claim_first: bool
) -> None:
    old = make_event(hub_env, "registered", "11", OLD, 1)
    new = claim(hub_env)
    apply_each(store, Feeder(hub_env), [new, old] if claim_first else [old, new])
    assert superseded(store, OLD) == (None, None)


def test_a_transfer_in_from_a_revoked_record_does_not_supersede_it(
    hub_env: HubEnv, store: Store
) -> None:
    events = [
        make_event(hub_env, "registered", "11", OLD, 1),
        make_event(hub_env, "revoked", "11", OLD, 2),
        claim(hub_env),
    ]
    apply_each(store, Feeder(hub_env), events)
    assert superseded(store, OLD) == (None, None)


def test_a_transfer_out_to_another_province_does_not_confirm_a_claim(
    hub_env: HubEnv, store: Store
) -> None:
    events = [
        make_event(hub_env, "registered", "11", OLD, 1),
        make_event(hub_env, "transferred_out", "11", OLD, 2, to_province="44"),
        claim(hub_env),
    ]
    apply_each(store, Feeder(hub_env), events)
    assert superseded(store, OLD) == (None, None)


def test_a_second_claim_does_not_undo_a_confirmed_one(hub_env: HubEnv, store: Store) -> None:
    events = [
        make_event(hub_env, "registered", "11", OLD, 1),
        make_event(hub_env, "transferred_out", "11", OLD, 2, to_province="50"),
        claim(hub_env),
        claim(hub_env, new=cert("44", 1), province="44"),
    ]
    apply_each(store, Feeder(hub_env), events)
    assert superseded(store, OLD) == ("50", NEW)


def test_a_claim_is_stored_unconfirmed_until_the_release(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    apply_each(store, feed, [make_event(hub_env, "registered", "11", OLD, 1), claim(hub_env)])
    before = rows(store, "SELECT confirmed FROM transfer_links")
    apply_each(
        store, feed, [make_event(hub_env, "transferred_out", "11", OLD, 2, to_province="50")]
    )
    assert (before, rows(store, "SELECT confirmed FROM transfer_links")) == (
        [(False,)],
        [(True,)],
    )


# ---- keeping the certificate code ---------------------------------------------------------------


def shown(store: Store, cert_no: str = OLD) -> tuple[Any, ...]:
    (got,) = rows(store, f"SELECT province, status FROM records WHERE cert_no = '{cert_no}'")
    return got


@pytest.mark.parametrize("claim_first", [True, False])
def test_a_claim_keeping_the_code_of_an_active_record_does_not_take_it_over(
    hub_env: HubEnv, store: Store, claim_first: bool
) -> None:
    old = make_event(hub_env, "registered", "11", OLD, 1)
    same = claim(hub_env, new=OLD)
    apply_each(store, Feeder(hub_env), [same, old] if claim_first else [old, same])
    assert shown(store) == ("11", "active")


def test_a_claim_keeping_the_code_of_a_revoked_record_does_not_launder_it(
    hub_env: HubEnv, store: Store
) -> None:
    events = [
        make_event(hub_env, "registered", "11", OLD, 1),
        make_event(hub_env, "revoked", "11", OLD, 2),
        claim(hub_env, new=OLD),
    ]
    apply_each(store, Feeder(hub_env), events)
    assert shown(store) == ("11", "revoked")


@pytest.mark.parametrize("at", [0, 1, 2])
def test_a_released_code_passes_to_the_new_province_in_any_arrival_order(
    hub_env: HubEnv, store: Store, at: int
) -> None:
    old = [
        make_event(hub_env, "registered", "11", OLD, 1),
        make_event(hub_env, "transferred_out", "11", OLD, 2, to_province="50"),
    ]
    apply_each(store, Feeder(hub_env), [*old[:at], claim(hub_env, new=OLD), *old[at:]])
    assert shown(store) == ("50", "active")


def test_the_new_provinces_later_events_follow_while_its_claim_waits(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    apply_each(
        store,
        feed,
        [
            make_event(hub_env, "registered", "11", OLD, 1),
            claim(hub_env, new=OLD),
            make_event(hub_env, "suspended", "50", OLD, 2),
            make_event(hub_env, "transferred_out", "11", OLD, 2, to_province="50"),
        ],
    )
    assert rows(store, "SELECT province, record_version, status FROM records") == [
        ("50", 2, "suspended")
    ]


# ---- every arrival order, and a rebuild, end alike ----------------------------------------------


def _interleavings(streams: list[list[Event]]) -> Iterator[list[Event]]:
    """Every merge of the streams that keeps each stream's own order."""
    labels = [i for i, s in enumerate(streams) for _ in s]
    for order in sorted(set(itertools.permutations(labels))):
        queues = [list(s) for s in streams]
        yield [queues[i].pop(0) for i in order]


TABLES = ("records", "transfer_links", "unshown_records")
# What differs between two runs of the same events: when the hub wrote them.
_TIMES = ("synced_at", "linked_at")


def _state(env: HubEnv) -> dict[str, list[dict[str, Any]]]:
    snap = snapshot(env.db, TABLES)
    return {
        t: [{k: v for k, v in r.items() if k not in _TIMES} for r in rs] for t, rs in snap.items()
    }


@pytest.mark.parametrize("same_code", [False, True])
@pytest.mark.parametrize("released", [False, True])
def test_every_arrival_order_ends_alike(
    tmp_path_factory: pytest.TempPathFactory, topic_prefix: str, same_code: bool, released: bool
) -> None:
    from hubkit import write_federation

    root = tmp_path_factory.mktemp("orders")
    env = write_federation(root, "127.0.0.1:1", topic_prefix)
    new_no = OLD if same_code else NEW
    old = [make_event(env, "registered", "11", OLD, 1)]
    old.append(
        make_event(env, "transferred_out", "11", OLD, 2, to_province="50")
        if released
        else make_event(env, "suspended", "11", OLD, 2)
    )
    new = [claim(env, new=new_no), make_event(env, "assessed", "50", new_no, 2)]
    ends = []
    for n, order in enumerate(_interleavings([old, new])):
        env.db = root / f"hub-{n}.duckdb"
        store = Store.open(env.db)
        try:
            apply_each(store, Feeder(env), order)
        finally:
            store.close()
        ends.append(_state(env))
    assert all(e == ends[0] for e in ends[1:])
