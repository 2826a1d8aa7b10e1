"""`province-node backup`: an online copy of the registry with SQLite's backup API.

The copy is taken inside one read transaction on the source, so it is one consistent point of
the registry (WAL: the node keeps committing meanwhile, and the backup never restarts because
its snapshot cannot move). The copy is written beside the target, checked (integrity_check and
the row counts of that same read transaction) and only then renamed into place, owner-only: it
holds ID numbers. It is stamped as a backup, so a node restored from it checks its topic before
it serves (restore_guard).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from province_node import outbox, recovery_store
from province_node.errors import BackupError
from province_node.registry import connect
from schemas.timestamps import format_utc, utc_now

# Pages per backup step: small enough for a live progress bar, large enough to be quick.
PAGES_PER_STEP = 1024


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a finished backup holds."""

    path: Path
    last_seq: int
    rows: dict[str, int]
    bytes: int
    seconds: float


def backup(
    db_path: Path,
    out: Path,
    province: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> BackupSummary:
    """Copy the registry at db_path to out while it serves; progress(pages_done, pages_total)."""
    started = time.monotonic()
    out = Path(out)
    if not Path(db_path).is_file():
        raise BackupError(f"{db_path}: no registry file to back up")
    if out.exists() and not overwrite:
        raise BackupError(f"{out}: already exists (use --force to replace it)")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    # Owner-only from the first byte: the copy holds ID numbers.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    source = connect(Path(db_path), read_only=True)
    target = sqlite3.connect(partial, isolation_level=None)
    try:
        source.execute("BEGIN")
        owner = recovery_store.meta_get(source, "province")
        if owner is not None and owner != province:
            raise BackupError(f"{db_path}: this registry belongs to province {owner}")
        rows = recovery_store.count_rows(source)
        last_seq = outbox.last_seq(source)

        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        source.backup(target, pages=PAGES_PER_STEP, progress=step)
        source.execute("COMMIT")
        stamp = {"taken_at": format_utc(utc_now()), "last_seq": last_seq}
        recovery_store.meta_set(
            target, recovery_store.RESTORED_FROM_BACKUP, orjson.dumps(stamp).decode()
        )
        _verify(target, rows)
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException as exc:
        source.close()
        target.close()
        _remove(partial)
        if isinstance(exc, sqlite3.Error):
            raise BackupError(f"backing up {db_path}: {exc}") from None
        raise
    source.close()
    target.close()
    _remove(partial, keep_main=True)
    partial.replace(out)
    return BackupSummary(out, last_seq, rows, out.stat().st_size, time.monotonic() - started)


def _remove(partial: Path, *, keep_main: bool = False) -> None:
    """Remove a partial copy (or only its -wal/-shm leftovers)."""
    for suffix in ("-wal", "-shm") if keep_main else ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(partial) + suffix).unlink()


def _verify(target: sqlite3.Connection, rows: dict[str, int]) -> None:
    """The copy is sound and holds what the source held at the backup's point."""
    check = target.execute("PRAGMA integrity_check").fetchall()
    if check != [("ok",)]:
        raise BackupError(f"the copy failed integrity_check: {check[:3]}")
    copied = recovery_store.count_rows(target)
    # The copy has one meta row more: its backup stamp.
    expected = {**rows, "meta": rows["meta"] + 1}
    if copied != expected:
        raise BackupError(f"the copy's row counts {copied} differ from the source's {expected}")
