"""POST/GET /v1/ops/snapshot (ops): a snapshot of this hub's store and index, taken while it
serves and ingests (national_hub.snapshot.take), written under the hub's snapshot folder (the
caller names the file, never the folder). The copy runs in the background; the caller
(`national-hub snapshot`) polls the GET for progress until it is done or failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiohttp import web

from national_hub.errors import Conflict, InvalidParameter, NotFound
from national_hub.snapshot.take import (
    NAME_PATTERN,
    SnapshotSlot,
    SnapshotState,
    run,
    snapshot_dir,
)
from national_hub.web import answers
from national_hub.web.appkeys import INDEX, SETTINGS, SNAPSHOTS, STORE
from national_hub.web.params import answer_response, require_ops


def _answer(state: SnapshotState) -> answers.SnapshotState:
    m = state.manifest
    return answers.SnapshotState(
        out=str(state.out),
        phase=state.phase,  # type: ignore[arg-type]
        done_bytes=state.done_bytes,
        total_bytes=state.total_bytes,
        error=state.error,
        seconds=None if state.seconds is None else round(state.seconds, 3),
        records=None if m is None else m.records(),
        offsets=None if m is None else m.store.offsets,
    )


def _out_param(raw: bytes, folder: Path) -> Path:
    """The snapshot's path: the name given, inside the hub's snapshot folder."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidParameter.for_field("name", 'send {"name": "hub.snapshot"}') from None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidParameter.for_field(
            "name", "a file name of letters, digits, '.', '_' and '-' (no folder), 1-128 long"
        )
    path = folder / name
    if path.exists():
        raise InvalidParameter.for_field("name", f"{name} exists already; name a new file")
    return path


async def start_snapshot(request: web.Request) -> web.Response:
    """POST /v1/ops/snapshot {"name": file name}: start a snapshot; 202 with its state."""
    require_ops(request)
    folder = snapshot_dir(request.app[SETTINGS].db_path)
    out = _out_param(await request.read(), folder)
    folder.mkdir(parents=True, exist_ok=True)
    slot = request.app[SNAPSHOTS]
    if slot.current is not None and not slot.current.finished:
        raise Conflict(f"a snapshot to {slot.current.out} is being taken; wait for it")
    state = SnapshotState(out)
    slot.current = state
    loop = asyncio.get_running_loop()
    slot.task = loop.run_in_executor(None, run, request.app[STORE], request.app[INDEX], state)
    return answer_response(_answer(state), status=202)


async def get_snapshot(request: web.Request) -> web.Response:
    """GET /v1/ops/snapshot: the latest snapshot's state (404 if none was taken)."""
    require_ops(request)
    state = request.app[SNAPSHOTS].current
    if state is None:
        raise NotFound("this hub process has taken no snapshot")
    return answer_response(_answer(state))


async def _wait_on_shutdown(app: web.Application) -> None:
    """A snapshot under way finishes before the store and index close."""
    task = app[SNAPSHOTS].task
    if task is not None:
        await asyncio.wait([task])


def add_routes(app: web.Application) -> None:
    app[SNAPSHOTS] = SnapshotSlot()
    app.on_shutdown.append(_wait_on_shutdown)
    app.router.add_post("/v1/ops/snapshot", start_snapshot, name="ops_snapshot_start")
    app.router.add_get("/v1/ops/snapshot", get_snapshot, name="ops_snapshot")
