"""Reading the province's own topic back: its highest seq and its events, on real Kafka."""

from __future__ import annotations

import pytest
from nodekit import FedEnv, Node, eventually, registration

from province_node import topic_log


async def _published(node: Node, seq: int) -> bool:
    status = await node.status()
    return bool(status["published_seq"] >= seq)


async def test_highest_seq_of_an_absent_topic_is_zero(fed: FedEnv) -> None:
    assert await topic_log.highest_seq(fed.settings()) == 0


async def test_highest_seq_is_the_last_published_seq(fed: FedEnv, node: Node) -> None:
    for i in range(1, 6):
        await node.register(registration(i))
    await eventually(lambda: _published(node, 5))
    assert await topic_log.highest_seq(fed.settings()) == 5


async def test_read_all_returns_every_event_with_its_signature(fed: FedEnv, node: Node) -> None:
    for i in range(1, 4):
        await node.register(registration(i))
    await eventually(lambda: _published(node, 3))
    events = await topic_log.read_all(fed.settings())
    assert sorted((e.seq, len(e.sig)) for e in events) == [(1, 64), (2, 64), (3, 64)]


async def test_unreachable_kafka_is_reported_not_waited_on(fed: FedEnv) -> None:
    settings = fed.settings()
    nowhere = settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update={"bootstrap": "127.0.0.1:9"}),
            "kafka_timeout_s": 1.0,
        }
    )
    with pytest.raises(topic_log.TopicUnreadable, match="did not answer"):
        await topic_log.highest_seq(nowhere)
