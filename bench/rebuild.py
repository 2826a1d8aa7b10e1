"""Rebuild (issue #6, item 2).

Fills the topics with --records signed `registered` events over 31 provinces, then runs
`national-hub rebuild --config ... --quiet` as its own process and reports its wall time,
its peak RSS (ru_maxrss from wait4: the largest single process, and a sampled peak of the
summed RSS of its process tree, since the decode workers are child processes), its CPU
seconds (wait4: the process plus its reaped children) and the records held afterwards.

    .venv/bin/python bench/rebuild.py [--records 5000000] [--provinces 31]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import duckdb
from common import (
    BIN,
    PROVINCES_31,
    RssSampler,
    create_topics,
    emit,
    federation,
    kafka,
    produce_registered,
    spawn,
    stderr,
    stop_process,
    workdir,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_000_000, help="events on the topics")
    ap.add_argument("--provinces", type=int, default=31)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    provinces = PROVINCES_31[: args.provinces]

    with workdir(args.keep) as root, kafka(root, heap="1g") as cluster:
        fed = federation(root / "fed", provinces, cluster.bootstrap)
        asyncio.run(create_topics(fed))
        fill = asyncio.run(produce_registered(fed, args.records))
        stderr.print(f"filled {fill['events']} events in {fill['seconds']}s; rebuilding ...")
        cmd = [str(BIN / "national-hub"), "rebuild", "--config", str(fed.config), "--quiet"]
        t0 = time.perf_counter()
        proc = spawn(cmd, cwd=fed.state, log=fed.state / "rebuild.log")
        try:
            with RssSampler(proc.pid, interval=0.2) as rss:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
            elapsed = time.perf_counter() - t0
        finally:
            stop_process(proc)
        if proc.returncode != 0:
            tail = (fed.state / "rebuild.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"rebuild failed with {proc.returncode}:\n{tail}")
        with duckdb.connect(str(fed.db), read_only=True) as con:
            row = con.execute("SELECT count(*) FROM records").fetchone()
        db_bytes = fed.db.stat().st_size

    results: dict[str, Any] = {
        "fill": fill,
        "rebuild": {
            "records": args.records,
            "records_held": row[0] if row else None,
            "wall_seconds": round(elapsed, 2),
            "events_per_s": round(args.records / elapsed, 1),
            "ru_maxrss_mib": round(usage.ru_maxrss / 1024, 1),
            "peak_rss_mib_process_tree_sampled": round(rss.tree_peak / 2**20, 1),
            "cpu_seconds_wait4": round(usage.ru_utime + usage.ru_stime, 2),
            "duckdb_file_mib": round(db_bytes / 2**20, 1),
        },
    }
    emit("rebuild", args, results)


if __name__ == "__main__":
    main()
