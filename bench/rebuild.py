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
from typing import Any

from common import (
    PROVINCES_31,
    create_topics,
    emit,
    federation,
    kafka,
    produce_registered,
    run_rebuild,
    stderr,
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
        rebuild = run_rebuild(fed, args.records)

    results: dict[str, Any] = {"fill": fill, "rebuild": rebuild}
    emit("rebuild", args, results)


if __name__ == "__main__":
    main()
