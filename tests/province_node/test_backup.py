"""`province-node backup`: an online, verified, owner-only copy stamped as a backup."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest
from nodekit import FedEnv, Node, registration

from province_node import recovery_store
from province_node.backup import BackupSummary, backup
from province_node.errors import BackupError
from province_node.restore_guard import registry_position


async def _backup_while_writing(fed: FedEnv, node: Node, out: Path) -> BackupSummary:
    for i in range(1, 21):
        await node.register(registration(i))
    writes = asyncio.gather(*(node.register(registration(i)) for i in range(21, 61)))
    summary = await asyncio.to_thread(backup, fed.db, out, "50")
    await writes
    return summary


async def test_backup_taken_while_writing_holds_one_consistent_point(
    fed: FedEnv, node: Node, tmp_path: Path
) -> None:
    summary = await _backup_while_writing(fed, node, tmp_path / "b.sqlite")
    conn = sqlite3.connect(tmp_path / "b.sqlite")
    registrations, events = conn.execute(
        "SELECT (SELECT COUNT(*) FROM registrations), (SELECT MAX(seq) FROM outbox)"
    ).fetchone()
    # Every registration is one event here: the copy is a prefix of the history, not a tear.
    assert (registrations, events) == (summary.rows["registrations"], summary.last_seq)


async def test_backup_is_owner_only(fed: FedEnv, node: Node, tmp_path: Path) -> None:
    await _backup_while_writing(fed, node, tmp_path / "b.sqlite")
    assert stat.S_IMODE((tmp_path / "b.sqlite").stat().st_mode) == 0o600


async def test_backup_is_stamped_so_a_restore_checks_its_topic(
    fed: FedEnv, node: Node, tmp_path: Path
) -> None:
    summary = await _backup_while_writing(fed, node, tmp_path / "b.sqlite")
    assert registry_position(tmp_path / "b.sqlite") == (summary.last_seq, True)


async def test_the_live_registry_is_not_stamped(fed: FedEnv, node: Node, tmp_path: Path) -> None:
    await _backup_while_writing(fed, node, tmp_path / "b.sqlite")
    conn = sqlite3.connect(fed.db)
    assert recovery_store.meta_get(conn, recovery_store.RESTORED_FROM_BACKUP) is None


async def test_backup_does_not_replace_an_existing_file(
    fed: FedEnv, node: Node, tmp_path: Path
) -> None:
    (tmp_path / "b.sqlite").write_text("keep me")
    with pytest.raises(BackupError, match="already exists"):
        await _backup_while_writing(fed, node, tmp_path / "b.sqlite")


def test_backup_of_another_provinces_registry_is_refused(fed: FedEnv, tmp_path: Path) -> None:
    fed.db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(fed.db)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('province', '44');"
    )
    conn.close()
    with pytest.raises(BackupError, match="belongs to province 44"):
        backup(fed.db, tmp_path / "b.sqlite", "50")


def test_a_failed_backup_leaves_no_partial_file(fed: FedEnv, tmp_path: Path) -> None:
    fed.db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(fed.db)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('province', '44');"
    )
    conn.close()
    with pytest.raises(BackupError):
        backup(fed.db, tmp_path / "b.sqlite", "50")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.")) == []
