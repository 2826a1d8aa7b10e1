"""Vocabularies shared by the services: province labels and the hub's sync states."""

from __future__ import annotations

from schemas.vocab import ExplanationState, SyncState, province_label


def test_a_province_label_is_its_standard_name_and_code() -> None:
    assert province_label("50") == "重庆市 (50)"


def test_a_province_label_takes_the_name_given() -> None:
    assert province_label("50", "重庆") == "重庆 (50)"


def test_a_code_of_no_province_labels_as_itself() -> None:
    assert province_label("77") == "77 (77)"


def test_sync_states_keep_their_wire_values() -> None:
    assert [s.value for s in SyncState] == [
        "ok",
        "lagging",
        "stalled",
        "publishing_blocked",
        "offline",
        "unknown",
    ]


def test_explanation_states_keep_their_wire_values() -> None:
    assert [s.value for s in ExplanationState] == [
        "applied",
        "in_transit",
        "not_published",
        "unknown_to_province",
        "province_unreachable",
        "rejected",
        "transferred",
    ]
