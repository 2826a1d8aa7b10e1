"""`./dev up --detach` and `./dev down`: the whole federation as CONTRACT §1 describes it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devkit import base_port, detached_stack, dev

from devstack.kafka import port_open


def _base_port() -> int:
    """A base P whose hub (P+80), nodes (P+150, P+111) and Kafka (P+1092, +1192) are free."""
    return base_port((80, 150, 111, 1092, 1192), 22000, 30000)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("stack")
    with detached_stack(state, _base_port(), "--provinces", "50,11") as (up, info):
        yield {"state": state, "info": info, "up": up}


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


def test_the_notifier_runs(stack: dict[str, Any]) -> None:
    assert _running(stack["info"]["notifier"]["pid"])


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
    up = dev(
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
    pids = [
        info["hub"]["pid"],
        info["notifier"]["pid"],
        info["provinces"]["44"]["pid"],
        *info["kafka"]["pids"],
    ]
    assert dev("down", "--state", str(state)).returncode == 0
    assert [pid for pid in pids if _running(pid)] == []


def _running(pid: int) -> bool:
    """Whether pid runs: an exited process its parent has yet to reap (a zombie) does not."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line[stat_line.rindex(")") + 2] != "Z"


def test_nothing_in_the_state_dir_is_readable_by_others(stack: dict[str, Any]) -> None:
    # Province registries and demo files hold ID numbers, stack.json and keys/ hold tokens.
    state: Path = stack["state"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    loose = {
        str(p.relative_to(state)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in state.rglob("*")
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}


def _wait_port(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:g} s")


def test_down_stops_components_restarted_from_their_recorded_cmd(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    state = tmp_path_factory.mktemp("stack-restarted")
    up = dev(
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
    kafka = {
        "pid": info["kafka"]["pids"][0],
        "cmd": info["kafka"]["cmds"][0],
        "log": str(state / "kafka-restarted.log"),
    }
    kafka_port = int(info["kafka"]["bootstrap"].rsplit(":", 1)[1])
    node, hub = info["provinces"]["44"], info["hub"]
    restarted: list[subprocess.Popen[bytes]] = []
    try:
        # An operator restarts Kafka, the node and the hub by hand, as stack.json records them.
        for entry in (kafka, node, hub):
            os.killpg(entry["pid"], signal.SIGKILL)
            with open(entry["log"], "ab") as log:
                restarted.append(
                    subprocess.Popen(
                        entry["cmd"],
                        cwd=state,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            if entry is kafka:
                deadline = time.monotonic() + 90
                while not port_open("127.0.0.1", kafka_port) and time.monotonic() < deadline:
                    time.sleep(0.2)
            else:
                _wait_port(entry["url"] + "/healthz")
        assert dev("down", "--state", str(state)).returncode == 0
        for proc in restarted:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        assert [p.returncode is not None for p in restarted] == [True, True, True]
    finally:
        for proc in restarted:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        dev("down", "--state", str(state))
