"""Which signed heartbeats the store takes (issue 12, findings 3 and 4), on a real DuckDB file.

A heartbeat says "the province was alive at sent_at". A re-sent old one must not say it again,
and one from a node's clock glitch an hour ahead must not hold back the true ones after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import duckdb
import pytest
from hubkit import HubEnv, Message, heartbeat

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, Raw
from national_hub.store.store import Store
from schemas.timestamps import utc_now

HOUR = timedelta(hours=1)


def beat(env: HubEnv, province: str, committed: int, sent_at: datetime) -> Message:
    """A heartbeat the province signed, sent (by its clock) at sent_at."""
    return heartbeat(env, province, committed, committed, sent_at)


class Feeder:
    """Messages to batches, with growing offsets, as the consumer hands them over."""

    def __init__(self, env: HubEnv) -> None:
        self.decoder = Decoder(DecoderSpec.from_settings(env.settings()))
        self.offset = 0

    def batch(self, *messages: Message) -> Batch:
        raws = []
        for m in messages:
            raws.append(Raw(m.topic, 0, self.offset, m.key, m.value, m.headers))
            self.offset += 1
        b = Batch()
        b.extend(self.decoder.decode_many(raws))
        return b


@pytest.fixture
def store(hub_env: HubEnv) -> Iterator[Store]:
    s = Store.open(hub_env.db)
    yield s
    s.close()


def sent_at(store: Store, province: str = "50") -> datetime:
    return store.heartbeats()[province].heartbeat.sent_at


def _ms(t: datetime) -> datetime:
    """t as a heartbeat carries it (milliseconds)."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


# ---- replays (finding 4) -----------------------------------------------------------------------


def test_a_replayed_heartbeat_does_not_refresh_liveness(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    genuine = beat(hub_env, "50", 7, utc_now())
    store.apply_batch(feed.batch(genuine))
    first_received = store.heartbeats()["50"].received_at
    store.apply_batch(feed.batch(genuine))
    assert store.heartbeats()["50"].received_at == first_received


def test_a_replayed_heartbeat_is_no_clock_sample(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    genuine = beat(hub_env, "50", 7, utc_now())
    store.apply_batch(feed.batch(genuine))
    assert store.apply_batch(feed.batch(genuine)).beats == []


def test_an_older_heartbeat_resent_refreshes_nothing(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    old, last = beat(hub_env, "50", 6, now - timedelta(seconds=2)), beat(hub_env, "50", 7, now)
    store.apply_batch(feed.batch(old, last))
    received = store.heartbeats()["50"].received_at
    result = store.apply_batch(feed.batch(old))
    assert (result.beats, store.heartbeats()["50"].received_at) == ([], received)


def test_a_heartbeat_with_more_committed_in_the_same_millisecond_is_newer(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    store.apply_batch(feed.batch(beat(hub_env, "50", 6, now), beat(hub_env, "50", 7, now)))
    assert store.heartbeats()["50"].heartbeat.committed_seq == 7


# ---- a clock glitch (finding 3) ----------------------------------------------------------------


def test_a_far_future_heartbeat_does_not_hold_back_the_next_ones(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now - timedelta(seconds=1))))
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now + HOUR)))
    store.apply_batch(feed.batch(beat(hub_env, "50", 2, now)))
    assert sent_at(store) == _ms(now)


def test_a_far_future_heartbeat_is_no_clock_sample(hub_env: HubEnv, store: Store) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now - timedelta(seconds=1))))
    assert store.apply_batch(feed.batch(beat(hub_env, "50", 1, now + HOUR))).beats == []


def test_a_far_future_heartbeat_is_not_kept_across_a_restart(hub_env: HubEnv) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    store = Store.open(hub_env.db)
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now - timedelta(seconds=1))))
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now + HOUR)))
    store.close()
    store = Store.open(hub_env.db)
    try:
        store.apply_batch(feed.batch(beat(hub_env, "50", 2, now)))
        assert sent_at(store) == _ms(now)
    finally:
        store.close()


def test_a_far_future_heartbeat_already_stored_does_not_block_the_next(hub_env: HubEnv) -> None:
    """What an older hub kept (it took any newer sent_at) stops counting once it looks wrong."""
    Store.open(hub_env.db).close()
    now = utc_now()
    with duckdb.connect(str(hub_env.db)) as con:
        con.execute("INSERT INTO heartbeats VALUES ('50', 1, 1, 0, NULL, ?, ?)", [now + HOUR, now])
    store = Store.open(hub_env.db)
    try:
        store.apply_batch(Feeder(hub_env).batch(beat(hub_env, "50", 2, now)))
        assert sent_at(store) == _ms(now)
    finally:
        store.close()


def test_a_province_clock_stepped_forward_is_followed_after_a_few_heartbeats(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now - timedelta(seconds=1))))
    # Each sent as it arrives, by a clock that now runs an hour ahead.
    for _ in range(8):
        last = utc_now() + HOUR
        store.apply_batch(feed.batch(beat(hub_env, "50", 1, last)))
    assert sent_at(store) == _ms(last)


def test_a_province_clock_minutes_ahead_from_the_start_is_taken(
    hub_env: HubEnv, store: Store
) -> None:
    now = utc_now() + timedelta(seconds=90)
    store.apply_batch(Feeder(hub_env).batch(beat(hub_env, "50", 1, now)))
    assert sent_at(store) == _ms(now)


def test_heartbeats_of_other_provinces_are_judged_on_their_own(
    hub_env: HubEnv, store: Store
) -> None:
    feed = Feeder(hub_env)
    now = utc_now()
    store.apply_batch(feed.batch(beat(hub_env, "50", 1, now + HOUR)))
    store.apply_batch(feed.batch(beat(hub_env, "44", 1, now)))
    assert sent_at(store, "44") == _ms(now)
