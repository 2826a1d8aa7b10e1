"""Hub snapshots against rebuild (issue 16, item 1).

Fills the topics with --records signed `registered` events, runs `national-hub rebuild` (the
recovery without a snapshot) and starts a hub on its files until /readyz answers; then, with
that hub serving, `national-hub snapshot` through its ops route (size, wall time); stops it and
starts a replica with `national-hub serve --from-snapshot FILE` on new files, timed from the
command to /readyz 200. All in one run, on one Kafka, on the same data.

    .venv/bin/python bench/snapshot.py [--records 1000000] [--provinces 31] \
        > bench/results/snapshot_1m.json
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time
from typing import Any

import duckdb
from common import (
    BIN,
    PROVINCES_31,
    emit,
    filled_federation,
    hub_env,
    run_rebuild,
    spawn,
    stderr,
    stop_process,
    wait_http,
)


def free_port() -> int:
    """A port nobody listens on now (other benchmarks on this machine use the stack's ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="events on the topics")
    ap.add_argument("--provinces", type=int, default=31)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    provinces = PROVINCES_31[: args.provinces]

    with filled_federation(provinces, args.records, args.keep) as (fed, fill):
        stderr.print("rebuilding ...")
        rebuild = run_rebuild(fed, args.records)
        results: dict[str, Any] = {"fill": fill, "rebuild": rebuild}

        # The rebuilt hub: from `serve` to ready.
        log = fed.state / "hub.log"
        listen = ["--listen", f"127.0.0.1:{free_port()}"]
        t0 = time.perf_counter()
        hub = spawn(
            [str(BIN / "national-hub"), "serve", "--config", str(fed.config), *listen],
            cwd=fed.state,
            log=log,
            env=hub_env(),
        )
        try:
            wait_http(f"http://{listen[1]}/readyz", hub, timeout=600, log=log)
            rebuilt_ready = time.perf_counter() - t0
            stderr.print(f"rebuilt hub ready in {rebuilt_ready:.1f}s; taking a snapshot ...")
            out = fed.state / "hub.snapshot"
            more = ["--out", str(out), "--quiet", *listen]
            t0 = time.perf_counter()
            snap = subprocess.run(
                [str(BIN / "national-hub"), "snapshot", "--config", str(fed.config), *more],
                cwd=fed.state,
                env={**os.environ, **hub_env(), "REGSYNC_OPS_TOKEN": fed.secrets.ops_token},
                capture_output=True,
                text=True,
                check=False,
            )
            snapshot_s = time.perf_counter() - t0
            if snap.returncode != 0:
                raise SystemExit(f"snapshot failed: {snap.stderr}")
            stderr.print(snap.stdout.strip())
        finally:
            stop_process(hub)

        # A replica on new files, seeded from the snapshot: from `serve --from-snapshot` to ready.
        db = fed.state / "replica" / "national.duckdb"
        port = free_port()
        where = ["--listen", f"127.0.0.1:{port}", "--db", str(db), "--from-snapshot", str(out)]
        log = fed.state / "replica.log"
        t0 = time.perf_counter()
        replica = spawn(
            [str(BIN / "national-hub"), "serve", "--config", str(fed.config), *where],
            cwd=fed.state,
            log=log,
            env=hub_env(),
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", replica, timeout=600, log=log)
            seeded_ready = time.perf_counter() - t0
        finally:
            stop_process(replica)
        with duckdb.connect(str(db), read_only=True) as con:
            row = con.execute("SELECT count(*) FROM records").fetchone()
        results["snapshot"] = {
            "bytes": out.stat().st_size,
            "mib": round(out.stat().st_size / 2**20, 1),
            "wall_seconds_cli": round(snapshot_s, 2),
            "taken_while": "the rebuilt hub served (no reads or writes flowing)",
        }
        results["start_to_ready"] = {
            "rebuild_then_serve_seconds": round(rebuild["wall_seconds"] + rebuilt_ready, 2),
            "serve_on_rebuilt_files_seconds": round(rebuilt_ready, 2),
            "serve_from_snapshot_seconds": round(seeded_ready, 2),
            "replica_records": row[0] if row else None,
        }
    emit("snapshot", args, results)


if __name__ == "__main__":
    main()
