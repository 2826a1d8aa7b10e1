"""decide(): which events of a batch win, without DuckDB."""

from __future__ import annotations

from national_hub.store.decide import EventFacts, decide


def ev(
    cert: str,
    province: str,
    version: int,
    seq: int,
    type_: str = "registered",
    transfer_from: tuple[str, str] | None = None,
) -> EventFacts:
    return EventFacts(cert, province, version, seq, type_, transfer_from)


def test_a_new_certificate_wins() -> None:
    d = decide([ev("500000000000001", "50", 1, 1)], {}, {})
    assert (d.winners, d.applied) == ({"500000000000001": 0}, [0])


def test_only_the_last_winner_of_a_certificate_reaches_records() -> None:
    d = decide([ev("500000000000001", "50", 1, 1), ev("500000000000001", "50", 2, 2)], {}, {})
    assert (d.winners, d.applied) == ({"500000000000001": 1}, [0, 1])


def test_an_older_version_is_skipped() -> None:
    d = decide([ev("500000000000001", "50", 2, 7)], {"500000000000001": ("50", 3)}, {})
    assert (d.applied, d.skipped) == ([], 1)


def test_a_skipped_event_still_counts_towards_the_frontier() -> None:
    d = decide([ev("500000000000001", "50", 2, 7)], {"500000000000001": ("50", 3)}, {})
    assert d.seqs == {"50": [7]}


def test_another_provinces_certificate_is_refused_with_the_holder() -> None:
    d = decide([ev("500000000000001", "11", 1, 4)], {"500000000000001": ("50", 1)}, {})
    assert [(r.index, r.holder) for r in d.refused] == [(0, "50")]


def test_a_transfer_in_keeping_the_code_takes_the_certificate_over() -> None:
    cert = "500000000000001"
    d = decide([ev(cert, "11", 1, 4, "transferred_in", ("50", cert))], {cert: ("50", 3)}, {})
    assert (d.winners, d.new_links) == ({cert: 0}, {("50", cert): ("11", cert)})


def test_the_old_provinces_events_after_a_same_code_transfer_are_skipped() -> None:
    cert = "500000000000001"
    d = decide([ev(cert, "50", 4, 9)], {cert: ("11", 1)}, {("50", cert): ("11", cert)})
    assert (d.applied, d.refused, d.skipped) == ([], [], 1)


def test_applied_counts_are_per_province_and_type() -> None:
    d = decide(
        [ev("500000000000001", "50", 1, 1), ev("500000000000001", "50", 2, 2, "suspended")], {}, {}
    )
    assert dict(d.applied_counts) == {("50", "registered"): 1, ("50", "suspended"): 1}
