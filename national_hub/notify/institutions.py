"""Institutions and their API keys: issued by ops, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

from national_hub.notify.schema import write
from schemas.errors import RegsyncError

KEY_PREFIX = "rsk_"


class InstitutionError(RegsyncError):
    """An institution cannot be added or revoked as asked."""


@dataclass(frozen=True, slots=True)
class Institution:
    """One institution as ops sees it (never its key)."""

    org_code: str
    name: str
    created_at: float
    revoked_at: float | None


def new_key() -> str:
    """A fresh institution key: 256 random bits, prefixed so a leaked one is recognisable."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """What is stored of a key: its sha256 in hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _row(r: sqlite3.Row) -> Institution:
    return Institution(r["org_code"], r["name"], r["created_at"], r["revoked_at"])


class Institutions:
    """The institutions table; every call is one short statement or transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, org_code: str, name: str) -> str:
        """Enrol an institution and return its key (shown once: only its digest is kept).

        Adding a revoked institution again issues a new key and lifts the revocation.
        """
        key = new_key()
        with write(self._conn) as c:
            row = c.execute(
                "SELECT revoked_at FROM institutions WHERE org_code = ?", (org_code,)
            ).fetchone()
            if row is not None and row["revoked_at"] is None:
                raise InstitutionError(f"institution {org_code} already has a key; revoke it first")
            c.execute(
                "INSERT INTO institutions (org_code, name, key_sha256, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (org_code) DO UPDATE SET name = excluded.name, "
                "key_sha256 = excluded.key_sha256, created_at = excluded.created_at, "
                "revoked_at = NULL",
                (org_code, name, key_digest(key), time.time()),
            )
        return key

    def revoke(self, org_code: str) -> None:
        """Refuse the institution's key from now on (its watch list and webhooks stay)."""
        with write(self._conn) as c:
            cur = c.execute(
                "UPDATE institutions SET revoked_at = ? WHERE org_code = ? AND revoked_at IS NULL",
                (time.time(), org_code),
            )
            if cur.rowcount == 0:
                raise InstitutionError(f"no institution {org_code} with a key in force")

    def every(self) -> list[Institution]:
        """Every institution, by org code."""
        rows = self._conn.execute(
            "SELECT org_code, name, created_at, revoked_at FROM institutions ORDER BY org_code"
        ).fetchall()
        return [_row(r) for r in rows]

    def authenticate(self, key: str) -> Institution | None:
        """The institution whose key this is and is in force, else None.

        Looked up by digest: the key has 256 random bits, so the time an index lookup takes
        tells an attacker nothing about a valid key.
        """
        row = self._conn.execute(
            "SELECT org_code, name, created_at, revoked_at FROM institutions "
            "WHERE key_sha256 = ? AND revoked_at IS NULL",
            (key_digest(key),),
        ).fetchone()
        return None if row is None else _row(row)
