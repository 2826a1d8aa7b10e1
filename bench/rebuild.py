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
from typing import Any

from common import (
    PROVINCES_31,
    emit,
    filled_federation,
    run_rebuild,
    stderr,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_000_000, help="events on the topics")
    ap.add_argument("--provinces", type=int, default=31)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    provinces = PROVINCES_31[: args.provinces]

    with filled_federation(provinces, args.records, args.keep) as (fed, fill):
        stderr.print("rebuilding ...")
        rebuild = run_rebuild(fed, args.records)

    results: dict[str, Any] = {"fill": fill, "rebuild": rebuild}
    emit("rebuild", args, results)


if __name__ == "__main__":
    main()
