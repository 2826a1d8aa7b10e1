"""The start decision: a registry behind its topic never serves; Kafka silent gates publishing."""

from __future__ import annotations

from province_node.restore_guard import Decision, Facts, decide

RECOVER = "province-node recover --config f.toml --province 50"


def _decide(registry: int, topic: int | None, restored: bool = False) -> Decision:
    return decide(Facts(registry, topic, restored, "t.events.50", "timed out"), RECOVER)


def test_registry_behind_its_topic_is_refused() -> None:
    assert _decide(14, 23).start is False


def test_refusal_names_recover() -> None:
    assert RECOVER in _decide(14, 23).message


def test_refusal_is_one_line() -> None:
    assert "\n" not in _decide(14, 23).message


def test_registry_level_with_its_topic_starts_unguarded() -> None:
    assert _decide(23, 23) == Decision(True, False, _decide(23, 23).message)


def test_registry_ahead_of_its_topic_starts() -> None:
    # An outbox backlog (Kafka was down) is normal: those events simply wait to be published.
    assert _decide(30, 23).start is True


def test_restored_copy_with_kafka_unreachable_is_refused() -> None:
    assert _decide(14, None, restored=True).start is False


def test_live_registry_with_kafka_unreachable_starts_with_publishing_gated() -> None:
    decision = _decide(14, None)
    assert (decision.start, decision.check_before_publish) == (True, True)
