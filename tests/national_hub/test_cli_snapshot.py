"""`national-hub snapshot` and `restore`: through a running hub's address (or the replica named
by --hub), or from the files when no hub runs; restore refuses a second time without --force."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hubkit import HubEnv, cert, free_port, lifecycle, send_events, wait_for, wait_offsets

from national_hub.cli import main
from national_hub.config import HubSettings
from national_hub.snapshot.archive import read_manifest
from national_hub.store.store import Store
from national_hub.web.app import create_app


async def _snapshot_while_serving(
    env: HubEnv, settings: HubSettings, port: int, out: Path, *extra: str
) -> int:
    """Publish one record's story, serve settings on port until it is applied, and run
    `national-hub snapshot --out out *extra` meanwhile; its exit code."""
    events = lifecycle(env, "44", cert("44", 1))
    await send_events(env, events)
    async with TestClient(TestServer(create_app(settings), port=port)) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status == 200

        await wait_for(ready, seconds=30)
        await wait_offsets(client, env, len(events))
        argv = ["snapshot", "--config", str(env.config), "--out", str(out), "--quiet", *extra]
        return await asyncio.to_thread(main, argv)


async def test_snapshot_of_a_running_hub_goes_through_its_address(
    kafka_env: HubEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGSYNC_OPS_TOKEN", kafka_env.ops_token)
    out = tmp_path / "hub.snapshot"
    # On the federation file's [hub] listen port: where the command looks for the hub.
    assert await _snapshot_while_serving(kafka_env, kafka_env.settings(), kafka_env.port, out) == 0
    assert read_manifest(out).records() == 1


async def test_snapshot_of_a_replica_named_by_hub(
    kafka_env: HubEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGSYNC_OPS_TOKEN", kafka_env.ops_token)
    out = tmp_path / "hub-2.snapshot"
    # A replica on its own address and DuckDB file, as `./dev up --hubs 2` runs hub-2; nothing
    # listens at the federation file's [hub] listen, and its hub.db stays empty.
    port = free_port()
    replica = kafka_env.settings().replica(
        listen=f"127.0.0.1:{port}", db=tmp_path / "hub-2" / "national.duckdb"
    )
    hub = f"http://127.0.0.1:{port}"
    assert await _snapshot_while_serving(kafka_env, replica, port, out, "--hub", hub) == 0
    assert read_manifest(out).records() == 1


def test_snapshot_of_a_named_hub_that_does_not_answer_fails(
    hub_env: HubEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The federation file's own store could be copied, but it is not the hub that was named.
    Store.open(hub_env.db, readers=1).close()
    out = tmp_path / "hub.snapshot"
    argv = ["snapshot", "--config", str(hub_env.config), "--out", str(out), "--quiet"]
    assert main([*argv, "--hub", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "no hub answers at" in capsys.readouterr().err


def test_snapshot_refuses_hub_and_listen_together(hub_env: HubEnv, tmp_path: Path) -> None:
    argv = ["snapshot", "--config", str(hub_env.config), "--out", str(tmp_path / "s"), "--quiet"]
    argv += ["--hub", "http://127.0.0.1:18081", "--listen", "127.0.0.1:18082"]
    assert main(argv) == 2


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
