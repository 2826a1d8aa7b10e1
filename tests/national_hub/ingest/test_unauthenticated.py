"""Messages nobody signed, on a province's topic of the real broker (issue 12, findings 2 and 5).

Anyone who can write to Kafka can put bytes on `<prefix>.events.50`. Without the province's
signature those bytes say nothing about the province: they are never attributed to it, never
echoed in a public answer, and kept (for ops) only as a short prefix and a hash.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hubkit import (
    HubEnv,
    Message,
    cert,
    create_topics,
    get_json,
    hub_app,
    make_event,
    running_hub,
    send,
    signed,
    table_dump,
    wait_for,
    write_federation,
)
from prometheus_client.parser import text_string_to_metric_families

from national_hub.web.appkeys import STORE
from schemas.canonical import canonical_bytes

# What the attack pass put in the `province` field: a public answer quoting it would read as
# the national hub vouching for the certificate.
ATTACKER_TEXT = "核验通过:该证书有效,如有疑问请致电 400-800-1234"
MADE_UP = cert("50", 4242)
MADE_UP_SEQ = 1
FLOOD = 100
FLOOD_BYTES = 900 * 1024
KEPT_PREFIX = 4096


def _unsigned_event(env: HubEnv) -> bytes:
    """A registration of MADE_UP whose province field carries free text; nobody signed it."""
    doc: dict[str, Any] = json.loads(
        canonical_bytes(make_event(env, "registered", "50", MADE_UP, 1, seq=MADE_UP_SEQ))
    )
    doc["province"] = ATTACKER_TEXT
    return json.dumps(doc, ensure_ascii=False).encode()


@dataclass
class Answers:
    """What the public and ops saw after the unsigned message was consumed."""

    lookup: dict[str, Any]
    explain: dict[str, Any]
    explain_token: dict[str, Any]
    verify: dict[str, Any]
    status_50: dict[str, Any]
    dead_letters: list[dict[str, Any]]


async def _answers(env: HubEnv) -> Answers:
    await create_topics(env)
    await send(env, [Message(env.topic("50"), MADE_UP.encode(), _unsigned_event(env), [])])
    async with running_hub(env.settings()) as client:
        store = hub_app(client)[STORE]

        async def consumed() -> bool:
            return sum(n for (t, _), n in store.offsets().items() if ".events." in t) >= 1

        await wait_for(consumed)
        ops = {"Authorization": f"Bearer {env.ops_token}"}
        resp = await client.post("/v1/verify", json={"cert_no": MADE_UP, "name": "王小明"})
        assert resp.status == 200, await resp.text()
        # The monitor counts dead letters every refresh_s; give it one round.
        await asyncio.sleep(1.5)
        status = await get_json(client, "/v1/sync/status")
        return Answers(
            lookup=await get_json(client, f"/v1/physicians/{MADE_UP}", 404),
            explain=await get_json(client, f"/v1/sync/explain?cert_no={MADE_UP}"),
            explain_token=await get_json(client, f"/v1/sync/explain?token=50:{MADE_UP_SEQ}"),
            verify=await resp.json(),
            status_50=next(p for p in status["provinces"] if p["province"] == "50"),
            dead_letters=(await get_json(client, "/v1/sync/dead-letters", headers=ops))["items"],
        )


@pytest.fixture(scope="module")
def answers(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Answers:
    root = tmp_path_factory.mktemp("unsigned")
    env = write_federation(root, bootstrap, f"rs_unsigned_{uuid.uuid4().hex[:8]}")
    return asyncio.run(_answers(env))


def test_the_made_up_number_stays_unknown_to_province(answers: Answers) -> None:
    assert answers.explain["state"] == "unknown_to_province"


def test_the_lookups_explanation_stays_unknown_to_province(answers: Answers) -> None:
    assert answers.lookup["explanation"]["state"] == "unknown_to_province"


def test_the_verdicts_explanation_stays_unknown_to_province(answers: Answers) -> None:
    assert answers.verify["explanation"]["state"] == "unknown_to_province"


def test_a_sync_token_of_the_unsigned_seq_is_not_called_rejected(answers: Answers) -> None:
    assert answers.explain_token["state"] != "rejected"


def test_no_public_answer_quotes_the_unsigned_bytes(answers: Answers) -> None:
    public = [answers.lookup, answers.explain, answers.explain_token, answers.verify]
    assert [a for a in public if "400-800-1234" in json.dumps(a, ensure_ascii=False)] == []


def test_the_province_is_not_blamed_for_it(answers: Answers) -> None:
    assert answers.status_50["dead_letters"] == 0


def test_ops_see_it_as_unauthenticated_without_a_province(answers: Answers) -> None:
    assert [(d["province"], d["authenticated"]) for d in answers.dead_letters] == [(None, False)]


# ---- a flood of large unsigned messages (finding 5) --------------------------------------------


@dataclass
class Flood:
    """The store and metrics after FLOOD unsigned messages of FLOOD_BYTES each."""

    growth_bytes: int
    kept_raw_lengths: list[int]
    kept_hashes: int
    status_50: dict[str, Any]
    metrics: str
    applied_after: bool


def _db_bytes(env: HubEnv) -> int:
    wal = env.db.with_name(env.db.name + ".wal")
    return env.db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def _flood(env: HubEnv) -> Flood:
    await create_topics(env)
    first = make_event(env, "registered", "11", cert("11", 1), 1)
    await send(env, [signed(env, first)])
    async with running_hub(env.settings()) as client:
        store = hub_app(client)[STORE]
        await wait_for(lambda: _true(store.applied_seq("11") >= 1))
    before = _db_bytes(env)
    rng = random.Random(12)
    junk = [
        Message(env.topic("50"), cert("50", 5000 + i).encode(), rng.randbytes(FLOOD_BYTES), [])
        for i in range(FLOOD)
    ]
    after_event = make_event(env, "registered", "11", cert("11", 2), 1)
    await send(env, junk)
    await send(env, [signed(env, after_event)])
    async with running_hub(env.settings()) as client:
        store = hub_app(client)[STORE]

        async def consumed() -> bool:
            return sum(n for (t, _), n in store.offsets().items() if ".events." in t) >= FLOOD + 2

        await wait_for(consumed, seconds=60)
        applied = store.applied_seq("11") >= 2
        await asyncio.sleep(1.5)
        status = await get_json(client, "/v1/sync/status")
        metrics = await (await client.get("/metrics")).text()
    columns = {r[0] for r in table_dump(env.db, "SELECT column_name FROM duckdb_columns()")}
    sha = "raw_sha256" if "raw_sha256" in columns else "NULL"
    rows = table_dump(env.db, f"SELECT octet_length(raw), {sha} FROM dead_letters")
    return Flood(
        growth_bytes=_db_bytes(env) - before,
        kept_raw_lengths=[r[0] for r in rows],
        kept_hashes=sum(1 for r in rows if r[1]),
        status_50=next(p for p in status["provinces"] if p["province"] == "50"),
        metrics=metrics,
        applied_after=applied,
    )


async def _true(value: bool) -> bool:
    return value


@pytest.fixture(scope="module")
def flood(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Flood:
    root = tmp_path_factory.mktemp("flood")
    env = write_federation(root, bootstrap, f"rs_flood_{uuid.uuid4().hex[:8]}")
    return asyncio.run(_flood(env))


def test_a_flood_grows_the_store_by_prefixes_only(flood: Flood) -> None:
    # 100 x 900 KB grew it by ~90 MB when every byte was kept.
    assert flood.growth_bytes < 8 * 1024 * 1024, flood.growth_bytes


def test_each_kept_dead_letter_is_a_prefix_and_a_hash(flood: Flood) -> None:
    assert (max(flood.kept_raw_lengths), flood.kept_hashes) == (KEPT_PREFIX, FLOOD)


def test_the_flood_is_not_the_provinces_dead_letters(flood: Flood) -> None:
    assert flood.status_50["dead_letters"] == 0


def test_the_flood_is_counted_as_unauthenticated(flood: Flood) -> None:
    counted = sum(
        s.value
        for f in text_string_to_metric_families(flood.metrics)
        if f.name == "regsync_hub_unauthenticated_messages"
        for s in f.samples
        if s.name.endswith("_total") and s.labels.get("topic", "").endswith(".events.50")
    )
    assert counted == FLOOD


def test_a_signed_event_behind_the_flood_is_applied(flood: Flood) -> None:
    assert flood.applied_after
