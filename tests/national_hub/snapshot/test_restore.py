"""Laying a snapshot down: a damaged one is refused, a target holding data is kept unless
--force, and a good one gives a store and index the hub opens with the snapshot's offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubkit import store_held_elsewhere

from national_hub.index.index import ServingIndex
from national_hub.snapshot.archive import SnapshotError
from national_hub.snapshot.manifest import Manifest
from national_hub.snapshot.restore import Target, check, restore
from national_hub.snapshot.take import SnapshotState, take
from national_hub.store.store import Store


def _noop(_: int) -> None:
    pass


@pytest.fixture
def snapshot_file(tmp_path: Path) -> tuple[Path, Manifest]:
    """A snapshot of a new (empty) store and index, taken from files no hub runs on."""
    store = Store.open(tmp_path / "hub" / "national.duckdb", readers=1)
    index = ServingIndex.open(tmp_path / "hub" / "national.index.sqlite3", readers=1)
    try:
        out = tmp_path / "hub.snapshot"
        manifest = take(store, index, out, SnapshotState(out))
    finally:
        index.close()
        store.close()
    return out, manifest


def _target(root: Path) -> Target:
    return Target(root / "national.duckdb", root / "national.index.sqlite3")


def test_a_good_snapshot_checks(snapshot_file: tuple[Path, Manifest]) -> None:
    path, manifest = snapshot_file
    assert check(path, _noop) == manifest


def test_a_corrupted_snapshot_is_refused(
    snapshot_file: tuple[Path, Manifest], tmp_path: Path
) -> None:
    path, _ = snapshot_file
    data = bytearray(path.read_bytes())
    # A byte inside the store's member (past the manifest and the tar headers).
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    target = _target(tmp_path / "new")
    with pytest.raises(SnapshotError, match="corrupt"):
        restore(path, target, force=False, on_bytes=_noop)
    assert target.present() == []


def test_a_cut_short_snapshot_is_refused(
    snapshot_file: tuple[Path, Manifest], tmp_path: Path
) -> None:
    path, _ = snapshot_file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SnapshotError, match=r"cut short|corrupt"):
        restore(path, _target(tmp_path / "new"), force=False, on_bytes=_noop)


def test_a_target_holding_data_is_refused(
    snapshot_file: tuple[Path, Manifest], tmp_path: Path
) -> None:
    path, _ = snapshot_file
    target = _target(tmp_path / "old")
    Store.open(target.store, readers=1).close()
    with pytest.raises(SnapshotError, match="holds data already"):
        restore(path, target, force=False, on_bytes=_noop)


def test_force_replaces_a_target_holding_data(
    snapshot_file: tuple[Path, Manifest], tmp_path: Path
) -> None:
    path, manifest = snapshot_file
    target = _target(tmp_path / "old")
    Store.open(target.store, readers=1).close()
    assert restore(path, target, force=True, on_bytes=_noop) == manifest


def test_a_running_hubs_store_is_never_replaced(
    snapshot_file: tuple[Path, Manifest], tmp_path: Path
) -> None:
    path, _ = snapshot_file
    target = _target(tmp_path / "live")
    with store_held_elsewhere(target.store), pytest.raises(SnapshotError, match="running hub"):
        restore(path, target, force=True, on_bytes=_noop)
