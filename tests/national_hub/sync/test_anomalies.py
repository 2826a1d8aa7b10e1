"""GET /v1/anomalies' findings, from a real DuckDB file fed decoded events (issue 12, 1 and 10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hubkit import HubEnv, cert, make_event, signed

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, Raw
from national_hub.store.store import Store
from national_hub.sync.anomalies import find_anomalies
from schemas.events import Event


@pytest.fixture
def store(hub_env: HubEnv) -> Iterator[Store]:
    s = Store.open(hub_env.db)
    yield s
    s.close()


def feed(env: HubEnv, store: Store, events: list[Event]) -> None:
    decoder = Decoder(DecoderSpec.from_settings(env.settings()))
    for n, e in enumerate(events):
        m = signed(env, e)
        batch = Batch()
        batch.extend([decoder.decode(Raw(m.topic, 0, n, m.key, m.value, m.headers))])
        store.apply_batch(batch)


async def kinds(store: Store) -> list[str]:
    return sorted(i["kind"] for i in (await find_anomalies(store))["items"])


async def items(store: Store, kind: str) -> list[dict[str, Any]]:
    return [i for i in (await find_anomalies(store))["items"] if i["kind"] == kind]


# The sample records share one person_ref: the same person behind every registration here.


async def test_one_person_active_twice_in_one_province_is_named_so(
    hub_env: HubEnv, store: Store
) -> None:
    feed(
        hub_env,
        store,
        [
            make_event(hub_env, "registered", "50", cert("50", 1), 1),
            make_event(hub_env, "registered", "50", cert("50", 2), 1),
        ],
    )
    assert await kinds(store) == ["person_active_twice_in_one_province"]


async def test_one_person_active_in_two_provinces_is_named_so(
    hub_env: HubEnv, store: Store
) -> None:
    feed(
        hub_env,
        store,
        [
            make_event(hub_env, "registered", "50", cert("50", 1), 1),
            make_event(hub_env, "registered", "11", cert("11", 1), 1),
        ],
    )
    assert await kinds(store) == ["person_active_in_two_provinces"]


async def test_an_unconfirmed_transfer_in_is_an_anomaly_with_the_old_records_status(
    hub_env: HubEnv, store: Store
) -> None:
    old, new = cert("11", 1), cert("50", 1)
    feed(
        hub_env,
        store,
        [
            make_event(hub_env, "registered", "11", old, 1),
            make_event(hub_env, "revoked", "11", old, 2),
            make_event(
                hub_env,
                "registered",
                "50",
                new,
                1,
                transfer_from={"province": "11", "cert_no": old},
            ),
        ],
    )
    got = await items(store, "unconfirmed_transfer")
    assert [(i["old"], i["new"], i["old_status"]) for i in got] == [
        ({"province": "11", "cert_no": old}, {"province": "50", "cert_no": new}, "revoked")
    ]


async def test_a_confirmed_transfer_is_no_anomaly(hub_env: HubEnv, store: Store) -> None:
    old, new = cert("11", 1), cert("50", 1)
    feed(
        hub_env,
        store,
        [
            make_event(
                hub_env,
                "registered",
                "50",
                new,
                1,
                transfer_from={"province": "11", "cert_no": old},
            ),
            make_event(hub_env, "registered", "11", old, 1),
            make_event(hub_env, "transferred_out", "11", old, 2, to_province="50"),
        ],
    )
    assert await items(store, "unconfirmed_transfer") == []
