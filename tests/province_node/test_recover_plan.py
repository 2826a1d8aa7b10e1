"""recover's plan: which topic events to apply or mark published, and what it refuses."""

from __future__ import annotations

import pytest

from province_node.errors import RecoverError
from province_node.recover import plan
from province_node.topic_log import TopicEvent


def _event(seq: int, event_id: str | None = None, offset: int | None = None) -> TopicEvent:
    return TopicEvent(
        seq=seq,
        event_id=event_id or f"e{seq}",
        cert_no="500000000000001",
        type="registered",
        record_version=1,
        committed_at="2026-12-05T00:00:00Z",
        value=b"{}",
        sig=b"s" * 64,
        partition=0,
        offset=seq - 1 if offset is None else offset,
    )


def _known(*seqs: int, published: bool = True) -> dict[int, tuple[str, bool]]:
    return {s: (f"e{s}", published) for s in seqs}


def test_applies_the_events_after_the_registry() -> None:
    steps = plan([_event(s) for s in range(1, 6)], 3, _known(1, 2, 3))
    assert [e.seq for e in steps.apply] == [4, 5]


def test_a_resent_event_is_applied_once() -> None:
    events = [_event(1), _event(2), _event(2, offset=7)]
    assert [e.seq for e in plan(events, 0, {}).apply] == [1, 2]


def test_marks_published_what_the_copy_still_had_unpublished() -> None:
    steps = plan([_event(1), _event(2)], 2, {1: ("e1", True), 2: ("e2", False)})
    assert [e.seq for e in steps.mark_published] == [2]


def test_refuses_two_different_events_with_one_seq() -> None:
    with pytest.raises(RecoverError, match="two different events with seq 2"):
        plan([_event(1), _event(2), _event(2, "other", offset=5)], 0, {})


def test_refuses_a_registry_that_diverged_from_its_topic() -> None:
    with pytest.raises(RecoverError, match="diverged"):
        plan([_event(1), _event(2)], 2, {1: ("e1", True), 2: ("mine", False)})


def test_refuses_to_apply_past_a_gap() -> None:
    with pytest.raises(RecoverError, match=r"lacks events with seq \[3\]"):
        plan([_event(1), _event(2), _event(4)], 1, _known(1))


def test_nothing_to_apply_when_level() -> None:
    assert plan([_event(1)], 1, _known(1)).apply == []
