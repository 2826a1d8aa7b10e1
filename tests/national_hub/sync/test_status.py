"""decide(): a province's sync status and reason from time-windowed facts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hubkit import HubEnv, Message, cert, make_event, signed

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, Raw
from national_hub.store.store import Store
from national_hub.sync.freshness import FreshnessTracker
from national_hub.sync.status import Facts, SyncMonitor, decide
from national_hub.tuning import SyncTuning

# The windows the hub runs with unless hub.tuning.sync changes them.
WINDOWS = SyncTuning()

HEALTHY = Facts(
    label="重庆市 (50)",
    lag_seconds=0.8,
    applied_seq=100,
    committed_seq=100,
    published_seq=100,
    outbox_backlog=0,
    oldest_unpublished_age=None,
    consumer_lag=0,
    heartbeat_age=0.5,
    polling=True,
    node_polled=True,
    node_ok_age=0.4,
    node_error=None,
    kafka_connected=True,
    kafka_error=None,
    since_advance=None,
    ingest_paused=False,
    ingest_ready=True,
    ingest_error=None,
)
NODE_DOWN = {"node_ok_age": 30.0, "node_error": "cannot connect"}
KAFKA_DOWN = {"heartbeat_age": 20.0, "kafka_connected": False, "kafka_error": "timed out"}


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({}, "ok", "Up to date"),
        (
            {"heartbeat_age": None, "node_polled": False, "node_ok_age": None, "lag_seconds": None},
            "unknown",
            "heard nothing",
        ),
        ({"heartbeat_age": 7.0, **NODE_DOWN}, "offline", "does not answer"),
        (
            {"heartbeat_age": 7.0, "polling": False, "node_polled": False, "node_ok_age": None},
            "offline",
            "does not poll nodes",
        ),
        ({**KAFKA_DOWN, "outbox_backlog": 3, "oldest_unpublished_age": 12.0},
         "publishing_blocked", "3 change(s) wait"),
        ({**KAFKA_DOWN}, "publishing_blocked", "cannot reach Kafka"),
        (
            {"committed_seq": 104, "outbox_backlog": 4, "oldest_unpublished_age": 11.0},
            "publishing_blocked",
            "not getting them into Kafka",
        ),
        (
            {"lag_seconds": 40.0, "published_seq": 900, "consumer_lag": 800,
             "since_advance": 0.5},
            "lagging",
            "catching up",
        ),
        (
            {"lag_seconds": 40.0, "published_seq": 101, "consumer_lag": 1,
             "since_advance": 30.0},
            "stalled",
            "stuck at seq 100",
        ),
        (
            {"lag_seconds": 40.0, "published_seq": 101, "consumer_lag": 1,
             "since_advance": 30.0, "ingest_paused": True},
            "stalled",
            "paused by an operator",
        ),
        (
            {"lag_seconds": 40.0, "published_seq": 101, "since_advance": None,
             "ingest_ready": False, "ingest_error": "KafkaError"},
            "stalled",
            "not consuming from Kafka (KafkaError)",
        ),
    ],
)  # fmt: skip
def test_status_and_reason(changes: dict[str, object], status: str, words: str) -> None:
    got, reason = decide(replace(HEALTHY, **changes), WINDOWS)
    assert got == status, reason
    assert words in reason


def test_fresh_heartbeats_with_a_dead_node_are_not_offline() -> None:
    assert decide(replace(HEALTHY, **NODE_DOWN), WINDOWS)[0] == "ok"


def test_a_silent_kafka_path_with_an_answering_idle_node_is_not_offline() -> None:
    facts = replace(HEALTHY, heartbeat_age=60.0, kafka_connected=True)
    assert decide(facts, WINDOWS)[0] == "ok"


def test_reason_is_one_sentence() -> None:
    _, reason = decide(
        replace(HEALTHY, lag_seconds=40.0, published_seq=101, since_advance=30.0), WINDOWS
    )
    assert reason.endswith(".") and reason.count(". ") == 0


def test_stalled_reason_names_the_rejected_next_seq() -> None:
    status, reason = decide(
        replace(
            HEALTHY,
            lag_seconds=40.0,
            published_seq=105,
            since_advance=30.0,
            next_seq_rejection="bad_signature: signature does not verify",
        ),
        WINDOWS,
    )
    assert status == "stalled"
    assert "seq 101 reached the hub but was rejected (bad_signature:" in reason


@pytest.mark.parametrize(("offset", "words"), [(30.2, "30 s ahead of"), (-31.0, "31 s behind")])
def test_a_far_off_province_clock_is_named_in_the_reason(offset: float, words: str) -> None:
    status, reason = decide(replace(HEALTHY, clock_offset=offset), WINDOWS)
    assert status == "ok"
    assert f"重庆市 (50)'s clock runs {words} the hub's (lag corrected" in reason
    assert reason.endswith(".") and reason.count(". ") == 0


def test_a_province_clock_within_seconds_of_the_hub_goes_unmentioned() -> None:
    assert decide(replace(HEALTHY, clock_offset=-0.04), WINDOWS) == decide(HEALTHY, WINDOWS)


def _batch(env: HubEnv, messages: list[Message]) -> Batch:
    decoder = Decoder(DecoderSpec.from_settings(env.settings()))
    batch = Batch()
    batch.extend(
        decoder.decode_many(
            [Raw(m.topic, 0, i, m.key, m.value, m.headers) for i, m in enumerate(messages)]
        )
    )
    return batch


async def test_monitor_finds_the_rejection_just_above_the_frontier(hub_env: HubEnv) -> None:
    evs = [make_event(hub_env, "registered", "50", cert("50", n), 1) for n in range(1, 4)]
    # Signed by 50 but keyed by another certificate: 50's own refused event.
    wrong_key = signed(hub_env, evs[1])
    wrong_key.key = cert("50", 99).encode()
    store = Store.open(hub_env.db)
    try:
        store.apply_batch(
            _batch(hub_env, [signed(hub_env, evs[0]), wrong_key, signed(hub_env, evs[2])])
        )
        monitor = SyncMonitor(hub_env.settings(), store, FreshnessTracker())
        await monitor.refresh()
        rejection = monitor.view("50").facts.next_seq_rejection
    finally:
        store.close()
    assert rejection is not None and rejection.startswith("wrong_key")


async def test_the_monitor_blames_no_province_for_bytes_it_did_not_sign(hub_env: HubEnv) -> None:
    evs = [make_event(hub_env, "registered", "50", cert("50", n), 1) for n in range(1, 4)]
    forged = signed(hub_env, evs[1], signer=hub_env.signers["44"])
    store = Store.open(hub_env.db)
    try:
        store.apply_batch(
            _batch(hub_env, [signed(hub_env, evs[0]), forged, signed(hub_env, evs[2])])
        )
        monitor = SyncMonitor(hub_env.settings(), store, FreshnessTracker())
        await monitor.refresh()
        view = monitor.view("50")
    finally:
        store.close()
    assert (view.facts.next_seq_rejection, view.dead_letters) == (None, 0)
