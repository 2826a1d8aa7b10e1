"""`national-hub serve` on SIGTERM: not ready first, still serving, then gone (issue 16).

One real process per test: the drain is the serve command's own signal handling."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from hubkit import HubEnv, free_port, wait_for

BIN = Path(sys.executable).parent / "national-hub"
# Long enough to observe the drain from this test, short enough to keep the test quick.
DRAIN_S = 3.0


@pytest.fixture
def replica(kafka_env: HubEnv, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A replica of the env's hub on its own port and store, with drain_s = DRAIN_S."""
    env = kafka_env
    env.config.write_text(env.config.read_text() + f"\n[hub.tuning.web]\ndrain_s = {DRAIN_S}\n")
    port = free_port()
    cmd = [str(BIN), "serve", "--config", str(env.config), "--listen", f"127.0.0.1:{port}"]
    cmd += ["--db", str(tmp_path / "replica" / "national.duckdb")]
    (tmp_path / "replica").mkdir()
    with (tmp_path / "replica.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.get(url) as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0


async def test_sigterm_answers_not_ready_while_still_serving(
    replica: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = replica
    async with aiohttp.ClientSession() as session:
        await wait_for(lambda: _ready(session, url), seconds=60)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        ready, health = (
            await _status(session, f"{url}/readyz"),
            await _status(session, f"{url}/healthz"),
        )
    assert (ready, health) == (503, 200)


async def test_sigterm_exits_cleanly_after_the_drain(
    replica: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = replica
    async with aiohttp.ClientSession() as session:
        await wait_for(lambda: _ready(session, url), seconds=60)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(proc.wait, 60)
    assert (code, time.monotonic() - t0 >= DRAIN_S) == (0, True)


async def _ready(session: aiohttp.ClientSession, url: str) -> bool:
    return await _status(session, f"{url}/readyz") == 200
