"""Institution keys: shown once, stored hashed, revocable."""

from __future__ import annotations

import sqlite3

import pytest

from national_hub.notify.institutions import InstitutionError, Institutions, key_digest

ORG = "12500000450400012K"


def test_key_authenticates_its_institution(conn: sqlite3.Connection) -> None:
    key = Institutions(conn).add(ORG, "医院")
    inst = Institutions(conn).authenticate(key)
    assert inst is not None and inst.org_code == ORG


def test_only_the_digest_is_stored(conn: sqlite3.Connection) -> None:
    key = Institutions(conn).add(ORG, "医院")
    stored = [tuple(r) for r in conn.execute("SELECT * FROM institutions")]
    assert key not in str(stored) and key_digest(key) in str(stored)


def test_wrong_key_authenticates_nobody(conn: sqlite3.Connection) -> None:
    Institutions(conn).add(ORG, "医院")
    assert Institutions(conn).authenticate("rsk_wrong") is None


def test_revoked_key_is_refused(conn: sqlite3.Connection) -> None:
    institutions = Institutions(conn)
    key = institutions.add(ORG, "医院")
    institutions.revoke(ORG)
    assert institutions.authenticate(key) is None


def test_second_key_needs_a_revocation(conn: sqlite3.Connection) -> None:
    institutions = Institutions(conn)
    institutions.add(ORG, "医院")
    with pytest.raises(InstitutionError):
        institutions.add(ORG, "医院")


def test_listed_with_state(conn: sqlite3.Connection) -> None:
    institutions = Institutions(conn)
    institutions.add(ORG, "医院")
    institutions.revoke(ORG)
    [inst] = institutions.every()
    assert inst.org_code == ORG and inst.revoked_at is not None
