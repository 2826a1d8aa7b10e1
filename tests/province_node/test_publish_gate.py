"""When Kafka did not answer at start, the relay checks the topic before it publishes anything."""

from __future__ import annotations

import asyncio

from nodekit import FedEnv, Node, eventually, registration, start_node

from province_node import topic_log


async def _published(node: Node, seq: int) -> bool:
    return bool((await node.status())["published_seq"] >= seq)


async def test_a_registry_behind_its_topic_publishes_nothing(fed: FedEnv, node: Node) -> None:
    for i in range(1, 4):
        await node.register(registration(i))
    await eventually(lambda: _published(node, 3))
    await node.client.close()
    # The same province on an empty registry (its disk lost, no backup): seq 1 is taken.
    behind = fed.settings(
        db_path=fed.root / "var" / "empty.sqlite", check_topic_before_publish=True
    )
    second = await start_node(behind, fed.tokens)
    try:
        await second.register(registration(10))
        await asyncio.sleep(3)
        events = await topic_log.read_all(fed.settings())
    finally:
        await second.client.close()
    assert sorted(e.seq for e in events) == [1, 2, 3]


async def test_a_registry_level_with_its_topic_publishes_after_the_check(
    fed: FedEnv,
) -> None:
    node = await start_node(fed.settings(check_topic_before_publish=True), fed.tokens)
    try:
        await node.register(registration(1))
        await eventually(lambda: _published(node, 1))
    finally:
        await node.client.close()
    assert await topic_log.highest_seq(fed.settings()) == 1
