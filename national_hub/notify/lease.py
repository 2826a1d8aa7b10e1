"""The notifier's lease: which one process is active, with an epoch that fences the others."""

from __future__ import annotations

import sqlite3

from national_hub.notify.schema import write
from schemas.errors import RegsyncError

LEASE = "notifier"


class Fenced(RegsyncError):
    """This process no longer holds the lease (another took over): it must write nothing."""


class Lease:
    """One row: holder, epoch (bumped on every change of holder) and when it runs out.

    Time is the host's wall clock, which every process sharing the file reads alike.
    """

    def __init__(self, conn: sqlite3.Connection, holder: str) -> None:
        self._conn = conn
        self.holder = holder
        self.epoch: int | None = None

    def acquire(self, now: float, ttl: float) -> bool:
        """Take or renew the lease if it is ours or has run out; whether we hold it now."""
        with write(self._conn) as c:
            row = c.execute(
                "SELECT holder, epoch, expires_at FROM lease WHERE name = ?", (LEASE,)
            ).fetchone()
            if row is None:
                epoch = 1
            elif row["holder"] == self.holder and row["epoch"] == self.epoch:
                epoch = row["epoch"]
            elif row["expires_at"] < now:
                epoch = row["epoch"] + 1
            else:
                self.epoch = None
                return False
            c.execute(
                "INSERT INTO lease (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "epoch = excluded.epoch, expires_at = excluded.expires_at",
                (LEASE, self.holder, epoch, now + ttl),
            )
        self.epoch = epoch
        return True

    def check(self, conn: sqlite3.Connection) -> None:
        """Inside a write transaction: Fenced unless the lease is still ours at our epoch."""
        row = conn.execute("SELECT holder, epoch FROM lease WHERE name = ?", (LEASE,)).fetchone()
        if row is None or row["holder"] != self.holder or row["epoch"] != self.epoch:
            raise Fenced(f"the notifier lease passed to {row['holder'] if row else 'nobody'}")

    def release(self) -> None:
        """Give the lease up at a clean stop, so a standby takes over at once."""
        if self.epoch is None:
            return
        with write(self._conn) as c:
            c.execute(
                "UPDATE lease SET expires_at = 0 WHERE name = ? AND holder = ? AND epoch = ?",
                (LEASE, self.holder, self.epoch),
            )
        self.epoch = None
