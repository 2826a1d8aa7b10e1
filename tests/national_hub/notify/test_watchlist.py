"""Enrolling certificates, the CSV reader, the limit, the roster flag."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest

from national_hub.notify.watchlist import WatchLimitReached, WatchList, csv_cert_nos

ORG = "12500000450400012K"
A, B, C = "500000000000001", "500000000000002", "500000000000003"


def known(certs: Sequence[str]) -> set[str]:
    return {c for c in certs if c != C}


def test_add_sorts_each_number(conn: sqlite3.Connection) -> None:
    watch = WatchList(conn, limit=10)
    watch.add(ORG, [A], known)
    r = watch.add(ORG, [A, B, C, "12x"], known)
    assert (r.added, r.already, r.unknown, r.invalid) == ([B], [A], [C], ["12x"])


def test_limit_is_all_or_nothing(conn: sqlite3.Connection) -> None:
    watch = WatchList(conn, limit=1)
    with pytest.raises(WatchLimitReached):
        watch.add(ORG, [A, B], known)
    assert watch.count(ORG) == 0


def test_remove(conn: sqlite3.Connection) -> None:
    watch = WatchList(conn, limit=10)
    watch.add(ORG, [A], known)
    assert watch.remove(ORG, A) and not watch.remove(ORG, A)


def test_page_in_order_after_a_number(conn: sqlite3.Connection) -> None:
    watch = WatchList(conn, limit=10)
    watch.add(ORG, [B, A], known)
    assert [c for c, _ in watch.page(ORG, A, 10)] == [B]


def test_roster_flag(conn: sqlite3.Connection) -> None:
    watch = WatchList(conn, limit=10)
    watch.set_roster(ORG, True)
    assert watch.roster_enabled(ORG)
    watch.set_roster(ORG, False)
    assert not watch.roster_enabled(ORG)


def test_csv_header_skipped_and_bad_rows_named_by_line() -> None:
    found, rejects = csv_cert_nos(f"cert_no,name\n{A},张三\n12345\n\n,x\n{B}\n")
    assert found == [(2, A), (6, B)]
    assert [line for line, _ in rejects] == [3, 5]
