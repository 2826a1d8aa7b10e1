"""`./dev up --detach --hubs 2`: two hub replicas behind HAProxy (CONTRACT §1, issue 16)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devkit import base_port, detached_stack, dev

from national_hub.snapshot.archive import read_manifest
from province_node import synthetic

# Reads sent through the balancer right after a replica was killed: a few hundred, not a
# benchmark (bench/replicas.py measures under load).
READS = 300


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("replicas")
    # The balancer and replicas at P+80..82, the node at P+150.
    base = base_port((80, 81, 82, 150, 1092, 1192), 30000, 38000)
    with detached_stack(state, base, "--hubs", "2", "--provinces", "50") as (_, info):
        yield {"state": state, "info": info}


def _status(url: str) -> int:
    """The HTTP status of a GET, or 0 when no answer came at all."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait_status(url: str, status: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(url) == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {status} within {timeout:g} s")


def _running(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line[stat_line.rindex(")") + 2] != "Z"


def _flag(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_stack_json_names_the_balancer_and_every_replica(stack: dict[str, Any]) -> None:
    info = stack["info"]
    assert [set(h) >= {"url", "pid", "cmd", "log"} for h in info["hubs"]] == [True, True]


def test_hub_url_is_the_balancer_not_a_replica(stack: dict[str, Any]) -> None:
    info = stack["info"]
    assert info["hub"]["url"] not in {h["url"] for h in info["hubs"]}


def test_each_replica_has_its_own_store(stack: dict[str, Any]) -> None:
    dbs = [_flag(h["cmd"], "--db") for h in stack["info"]["hubs"]]
    assert len(set(dbs)) == 2 and all(Path(db).exists() for db in dbs)


def test_the_balancer_answers_ready(stack: dict[str, Any]) -> None:
    assert _status(stack["info"]["hub"]["url"] + "/readyz") == 200


def test_a_killed_replica_costs_no_read_and_rejoins_from_its_cmd(stack: dict[str, Any]) -> None:
    info, state = stack["info"], stack["state"]
    hub, victim = info["hub"]["url"], info["hubs"][0]
    os.killpg(victim["pid"], signal.SIGKILL)
    statuses = [_status(f"{hub}/v1/stats") for _ in range(READS)]
    log = os.open(state / "hub-1-restarted.log", os.O_WRONLY | os.O_CREAT, 0o600)
    subprocess.Popen(victim["cmd"], cwd=state, stdout=log, stderr=log, start_new_session=True)
    _wait_status(victim["url"] + "/readyz", 200)
    assert [s for s in statuses if s != 200] == []


def test_read_your_writes_through_the_balancer(stack: dict[str, Any]) -> None:
    info = stack["info"]
    node = info["provinces"]["50"]
    body = next(synthetic.registrations("50", 1, seed=16, start=900_000))
    req = urllib.request.Request(
        f"{node['url']}/v1/registrations",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={
            "Authorization": f"Bearer {node['registrar_token']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.loads(resp.read())["sync_token"]
    # Whichever replica the balancer picks waits until it has applied the token.
    url = f"{info['hub']['url']}/v1/physicians/{body['cert_no']}?min_token={token}&wait=20"
    assert _status(url) == 200


def _ops_status(url: str, source: str) -> int:
    """The status of GET /v1/ops/ingest with a wrong ops token, sent from source (a loopback
    address of the test's own: two clients on one machine)."""
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/v1/ops/ingest", headers={"Authorization": "Bearer wrong"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_client_locked_out_through_the_balancer_locks_out_no_other(
    stack: dict[str, Any],
) -> None:
    # 20 failures in 60 s lock a client out on a replica (the default auth throttle); the
    # balancer spreads them over both, so about 40 lock the client out everywhere. Before
    # hub.trusted_proxies every client was the balancer's address, and one locked all out.
    hub = stack["info"]["hub"]["url"]
    attacker = [_ops_status(hub, "127.0.0.3") for _ in range(60)]
    assert (429 in attacker, _ops_status(hub, "127.0.0.4")) == (True, 403)


def test_a_snapshot_of_the_replica_named_by_hub(stack: dict[str, Any], tmp_path: Path) -> None:
    info, out = stack["info"], tmp_path / "hub-2.snapshot"
    cmd = [str(Path(sys.executable).parent / "national-hub"), "snapshot", "--quiet"]
    cmd += ["--config", info["config"], "--hub", info["hubs"][1]["url"], "--out", str(out)]
    env = dict(os.environ, REGSYNC_OPS_TOKEN=info["ops_token"])
    subprocess.run(cmd, env=env, check=True, timeout=120, capture_output=True)
    # hub-2's 20 demo records (and the one read-your-writes adds, if it has it by now).
    assert read_manifest(out).records() >= 20


def test_every_replica_publishes_the_same_receipt_key(stack: dict[str, Any]) -> None:
    keys = set()
    for replica in stack["info"]["hubs"]:
        with urllib.request.urlopen(replica["url"] + "/.well-known/regsync/hub-key") as resp:
            keys.add(resp.read())
    assert len(keys) == 1


def test_down_stops_the_balancer_and_every_replica(stack: dict[str, Any]) -> None:
    # Last in this module: it takes the stack down (the fixture's own `down` then finds nothing).
    info = stack["info"]
    pids = [info["hub"]["pid"], *(h["pid"] for h in info["hubs"][1:])]
    assert dev("down", "--state", str(stack["state"])).returncode == 0
    assert [pid for pid in pids if _running(pid)] == []
