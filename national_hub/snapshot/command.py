"""What `national-hub snapshot` and `restore` (and `serve --from-snapshot`) do, with a progress
bar: national_hub.cli parses the arguments and opens the sinks; this module runs the steps."""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from national_hub.index.index import ServingIndex
from national_hub.snapshot.archive import SnapshotError
from national_hub.snapshot.client import SnapshotClient
from national_hub.snapshot.manifest import Manifest
from national_hub.snapshot.restore import Target, restore
from national_hub.snapshot.take import SnapshotState, run
from national_hub.store.store import Store

POLL_S = 0.2


def bar(quiet: bool) -> Progress:
    """Bytes copied per step (none with --quiet)."""
    return Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        disable=quiet,
    )


def _show(progress: Progress, tasks: dict[str, TaskID], state: dict[str, Any]) -> None:
    """Move the bar of the state's phase (a new bar per phase)."""
    phase = str(state["phase"])
    if phase in ("done", "failed", "waiting"):
        return
    if phase not in tasks:
        tasks[phase] = progress.add_task(phase, total=state["total_bytes"] or None)
    progress.update(tasks[phase], completed=state["done_bytes"], total=state["total_bytes"] or None)


def via_hub(client: SnapshotClient, out: Path, quiet: bool) -> dict[str, Any]:
    """Have the running hub take the snapshot (into its snapshot folder, under out's name);
    follow it to the end, then move it to out. Its last state."""
    state = client.start(out.name)
    tasks: dict[str, TaskID] = {}
    with bar(quiet) as progress:
        while state["phase"] not in ("done", "failed"):
            _show(progress, tasks, state)
            time.sleep(POLL_S)
            state = client.state()
    if state["phase"] == "failed":
        raise SnapshotError(str(state["error"]))
    # Where the hub says it wrote the file: a replica named by --hub has its own folder,
    # which the federation file does not tell.
    written = Path(str(state["out"]))
    if not written.is_file():
        raise SnapshotError(
            f"the hub wrote the snapshot to {written} on its own machine, not this one: "
            f"copy it from there (or run this command where the hub runs)"
        )
    if written.resolve() != out:
        shutil.move(written, out)
    return state


def _state_dict(state: SnapshotState) -> dict[str, Any]:
    m = state.manifest
    return {
        "out": str(state.out),
        "phase": state.phase,
        "done_bytes": state.done_bytes,
        "total_bytes": state.total_bytes,
        "error": state.error,
        "seconds": state.seconds,
        "records": None if m is None else m.records(),
        "offsets": None if m is None else m.store.offsets,
    }


def directly(
    open_store: Callable[[], Store],
    open_index: Callable[[], ServingIndex],
    out: Path,
    quiet: bool,
) -> dict[str, Any]:
    """No hub runs on these files: open them here and take the snapshot the same way."""
    store = open_store()
    try:
        index = open_index()
        try:
            state = SnapshotState(out)
            worker = threading.Thread(target=run, args=(store, index, state), daemon=True)
            worker.start()
            tasks: dict[str, TaskID] = {}
            with bar(quiet) as progress:
                while worker.is_alive():
                    _show(progress, tasks, _state_dict(state))
                    worker.join(POLL_S)
        finally:
            index.close()
    finally:
        store.close()
    if state.phase == "failed":
        raise SnapshotError(str(state.error))
    return _state_dict(state)


def lay_down(path: Path, target: Target, force: bool, quiet: bool) -> Manifest:
    """Check the snapshot and replace the target's files with it, with a bar of bytes read."""
    if not path.is_file():
        raise SnapshotError(f"{path}: no such snapshot file")
    with bar(quiet) as progress:
        task = progress.add_task("restore", total=path.stat().st_size)
        return restore(path, target, force=force, on_bytes=lambda n: progress.advance(task, n))


def ops_token(args: argparse.Namespace) -> str:
    """The ops token from --ops-token-file or REGSYNC_OPS_TOKEN ("" when neither: a hub that
    is not running needs none)."""
    if args.ops_token_file:
        return Path(args.ops_token_file).read_text(encoding="utf-8").strip()
    return os.environ.get("REGSYNC_OPS_TOKEN", "").strip()


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The `snapshot` and `restore` subcommands' arguments (national_hub.cli sets their func)."""
    snap = sub.add_parser(
        "snapshot",
        help="write a verified snapshot of the hub's store and index (while it serves)",
    )
    snap.add_argument("--config", required=True, help="federation TOML file")
    snap.add_argument("--out", required=True, metavar="FILE", help="the snapshot file (new)")
    snap.add_argument(
        "--hub",
        metavar="URL",
        help="the running hub to ask, e.g. one replica's own http://127.0.0.1:18081 "
        "(default: hub.listen or --listen); nothing answering there is an error",
    )
    snap.add_argument(
        "--ops-token-file",
        metavar="FILE",
        help="the ops token (default: $REGSYNC_OPS_TOKEN); a running hub asks for it",
    )
    restore = sub.add_parser(
        "restore", help="lay a snapshot down as the hub's store and index (hub stopped)"
    )
    restore.add_argument("--config", required=True, help="federation TOML file")
    restore.add_argument("--from", dest="snapshot", required=True, metavar="FILE")
    restore.add_argument("--force", action="store_true", help="replace a store holding data")
    for p in (snap, restore):
        p.add_argument("--listen", metavar="HOST:PORT", help="the replica's, instead of hub.listen")
        p.add_argument("--db", metavar="FILE", help="the replica's DuckDB file, instead of hub.db")
        p.add_argument("--index", metavar="FILE", help="its serving index")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
    return snap, restore
