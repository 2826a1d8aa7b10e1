"""The manifest's pure parts: its JSON round trip and the comparison of a copy with it."""

from __future__ import annotations

from datetime import UTC, datetime

from national_hub.snapshot.manifest import Manifest, Member, SinkFacts, differences

FACTS = SinkFacts({"p.events.50:0": 12}, {"50": 12}, {"records": 3, "history": 12})


def test_manifest_round_trips_through_json() -> None:
    manifest = Manifest(
        datetime(2026, 12, 5, 15, 0, tzinfo=UTC),
        FACTS,
        SinkFacts({"p.events.50:0": 12}, {"50": 12}, {"records": 3}),
        (Member("store.duckdb", 10, "ab" * 32),),
    )
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_a_copy_alike_has_no_differences() -> None:
    assert differences("store", FACTS, FACTS) == []


def test_a_copy_behind_names_the_offset() -> None:
    behind = SinkFacts({"p.events.50:0": 11}, FACTS.applied_seq, FACTS.counts)
    assert differences("store", FACTS, behind) == [
        "store offsets p.events.50:0: manifest 12, copy 11"
    ]
