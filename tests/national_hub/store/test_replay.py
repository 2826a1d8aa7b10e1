"""Replays change nothing: the same topics read again from offset 0 leave every table as it was."""

from __future__ import annotations

import duckdb
from hubkit import (
    HubEnv,
    Message,
    cert,
    lifecycle,
    make_event,
    running_hub,
    send,
    signed,
    snapshot,
    wait_offsets,
)


async def test_replaying_every_topic_from_zero_changes_nothing(kafka_env: HubEnv) -> None:
    env = kafka_env
    events = []
    for province in ("50", "44", "11"):
        for n in range(30):
            events += lifecycle(env, province, cert(province, n), ("registered", "suspended"))
    old, new = cert("50", 99), cert("44", 99)
    events += [
        make_event(env, "registered", "50", old, 1),
        make_event(
            env, "registered", "44", new, 1, transfer_from={"province": "50", "cert_no": old}
        ),
        make_event(env, "transferred_out", "50", old, 2, to_province="44"),
    ]
    messages = [signed(env, e) for e in events]
    messages.append(Message(env.topic("11"), b"x", b"not json", []))
    # The producer's retry of a message it already sent: a duplicate on the topic itself.
    messages.append(signed(env, events[0]))
    await send(env, messages)

    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, len(messages))
    before = snapshot(env.db)
    assert len(before["records"]) == 92 and len(before["history"]) == len(events)
    assert len(before["dead_letters"]) == 1

    with duckdb.connect(str(env.db)) as con:
        con.execute("DELETE FROM offsets")
    async with running_hub(env.settings()) as client:
        await wait_offsets(client, env, len(messages))
    after = snapshot(env.db)
    assert after == before
