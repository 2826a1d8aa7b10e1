"""`./dev up --detach` and `./dev down`: the whole federation as CONTRACT §1 describes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.kafka import free_base_port, port_free

ROOT = Path(__file__).resolve().parents[2]


def _dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _base_port() -> int:
    """A base P whose hub (P+80), nodes (P+150, P+111) and Kafka (P+1092, +1192) are free."""
    for _ in range(100):
        base = free_base_port(1, start=22000, end=30000)
        if all(port_free(base + d) for d in (80, 150, 111, 1092, 1192)):
            return base
    raise RuntimeError("no free ports")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("stack")
    up = _dev(
        "up",
        "--detach",
        "--state",
        str(state),
        "--provinces",
        "50,11",
        "--records",
        "20",
        "--base-port",
        str(_base_port()),
    )
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    info = json.loads((state / "stack.json").read_text())
    yield {"state": state, "info": info, "up": up}
    _dev("down", "--state", str(state))


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_stack_json_has_the_contract_shape(stack: dict[str, Any]) -> None:
    info = stack["info"]
    assert set(info) >= {"kafka", "hub", "provinces", "config", "ops_token"}
    assert set(info["kafka"]) >= {"bootstrap", "pids", "cmds"}
    assert set(info["hub"]) >= {"url", "pid", "cmd", "log"}
    assert set(info["provinces"]) == {"50", "11"}
    assert all(
        set(p) >= {"url", "pid", "cmd", "log", "registrar_token", "viewer_token"}
        for p in info["provinces"].values()
    )


def test_up_prints_urls_and_tokens(stack: dict[str, Any]) -> None:
    info = stack["info"]
    out = stack["up"].stdout
    assert info["hub"]["url"] in out and info["provinces"]["50"]["registrar_token"] in out


def test_demo_data_reaches_the_hub(stack: dict[str, Any]) -> None:
    hub = stack["info"]["hub"]["url"]
    deadline = time.monotonic() + 60
    total = 0
    while time.monotonic() < deadline:
        total = _get(f"{hub}/v1/stats?group_by=province")["total"]
        if total >= 40:
            break
        time.sleep(0.5)
    assert total == 40


def test_node_answers_with_its_registrar_token(stack: dict[str, Any]) -> None:
    p = stack["info"]["provinces"]["50"]
    req = urllib.request.Request(
        f"{p['url']}/v1/sync/status", headers={"Authorization": f"Bearer {p['registrar_token']}"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read())["province"] == "50"


def test_down_stops_every_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    state = tmp_path_factory.mktemp("stack-down")
    up = _dev(
        "up",
        "--detach",
        "--state",
        str(state),
        "--provinces",
        "44",
        "--records",
        "0",
        "--base-port",
        str(_base_port()),
    )
    assert up.returncode == 0, up.stderr[-2000:]
    info = json.loads((state / "stack.json").read_text())
    pids = [info["hub"]["pid"], info["provinces"]["44"]["pid"], *info["kafka"]["pids"]]
    assert _dev("down", "--state", str(state)).returncode == 0
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert alive == []
