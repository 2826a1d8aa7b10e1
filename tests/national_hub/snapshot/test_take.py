"""Taking a snapshot of open sinks: never over an existing file, and the manifest's facts are
those of the sinks at the time (offsets included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from national_hub.index.index import ServingIndex
from national_hub.snapshot.archive import SnapshotError, extract_checked
from national_hub.snapshot.manifest import INDEX_MEMBER, STORE_MEMBER, SinkFacts
from national_hub.snapshot.take import SnapshotState, take, verify_copies
from national_hub.store.store import Store


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[tuple[Store, ServingIndex]]:
    store = Store.open(tmp_path / "national.duckdb", readers=1)
    index = ServingIndex.open(tmp_path / "national.index.sqlite3", readers=1)
    try:
        yield store, index
    finally:
        index.close()
        store.close()


def test_an_existing_file_is_never_overwritten(
    sinks: tuple[Store, ServingIndex], tmp_path: Path
) -> None:
    out = tmp_path / "taken"
    out.write_bytes(b"keep me")
    with pytest.raises(SnapshotError, match="exists already"):
        take(*sinks, out, SnapshotState(out))
    assert out.read_bytes() == b"keep me"


def test_the_archive_holds_the_store_and_the_index(
    sinks: tuple[Store, ServingIndex], tmp_path: Path
) -> None:
    out = tmp_path / "taken"
    manifest = take(*sinks, out, SnapshotState(out))
    assert [m.name for m in manifest.members] == [STORE_MEMBER, INDEX_MEMBER]


def test_no_work_files_are_left_beside_the_snapshot(
    sinks: tuple[Store, ServingIndex], tmp_path: Path
) -> None:
    out = tmp_path / "snaps" / "taken"
    out.parent.mkdir()
    take(*sinks, out, SnapshotState(out))
    assert [p.name for p in out.parent.iterdir()] == ["taken"]


def test_copies_that_differ_from_the_manifest_are_refused(
    sinks: tuple[Store, ServingIndex], tmp_path: Path
) -> None:
    out = tmp_path / "taken"
    manifest = take(*sinks, out, SnapshotState(out))
    copies = tmp_path / "copies"
    copies.mkdir()
    files = extract_checked(out, manifest, copies, lambda _: None)
    claimed = SinkFacts(manifest.store.offsets, {"50": 7}, manifest.store.counts)
    with pytest.raises(SnapshotError, match="applied seq 50"):
        verify_copies(claimed, manifest.index, files[STORE_MEMBER], files[INDEX_MEMBER])
