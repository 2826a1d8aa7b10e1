"""Kafka topic names: a province's events topic is built and read back in one place."""

from __future__ import annotations

import re

import pytest

from schemas.topics import (
    events_topic,
    events_topic_pattern,
    events_topic_province,
    heartbeats_topic,
)


def test_events_topic_is_prefix_events_province() -> None:
    assert events_topic("regsync", "50") == "regsync.events.50"


def test_heartbeats_topic_is_prefix_heartbeats() -> None:
    assert heartbeats_topic("regsync") == "regsync.heartbeats"


def test_the_province_is_read_back_from_its_topic() -> None:
    assert events_topic_province("regsync", events_topic("regsync", "50")) == "50"


@pytest.mark.parametrize(
    "topic",
    [
        "regsync.heartbeats",
        "other.events.50",
        "regsync.events.5",
        "regsync.events.500",
        "regsync.events.５０",  # full-width digits pass str.isdigit()
        "regsync.events.²³",  # so do superscripts
        "regsync.events.",
    ],
)
def test_a_topic_of_no_province_reads_none(topic: str) -> None:
    assert events_topic_province("regsync", topic) is None


def test_the_pattern_matches_every_events_topic() -> None:
    assert re.match(events_topic_pattern("regsync"), events_topic("regsync", "66"))


@pytest.mark.parametrize("topic", ["regsync.heartbeats", "regsync.events.500", "regsyncXevents.50"])
def test_the_pattern_matches_nothing_else(topic: str) -> None:
    assert not re.match(events_topic_pattern("regsync"), topic)


def test_the_pattern_refuses_a_trailing_newline() -> None:
    assert not re.match(events_topic_pattern("regsync"), "regsync.events.50\n")
