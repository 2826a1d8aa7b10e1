"""The "province disk lost" drill against a running stack, with its figures as one JSON object.

On a stack started with `./dev up --detach --state DIR --provinces 50 --records N`: back up
province 50 while registrations flow, register more after the backup, lose the registry
(SIGTERM the node, the backup copied over its file), start the node (refused), `recover`,
restart it from the command in stack.json, register more, then check the topic (no seq with
two events, gap-free) and the hub (every touched record equal to the registry's).

    .venv/bin/python bench/province_restore.py --state DIR [--after 300] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from province_node import topic_log
from province_node.config import NodeSettings
from province_node.synthetic import registrations
from schemas.federation import load_federation

BIN = Path(sys.executable).parent


def cli(config: Path, code: str, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "province-node"), *args, "--config", str(config), "--province", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return proc, time.monotonic() - started


def restore(backup_file: Path, db: Path) -> None:
    """The lost disk replaced: the backup becomes the registry file."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup_file, db)


def restart(cmd: list[str], log_path: Path) -> None:
    """Start the node again with the command stack.json recorded."""
    with log_path.open("ab") as log:
        subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def show(label: str, proc: subprocess.CompletedProcess[str]) -> None:
    print(f"$ province-node {label}", file=sys.stderr)
    print((proc.stdout + proc.stderr).strip(), file=sys.stderr)
    print(f"(exit {proc.returncode})", file=sys.stderr)


async def wait_published(http: aiohttp.ClientSession, url: str, token: str) -> int:
    while True:
        async with http.get(
            f"{url}/v1/sync/status", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            body = await r.json()
        if body["outbox_backlog"] == 0:
            return int(body["committed_seq"])
        await asyncio.sleep(0.2)


async def wait_healthy(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(f"{url}/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


async def register_all(
    http: aiohttp.ClientSession, url: str, token: str, bodies: list[dict[str, Any]]
) -> list[int]:
    sem = asyncio.Semaphore(16)
    seqs: list[int] = []

    async def one(body: dict[str, Any]) -> None:
        async with (
            sem,
            http.post(
                f"{url}/v1/registrations", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as r,
        ):
            assert r.status == 201, await r.text()
            seqs.append(int((await r.json())["sync_token"].split(":")[1]))

    await asyncio.gather(*(one(b) for b in bodies))
    return sorted(seqs)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--province", default="50")
    parser.add_argument("--during", type=int, default=200, help="registrations during backup")
    parser.add_argument("--after", type=int, default=300, help="registrations after backup")
    parser.add_argument("--later", type=int, default=50, help="registrations after recover")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stack = json.loads((args.state / "stack.json").read_text())
    code = args.province
    node = stack["provinces"][code]
    config = Path(stack["config"])
    settings = NodeSettings.from_federation(load_federation(config), code)
    url, token = node["url"], node["registrar_token"]
    bodies = list(registrations(code, args.during + args.after + args.later, seed=777))
    during = bodies[: args.during]
    after = bodies[args.during : args.during + args.after]
    later = bodies[args.during + args.after :]
    backup_file = args.state / f"province-{code}.backup.sqlite"
    backup_file.unlink(missing_ok=True)
    result: dict[str, Any] = {"province": code}
    async with aiohttp.ClientSession() as http:
        writing = asyncio.create_task(register_all(http, url, token, during))
        proc, seconds = await asyncio.to_thread(
            cli, config, code, "backup", "--out", str(backup_file), "--no-progress"
        )
        show(f"backup --out {backup_file.name}", proc)
        await writing
        result |= {"backup_seconds": round(seconds, 2), "backup_bytes": backup_file.stat().st_size}
        await register_all(http, url, token, after)
        result["topic_seq_before_loss"] = await wait_published(http, url, token)

        os.kill(node["pid"], signal.SIGTERM)
        for _ in range(300):
            try:
                os.kill(node["pid"], 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.1)
        await asyncio.to_thread(restore, backup_file, settings.db_path)

        refused, _ = await asyncio.to_thread(cli, config, code, "serve")
        show("serve   # on the restored backup", refused)
        recovered, seconds = await asyncio.to_thread(cli, config, code, "recover", "--no-progress")
        show("recover", recovered)
        again, _ = await asyncio.to_thread(cli, config, code, "recover", "--no-progress")
        show("recover   # again: idempotent", again)
        result |= {
            "refused_exit": refused.returncode,
            "refused_line": refused.stderr.strip().splitlines()[-1],
            "recover_seconds": round(seconds, 2),
            "recover_output": recovered.stdout.strip().splitlines(),
        }
        await asyncio.to_thread(restart, node["cmd"], Path(node["log"]))
        await wait_healthy(http, url)
        later_seqs = await register_all(http, url, token, later)
        result["first_seq_after_recover"] = later_seqs[0]
        await wait_published(http, url, token)

        events = await topic_log.read_all(settings)
        ids: dict[int, set[str]] = {}
        for e in events:
            ids.setdefault(e.seq, set()).add(e.event_id)
        seqs = sorted(ids)
        result["topic_events"] = len(events)
        result["topic_max_seq"] = seqs[-1]
        result["reused_seqs"] = sum(1 for found in ids.values() if len(found) > 1)
        result["gap_free"] = seqs == list(range(1, len(seqs) + 1))

        viewer = {"Authorization": f"Bearer {node['viewer_token']}"}
        mismatched = 0
        deadline = time.monotonic() + 120
        for body in during + after + later:
            while True:
                async with http.get(
                    f"{url}/v1/registrations/{body['cert_no']}", headers=viewer
                ) as r:
                    mine = (await r.json())["record"]
                async with http.get(f"{stack['hub']['url']}/v1/physicians/{body['cert_no']}") as r:
                    hub = await r.json() if r.status == 200 else {}
                public = {k: v for k, v in mine.items() if k not in ("id_number", "person_ref")}
                if {k: hub.get(k) for k in public} == public:
                    break
                if time.monotonic() > deadline:
                    mismatched += 1
                    break
                await asyncio.sleep(0.2)
        result["checked_records"] = len(bodies)
        result["hub_mismatched"] = mismatched
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
