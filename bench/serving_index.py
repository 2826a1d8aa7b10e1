"""Micro-measurement of the serving index (national_hub.index) alone, in one process.

No Kafka, no signatures, no HTTP: synthetic registrations become decoded events directly
(`EventMsg`, as the decode workers hand them over), are applied in catch-up batches and then
one event at a time, and every search kind is timed single-threaded on the file. Prints one
JSON object. This is groundwork for issue 13, not its benchmark (bench/national_reads.py).

    .venv/bin/python bench/serving_index.py --records 50000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from national_hub.index.index import ServingIndex
from national_hub.index.plan import IndexQuery, InstitutionQuery
from national_hub.ingest.messages import Batch, EventMsg, events_to_arrow
from national_hub.ingest.names import normalise_name, pinyin_key
from province_node import synthetic

PROVINCES = ("44", "37", "41", "51", "32", "50", "11", "65")


def event(row: dict[str, Any], province: str, seq: int, version: int, offset: int) -> EventMsg:
    inst = row["primary_institution"]
    sites = row.get("sites", [])
    return EventMsg(
        topic=f"bench.events.{province}",
        partition=0,
        offset=offset,
        key=row["cert_no"],
        province=province,
        seq=seq,
        type="registered" if version == 1 else "changed",
        cert_no=row["cert_no"],
        record_version=version,
        committed_at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        transfer_from=None,
        transfer_to=None,
        record_json=orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode(),
        fields=(
            "active",
            row["name"],
            normalise_name(row["name"]),
            pinyin_key(row["name"]),
            row["gender"],
            row["level"],
            row["category"],
            row["scopes"],
            inst["org_code"],
            inst["name"],
            inst["region_code"],
            sites,
            "0" * 64,
        ),
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)

    def rank(p: float) -> float:
        return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]

    return {"p50_ms": round(rank(50) * 1000, 3), "p99_ms": round(rank(99) * 1000, 3)}


def timed(fn: Callable[[], Any], n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return percentiles(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=5_000, help="events per catch-up batch")
    ap.add_argument("--queries", type=int, default=300, help="timed queries per kind")
    ap.add_argument("--singles", type=int, default=500, help="one-event batches timed")
    args = ap.parse_args()
    rnd = random.Random(13)
    per = args.records // len(PROVINCES)
    rows: list[tuple[str, dict[str, Any]]] = []
    for p in PROVINCES:
        insts = synthetic.institutions(p)
        for row in synthetic.registrations(p, per, seed=3):
            if rnd.random() < 0.1:
                row["sites"] = [rnd.choice(insts)["org_code"]]
            rows.append((p, row))
    seqs = dict.fromkeys(PROVINCES, 0)
    offsets = dict.fromkeys(PROVINCES, 0)

    def next_event(p: str, row: dict[str, Any], version: int) -> EventMsg:
        seqs[p] += 1
        offsets[p] += 1
        return event(row, p, seqs[p], version, offsets[p] - 1)

    events = [next_event(p, row, 1) for p, row in rows]
    with tempfile.TemporaryDirectory() as tmp:
        index = ServingIndex.open(Path(tmp) / "serving.sqlite")
        t0 = time.perf_counter()
        for i in range(0, len(events), args.batch):
            chunk = events[i : i + args.batch]
            b = Batch(events=[events_to_arrow(chunk)])
            b.offsets = {(e.topic, 0): e.offset + 1 for e in chunk}
            index.apply_batch(b)
        catchup_s = time.perf_counter() - t0
        single = []
        for _ in range(args.singles):
            p, row = rnd.choice(rows)
            version = row["v"] = row.get("v", 1) + 1
            e = next_event(p, row, version)
            b = Batch(events=[events_to_arrow([e])], offsets={(e.topic, 0): e.offset + 1})
            t = time.perf_counter()
            index.apply_batch(b)
            single.append(time.perf_counter() - t)

        def pick() -> dict[str, Any]:
            return rnd.choice(rows)[1]

        def search(**kw: Any) -> None:
            index.search_sync(IndexQuery(**kw))

        with_sites = [r for _, r in rows if r.get("sites")]
        kinds: dict[str, Callable[[], Any]] = {
            "lookup": lambda: index.record_sync(pick()["cert_no"]),
            "name": lambda: search(
                name_column="name_norm", name_key=normalise_name(pick()["name"])
            ),
            "name_province": lambda: search(
                name_column="name_norm",
                name_key=normalise_name(pick()["name"]),
                province=rnd.choice(PROVINCES),
            ),
            "pinyin": lambda: search(
                name_column="name_pinyin", name_key=pinyin_key(pick()["name"])
            ),
            "pinyin_prefix_3": lambda: search(
                name_column="name_pinyin", name_key=pinyin_key(pick()["name"])[:3]
            ),
            "institution_code": lambda: search(
                institution=InstitutionQuery(code=pick()["primary_institution"]["org_code"])
            ),
            "roster_site": lambda: search(
                institution=InstitutionQuery(code=rnd.choice(with_sites)["sites"][0])
            ),
            "institution_name": lambda: search(
                institution=InstitutionQuery(
                    names=(n := pick()["primary_institution"]["name"],), substring=n
                )
            ),
            "institution_partial_4": lambda: search(
                institution=InstitutionQuery(
                    names=(n := pick()["primary_institution"]["name"][:4],), substring=n
                )
            ),
        }
        reads = {k: timed(fn, args.queries) for k, fn in kinds.items()}
        index.close()
        size = (Path(tmp) / "serving.sqlite").stat().st_size
    out = {
        "records": len(events),
        "catchup_batch": args.batch,
        "catchup_rows_per_s": round(len(events) / catchup_s),
        "single_event_apply": percentiles(single),
        "reads_single_thread": reads,
        "file_mib": round(size / 2**20, 1),
        "command": " ".join(["bench/serving_index.py", *sys.argv[1:]]),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
