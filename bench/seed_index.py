"""How fast a new serving index is filled from the DuckDB store (national_hub.ingest.seeding).

A store is built by applying synthetic registrations (decoded events built directly, as in
bench/serving_index.py; no Kafka, no signatures), then one new index is seeded from it per
mode: `rebuild` (the default: the secondary indexes and triggers of records dropped for the
copy and rebuilt after it) and `keep` (they stay and are maintained row by row). Also timed:
reading the export alone (DuckDB's side). Prints one JSON object (bench/common.emit).

    .venv/bin/python bench/seed_index.py --records 200000
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from common import emit, stderr
from serving_index import PROVINCES, event

from national_hub.index.index import ServingIndex
from national_hub.ingest.messages import Batch, events_to_arrow
from national_hub.store.store import Store
from province_node import synthetic

TARGET = 5_000_000


def build_store(path: Path, records: int, batch: int) -> dict[str, Any]:
    """A store of `records` registrations over PROVINCES, applied in batches of `batch`."""
    store = Store.open(path)
    per = records // len(PROVINCES)
    t0 = time.perf_counter()
    for p in PROVINCES:
        insts = synthetic.institutions(p)
        chunk = []
        for n, row in enumerate(synthetic.registrations(p, per, seed=3)):
            if n % 10 == 0:
                row["sites"] = [insts[n % len(insts)]["org_code"]]
            chunk.append(event(row, p, n + 1, 1, n))
            if len(chunk) == batch:
                b = Batch(events=[events_to_arrow(chunk)])
                b.offsets = {(chunk[0].topic, 0): chunk[-1].offset + 1}
                store.apply_batch(b)
                chunk = []
        if chunk:
            b = Batch(events=[events_to_arrow(chunk)], offsets={(chunk[0].topic, 0): n + 1})
            store.apply_batch(b)
        stderr.print(f"store: {p} done, {time.perf_counter() - t0:.0f} s")
    store.close()
    return {"records": per * len(PROVINCES), "seconds": round(time.perf_counter() - t0, 1)}


def read_export(store: Store) -> dict[str, Any]:
    """The export read to its end without writing anything: DuckDB's share of a seed."""
    t0 = time.perf_counter()
    rows = 0
    with store.export_serving() as export:
        for reader in (export.records, export.unshown):
            for b in reader:
                rows += b.num_rows
    seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def seed(store: Store, path: Path, rebuild: bool, chunk: int) -> dict[str, Any]:
    """Seed a new index at path; rate, the largest WAL seen and the file's size."""
    wal = Path(f"{path}-wal")
    wal_max = 0

    def progress(done: int, total: int) -> None:
        nonlocal wal_max
        wal_max = max(wal_max, wal.stat().st_size if wal.exists() else 0)
        stderr.print(f"  {done:,} of {total:,} rows, {time.perf_counter() - t0:.0f} s")

    index = ServingIndex.open(path)
    t0 = time.perf_counter()
    with store.export_serving() as export:
        copied = index.seed(export, progress, chunk_rows=chunk, rebuild_indexes=rebuild)
    seconds = time.perf_counter() - t0
    wal_max = max(wal_max, wal.stat().st_size if wal.exists() else 0)
    index.close()
    rate = copied / seconds
    return {
        "rows": copied,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rate),
        "extrapolated_5m_s": round(TARGET / rate),
        "wal_max_mib": round(wal_max / 2**20, 1),
        "file_mib": round(path.stat().st_size / 2**20, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000, help="events per store apply")
    ap.add_argument("--chunk", type=int, default=50_000, help="rows per seed transaction")
    ap.add_argument("--modes", default="rebuild,keep", help="rebuild, keep or both")
    ap.add_argument("--dir", help="work directory (a temporary one if not given)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        db = Path(tmp) / "hub.db"
        built = build_store(db, args.records, args.batch)
        store = Store.open(db)
        results: dict[str, Any] = {"store": built, "export_read": read_export(store)}
        for mode in args.modes.split(","):
            stderr.print(f"seeding ({mode})")
            results[f"seed_{mode}"] = seed(
                store, Path(tmp) / f"{mode}.sqlite", mode == "rebuild", args.chunk
            )
            os.remove(Path(tmp) / f"{mode}.sqlite")
        store.close()
    results["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    emit("seed_index", args, results)


if __name__ == "__main__":
    main()
