"""Laying a snapshot down as a hub's store and index: checked member by member, re-opened and
compared with the manifest, and only then moved into place. The hub started on the files resumes
ingest from the offsets they hold and catches up from Kafka."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from national_hub.snapshot.archive import (
    Progress,
    SnapshotError,
    extract_checked,
    read_manifest,
)
from national_hub.snapshot.manifest import INDEX_MEMBER, STORE_MEMBER, Manifest
from national_hub.snapshot.take import STORE_WAL_MEMBER, verify_copies


@dataclass(frozen=True, slots=True)
class Target:
    """Where the hub keeps its sinks (HubSettings.db_path and serving_index_path)."""

    store: Path
    index: Path

    def files(self) -> list[Path]:
        """Every file that belongs to the two sinks, whether present or not."""
        return [
            self.store,
            Path(str(self.store) + ".wal"),
            self.index,
            Path(str(self.index) + "-wal"),
            Path(str(self.index) + "-shm"),
        ]

    def present(self) -> list[Path]:
        return [p for p in self.files() if p.exists() and p.stat().st_size > 0]


def _refuse_running(store: Path) -> None:
    """A store another process holds is a running hub: never replaced, --force or not."""
    if not store.exists():
        return
    try:
        duckdb.connect(str(store), read_only=True).close()
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise SnapshotError(
                f"{store} is in use by a running hub; stop it before restoring"
            ) from None


def check(path: Path, on_bytes: Progress) -> Manifest:
    """Verify a snapshot without laying it down: manifest, sizes and sha256 of every member."""
    manifest = read_manifest(path)
    extract_checked(path, manifest, None, on_bytes)
    return manifest


def restore(path: Path, target: Target, *, force: bool, on_bytes: Progress) -> Manifest:
    """Replace the target's store and index with the snapshot's; refuses a target holding data
    unless force. Nothing is replaced until every member passed its checks."""
    manifest = read_manifest(path)
    _refuse_running(target.store)
    present = target.present()
    if present and not force:
        raise SnapshotError(
            f"{present[0]} holds data already; restore into an empty place or add --force"
        )
    for parent in {target.store.parent, target.index.parent}:
        parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".restore.", dir=target.store.parent))
    try:
        files = extract_checked(path, manifest, work, on_bytes)
        verify_copies(manifest.store, manifest.index, files[STORE_MEMBER], files[INDEX_MEMBER])
        for old in target.files():
            old.unlink(missing_ok=True)
        shutil.move(files[STORE_MEMBER], target.store)
        if STORE_WAL_MEMBER in files:
            shutil.move(files[STORE_WAL_MEMBER], Path(str(target.store) + ".wal"))
        shutil.move(files[INDEX_MEMBER], target.index)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest
