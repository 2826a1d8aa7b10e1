"""`national-hub snapshot` and `restore`: through a running hub's address, or from the files
when no hub runs; restore refuses a second time without --force."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import HubEnv, cert, lifecycle, send_events, wait_for, wait_offsets

from national_hub.cli import main
from national_hub.snapshot.archive import read_manifest
from national_hub.store.store import Store
from national_hub.web.app import create_app


async def test_snapshot_of_a_running_hub_goes_through_its_address(
    kafka_env: HubEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = lifecycle(kafka_env, "44", cert("44", 1))
    await send_events(kafka_env, events)
    monkeypatch.setenv("REGSYNC_OPS_TOKEN", kafka_env.ops_token)
    out = tmp_path / "hub.snapshot"
    # On the federation file's [hub] listen port: where the command looks for the hub.
    server = TestServer(create_app(kafka_env.settings()), port=kafka_env.port)
    async with TestClient(server) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status == 200

        await wait_for(ready, seconds=30)
        await wait_offsets(client, kafka_env, len(events))
        argv = ["snapshot", "--config", str(kafka_env.config), "--out", str(out), "--quiet"]
        assert await asyncio.to_thread(main, argv) == 0
    assert read_manifest(out).records() == 1


def test_snapshot_without_a_hub_copies_the_files(
    hub_env: HubEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(hub_env.db, readers=1).close()
    out = tmp_path / "hub.snapshot"
    assert main(["snapshot", "--config", str(hub_env.config), "--out", str(out), "--quiet"]) == 0
    assert "from the files (no hub running)" in capsys.readouterr().out


def test_restore_refuses_a_store_holding_data(
    hub_env: HubEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(hub_env.db, readers=1).close()
    out = tmp_path / "hub.snapshot"
    main(["snapshot", "--config", str(hub_env.config), "--out", str(out), "--quiet"])
    argv = ["restore", "--config", str(hub_env.config), "--from", str(out), "--quiet"]
    assert main(argv) == 2
    assert "holds data already" in capsys.readouterr().err


def test_restore_with_force_replaces_the_store(hub_env: HubEnv, tmp_path: Path) -> None:
    Store.open(hub_env.db, readers=1).close()
    out = tmp_path / "hub.snapshot"
    main(["snapshot", "--config", str(hub_env.config), "--out", str(out), "--quiet"])
    argv = ["restore", "--config", str(hub_env.config), "--from", str(out), "--quiet", "--force"]
    assert main(argv) == 0
