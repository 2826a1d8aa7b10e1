"""The "province disk lost" drill: restore an older backup, be refused, recover, serve again.

Real processes on real Kafka: node 50 is backed up while it serves, registers more, loses its
disk (the backup is copied over its registry), refuses to start, is recovered from its topic,
starts again and keeps numbering after the topic's last seq.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.stack import BIN, Secrets, Stack
from province_node import topic_log
from province_node.config import NodeSettings
from province_node.synthetic import registrations
from schemas.federation import load_federation
from schemas.samples import suspension_until
from tests.e2e.federation import Federation, connect, stack_running
from tests.e2e.test_nodes_to_hub import public, until

CODE = "50"
NODE = f"province-{CODE}"
BEFORE, AFTER, LATER = 12, 8, 4  # registrations before the backup, after it, after recovery


@dataclass
class Drill:
    """What each step of the drill printed or left behind."""

    refused: subprocess.CompletedProcess[str]
    backup: subprocess.CompletedProcess[str]
    recover: subprocess.CompletedProcess[str]
    recover_again: subprocess.CompletedProcess[str]
    after_backup: list[str]
    reentry: list[dict[str, str]]
    events: list[topic_log.TopicEvent]
    later_seqs: list[int]
    mismatched: list[str]


def _node_cli(stack: Stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "province-node"), *args, "--config", str(stack.config), "--province", CODE],
        cwd=stack.state,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _restore(backup_file: Path, db: Path) -> None:
    """What an operator does after losing the disk: the backup file becomes the registry."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup_file, db)


def _settings(stack: Stack) -> NodeSettings:
    return NodeSettings.from_federation(load_federation(stack.config), CODE)


async def _published(fed: Federation) -> bool:
    async with fed.http.get(f"{fed.node(CODE)}/v1/sync/status", headers=fed.auth(CODE)) as r:
        body = await r.json()
    return bool(body["outbox_backlog"] == 0 and body["committed_seq"] > 0)


async def _on_hub(fed: Federation, cert_no: str, version: int) -> bool:
    status, body = await fed.hub_get(f"/v1/physicians/{cert_no}")
    return status == 200 and body["record_version"] >= version


async def _all_on_hub(fed: Federation, bodies: list[dict[str, Any]]) -> None:
    async def probe() -> bool:
        for body in bodies:
            if not await _on_hub(fed, body["cert_no"], 1):
                return False
        return True

    await until(probe)


async def _drill(fed: Federation, tmp: Path) -> Drill:
    stack = fed.stack
    bodies = list(registrations(CODE, BEFORE + AFTER + LATER, seed=4242))
    first, second, third = (
        bodies[:BEFORE],
        bodies[BEFORE : BEFORE + AFTER],
        bodies[BEFORE + AFTER :],
    )
    for body in first:
        await fed.register(CODE, body)
    await until(lambda: _published(fed))
    backup_file = tmp / "province-50.backup.sqlite"
    # Online: the node keeps registering while the backup runs.
    writing = asyncio.gather(*(fed.register(CODE, b) for b in second[:2]))
    backup = await asyncio.to_thread(_node_cli, stack, "backup", "--out", str(backup_file))
    await writing
    for body in second[2:]:
        await fed.register(CODE, body)
    # Changes to records the backup already holds: their ID numbers survive.
    for body in first[:3]:
        await fed.step(
            CODE,
            body["cert_no"],
            {"type": "suspended", "reason": "演练", "until": suspension_until()},
        )
    await until(lambda: _published(fed))
    await _all_on_hub(fed, second)

    # The disk is lost; the backup is restored in its place.
    stack.kill(NODE, signal.SIGTERM)
    db = stack.state / "var" / f"province-{CODE}.sqlite"
    await asyncio.to_thread(_restore, backup_file, db)
    refused = await asyncio.to_thread(_node_cli, stack, "serve", timeout=90)
    recover = await asyncio.to_thread(_node_cli, stack, "recover", "--no-progress")
    recover_again = await asyncio.to_thread(_node_cli, stack, "recover", "--no-progress")
    stack.restart(NODE)

    later_seqs = [
        int((await fed.register(CODE, body))["sync_token"].split(":")[1]) for body in third
    ]
    await _all_on_hub(fed, third)
    mismatched = []
    for body in bodies:
        node = await fed.node_record(CODE, body["cert_no"])
        status, hub = await fed.hub_get(f"/v1/physicians/{body['cert_no']}")
        node_record = public(node.get("record", node))
        if status != 200 or {k: hub.get(k) for k in node_record} != node_record:
            mismatched.append(body["cert_no"])
    reentry_path = db.with_name(db.stem + ".reentry.csv")
    with reentry_path.open(encoding="utf-8") as f:
        reentry = list(csv.DictReader(f))
    events = await topic_log.read_all(_settings(stack))
    return Drill(
        refused,
        backup,
        recover,
        recover_again,
        [b["cert_no"] for b in second],
        reentry,
        events,
        later_seqs,
        mismatched,
    )


@pytest.fixture(scope="module")
def drill(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    state = tmp_path_factory.mktemp("restore")
    with stack_running(state / "stack", [CODE], bootstrap=bootstrap) as running:

        async def main(running: tuple[Stack, Secrets]) -> Drill:
            async with connect(running) as fed:
                return await _drill(fed, state)

        result = asyncio.run(main(running))
        for step in ("backup", "refused", "recover", "recover_again"):
            proc: subprocess.CompletedProcess[str] = getattr(result, step)
            print(f"$ province-node {step}\n{proc.stdout}{proc.stderr}(exit {proc.returncode})")
        yield result


def test_backup_is_verified(drill: Drill) -> None:
    assert drill.backup.returncode == 0 and "integrity_check ok" in drill.backup.stdout


def test_restored_backup_is_refused_at_start_naming_recover(drill: Drill) -> None:
    lines = drill.refused.stderr.strip().splitlines()
    assert drill.refused.returncode == 1 and "province-node recover" in lines[-1], lines


def test_recover_applies_the_events_after_the_backup(drill: Drill) -> None:
    assert drill.recover.returncode == 0 and "applied" in drill.recover.stdout


def test_recover_again_applies_nothing(drill: Drill) -> None:
    assert "applied 0 events" in drill.recover_again.stdout, drill.recover_again.stdout


def test_reentry_list_names_the_records_created_after_the_backup(drill: Drill) -> None:
    # The two registered during the backup may or may not be in it; the rest are not.
    listed = {row["cert_no"] for row in drill.reentry}
    assert set(drill.after_backup[2:]) <= listed <= set(drill.after_backup), listed


def test_no_seq_is_used_twice_on_the_topic(drill: Drill) -> None:
    ids: dict[int, set[str]] = {}
    for event in drill.events:
        ids.setdefault(event.seq, set()).add(event.event_id)
    assert [seq for seq, found in ids.items() if len(found) > 1] == []


def test_topic_seqs_are_gap_free(drill: Drill) -> None:
    seqs = sorted({e.seq for e in drill.events})
    assert seqs == list(range(1, len(seqs) + 1))


def test_seq_continues_after_the_topic(drill: Drill) -> None:
    # 12 + 8 registrations and 3 suspensions reached the topic before the restore.
    assert drill.later_seqs == list(range(BEFORE + AFTER + 3 + 1, BEFORE + AFTER + 3 + 1 + LATER))


def test_hub_ends_equal_to_the_registry(drill: Drill) -> None:
    assert drill.mismatched == []
