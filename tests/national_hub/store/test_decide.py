"""decide(): which events of a batch win, without DuckDB."""

from __future__ import annotations

import itertools

from national_hub.store.decide import EventFacts, Held, decide

A, B, C = "110000000000001", "500000000000002", "110000000000003"


def ev(
    cert: str,
    province: str,
    version: int,
    seq: int,
    type_: str = "registered",
    transfer_from: tuple[str, str] | None = None,
    status: str = "active",
    to_province: str | None = None,
) -> EventFacts:
    return EventFacts(cert, province, version, seq, type_, transfer_from, status, to_province)


def out(cert: str, province: str, version: int, seq: int, to: str) -> EventFacts:
    """The province's transfer out of cert to `to`."""
    return ev(cert, province, version, seq, "transferred_out", None, "transferred_out", to)


def test_a_new_certificate_wins() -> None:
    d = decide([ev("500000000000001", "50", 1, 1)], {}, {})
    assert (d.winners, d.applied) == ({"500000000000001": 0}, [0])


def test_only_the_last_winner_of_a_certificate_reaches_records() -> None:
    d = decide([ev("500000000000001", "50", 1, 1), ev("500000000000001", "50", 2, 2)], {}, {})
    assert (d.winners, d.applied) == ({"500000000000001": 1}, [0, 1])


def test_an_older_version_is_skipped() -> None:
    d = decide([ev("500000000000001", "50", 2, 7)], {"500000000000001": Held("50", 3)}, {})
    assert (d.applied, d.skipped) == ([], 1)


def test_a_skipped_event_still_counts_towards_the_frontier() -> None:
    d = decide([ev("500000000000001", "50", 2, 7)], {"500000000000001": Held("50", 3)}, {})
    assert d.seqs == {"50": [7]}


def test_another_provinces_certificate_is_refused_with_the_holder() -> None:
    d = decide([ev("500000000000001", "11", 1, 4)], {"500000000000001": Held("50", 1)}, {})
    assert [(r.index, r.holder) for r in d.refused] == [(0, "50")]


def test_applied_counts_are_per_province_and_type() -> None:
    d = decide(
        [ev("500000000000001", "50", 1, 1), ev("500000000000001", "50", 2, 2, "suspended")], {}, {}
    )
    assert dict(d.applied_counts) == {("50", "registered"): 1, ("50", "suspended"): 1}


# ---- transfers with a new certificate code ------------------------------------------------------


def test_a_transfer_in_from_an_active_record_links_but_supersedes_nothing() -> None:
    d = decide([ev(B, "50", 1, 1, transfer_from=("11", A))], {A: Held("11", 1)}, {})
    assert (d.links, d.superseded.get(A)) == ({(("11", A), ("50", B)): False}, None)


def test_a_transfer_in_from_a_revoked_record_supersedes_nothing() -> None:
    held = {A: Held("11", 2, "revoked")}
    d = decide([ev(B, "50", 1, 1, transfer_from=("11", A))], held, {})
    assert d.superseded.get(A) is None


def test_a_transfer_in_from_a_record_released_to_it_supersedes_it() -> None:
    held = {A: Held("11", 2, "transferred_out", "50")}
    d = decide([ev(B, "50", 1, 1, transfer_from=("11", A))], held, {})
    assert (d.links, d.superseded[A]) == ({(("11", A), ("50", B)): True}, ("50", B))


def test_a_record_released_to_another_province_is_not_superseded_by_this_one() -> None:
    held = {A: Held("11", 2, "transferred_out", "44")}
    d = decide([ev(B, "50", 1, 1, transfer_from=("11", A))], held, {})
    assert d.superseded.get(A) is None


def test_the_old_provinces_transfer_out_confirms_a_link_stored_before() -> None:
    link = (("11", A), ("50", B))
    d = decide([out(A, "11", 2, 2, "50")], {A: Held("11", 1)}, {link: False})
    assert (d.links, d.superseded[A], d.winners) == ({link: True}, ("50", B), {A: 0})


def test_a_confirmed_link_is_not_written_again_by_a_replay() -> None:
    link = (("11", A), ("50", B))
    held = {A: Held("11", 2, "transferred_out", "50", superseded=("50", B))}
    d = decide([out(A, "11", 2, 2, "50")], held, {link: True})
    assert (d.links, d.superseded, d.skipped) == ({}, {}, 1)


def test_a_transfer_in_from_the_own_province_is_no_transfer() -> None:
    d = decide([ev(B, "50", 1, 1, transfer_from=("50", A))], {A: Held("50", 1)}, {})
    assert d.links == {}


# ---- transfers keeping the certificate code -----------------------------------------------------


def test_a_claim_keeping_the_code_of_an_active_record_is_kept_but_not_shown() -> None:
    d = decide([ev(C, "50", 1, 4, transfer_from=("11", C))], {C: Held("11", 1)}, {})
    assert (d.winners, d.parked, d.moves, d.refused) == ({}, {("50", C): 0}, {}, [])


def test_a_claim_keeping_the_code_of_a_released_record_takes_it_over() -> None:
    held = {C: Held("11", 2, "transferred_out", "50")}
    d = decide([ev(C, "50", 1, 4, transfer_from=("11", C))], held, {})
    assert (d.winners, d.moves[C].from_province, d.moves[C].restore) == ({C: 0}, "11", False)


def test_the_old_provinces_release_shows_the_claim_kept_aside() -> None:
    link = (("11", C), ("50", C))
    parked = {C: {"50": Held("50", 1)}}
    d = decide([out(C, "11", 2, 5, "50")], {C: Held("11", 1)}, {link: False}, parked)
    assert (d.winners, d.parked, d.moves[C].to_province, d.moves[C].restore) == (
        {},
        {("11", C): 0},
        "50",
        True,
    )


def test_a_claim_keeping_an_unknown_code_is_shown_until_the_old_province_speaks() -> None:
    d = decide([ev(C, "50", 1, 4, transfer_from=("11", C))], {}, {})
    assert d.winners == {C: 0}


def test_the_old_provinces_record_displaces_a_claim_it_has_not_released() -> None:
    link = (("11", C), ("50", C))
    d = decide([ev(C, "11", 1, 1)], {C: Held("50", 1)}, {link: False})
    assert (d.winners, d.moves[C].from_province, d.refused) == ({C: 0}, "50", [])


def test_a_claim_from_a_province_holding_nothing_of_the_code_is_refused() -> None:
    d = decide([ev(C, "50", 1, 4, transfer_from=("44", C))], {C: Held("11", 1)}, {})
    assert [(r.index, r.holder) for r in d.refused] == [(0, "11")]


def test_every_interleaving_of_three_provinces_decides_alike_in_one_batch() -> None:
    old = [ev(A, "11", 1, 1), out(A, "11", 2, 2, "50")]
    new = [ev(B, "50", 1, 1, transfer_from=("11", A))]
    other = [ev(C, "44", 1, 1)]
    seen = set()
    for mask in set(itertools.permutations([0, 0, 1, 2])):
        streams = [list(old), list(new), list(other)]
        order = [streams[m].pop(0) for m in mask]
        d = decide(order, {}, {})
        seen.add((tuple(sorted(d.links.items())), d.superseded.get(A)))
    link = (("11", A), ("50", B))
    assert seen == {(((link, True),), ("50", B))}
