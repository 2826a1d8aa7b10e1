"""An institution's watch list: the certificates it enrolled, and whether it watches its roster."""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from national_hub.notify.schema import write
from schemas.errors import RegsyncError

# A CSV upload bigger than this is refused before it is read (50,000 rows of 15 digits and a
# few columns fit in well under 2 MiB).
MAX_CSV_BYTES = 4 * 1024 * 1024


class WatchLimitReached(RegsyncError):
    """Enrolling these certificates would take the institution over its limit."""

    def __init__(self, limit: int, current: int, adding: int) -> None:
        super().__init__(
            f"an institution watches at most {limit} certificates: {current} are watched "
            f"and {adding} would be added"
        )
        self.limit = limit


@dataclass(slots=True)
class Enrolment:
    """What an enrolment did: added, already watched, not in the registry, not a number."""

    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)


def is_cert_no(value: str) -> bool:
    """Exactly 15 ASCII digits (schemas.record.CertNo)."""
    return len(value) == 15 and value.isascii() and value.isdigit()


def csv_cert_nos(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The (line, cert_no) of each row of a CSV upload, and (line, reason) of each bad row.

    The certificate is the first column; a first row that is not a number is a header
    (cert_no, 证书编号, ...) and skipped; blank rows are skipped.
    """
    found: list[tuple[int, str]] = []
    rejects: list[tuple[int, str]] = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        value = cells[0].lstrip("\ufeff")
        if is_cert_no(value):
            found.append((n, value))
        elif n == 1 and not value.isdigit():
            continue
        elif not value:
            rejects.append((n, "the first column is empty: it must be a certificate number"))
        else:
            rejects.append((n, f"{value[:40]!r} is not a certificate number (15 digits)"))
    return found, rejects


class WatchList:
    """Enrolments of every institution (SQL of watch_certs and roster)."""

    def __init__(self, conn: sqlite3.Connection, limit: int) -> None:
        self._conn = conn
        self._limit = limit

    def add(
        self, org_code: str, cert_nos: Sequence[str], known: Callable[[Sequence[str]], set[str]]
    ) -> Enrolment:
        """Enrol certificates; `known` says which of them the national registry holds.

        All or nothing against the limit: a request that would pass it adds none.
        """
        result = Enrolment()
        wanted: list[str] = []
        seen: set[str] = set()
        for c in cert_nos:
            if not is_cert_no(c):
                result.invalid.append(c)
            elif c not in seen:
                seen.add(c)
                wanted.append(c)
        present = known(wanted)
        candidates = [c for c in wanted if c in present]
        result.unknown = [c for c in wanted if c not in present]
        now = time.time()
        with write(self._conn) as conn:
            watched = self._watched(conn, org_code, candidates)
            result.already = [c for c in candidates if c in watched]
            result.added = [c for c in candidates if c not in watched]
            count = self.count(org_code)
            if count + len(result.added) > self._limit:
                raise WatchLimitReached(self._limit, count, len(result.added))
            conn.executemany(
                "INSERT INTO watch_certs (org_code, cert_no, created_at) VALUES (?, ?, ?)",
                [(org_code, c, now) for c in result.added],
            )
        return result

    @staticmethod
    def _watched(conn: sqlite3.Connection, org_code: str, certs: Iterable[str]) -> set[str]:
        found: set[str] = set()
        chunk: list[str] = []
        for c in [*certs, None]:
            if c is not None:
                chunk.append(c)
            if chunk and (c is None or len(chunk) == 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT cert_no FROM watch_certs WHERE org_code = ? AND cert_no IN ({marks})",
                    (org_code, *chunk),
                )
                found.update(r[0] for r in rows)
                chunk = []
        return found

    def count(self, org_code: str) -> int:
        """How many certificates the institution watches."""
        row = self._conn.execute(
            "SELECT count(*) FROM watch_certs WHERE org_code = ?", (org_code,)
        ).fetchone()
        return int(row[0])

    def page(self, org_code: str, after: str, limit: int) -> list[tuple[str, float]]:
        """(cert_no, enrolled at) after a cert_no, in order, at most limit."""
        rows = self._conn.execute(
            "SELECT cert_no, created_at FROM watch_certs WHERE org_code = ? AND cert_no > ? "
            "ORDER BY cert_no LIMIT ?",
            (org_code, after, limit),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def remove(self, org_code: str, cert_no: str) -> bool:
        """Stop watching a certificate; False if it was not watched."""
        with write(self._conn) as conn:
            cur = conn.execute(
                "DELETE FROM watch_certs WHERE org_code = ? AND cert_no = ?", (org_code, cert_no)
            )
            return cur.rowcount > 0

    def set_roster(self, org_code: str, enabled: bool) -> None:
        """Watch (or stop watching) everyone whose primary institution or site is org_code."""
        with write(self._conn) as conn:
            if enabled:
                conn.execute(
                    "INSERT INTO roster (org_code, enabled_at) VALUES (?, ?) "
                    "ON CONFLICT (org_code) DO NOTHING",
                    (org_code, time.time()),
                )
            else:
                conn.execute("DELETE FROM roster WHERE org_code = ?", (org_code,))

    def roster_enabled(self, org_code: str) -> bool:
        """Whether the institution watches its roster."""
        row = self._conn.execute("SELECT 1 FROM roster WHERE org_code = ?", (org_code,)).fetchone()
        return row is not None
