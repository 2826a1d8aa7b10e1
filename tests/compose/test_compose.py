"""compose/docker-compose.yml, its init script and Dockerfile, checked without a Docker engine.

The CLI checks build the real argparse parsers (`province_node.cli.build_parser`,
`national_hub.cli.build_parser`) and parse every command line the compose files run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import ipaddress
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.federation import load_federation
from tests.compose.helpers import COMPOSE, PROMETHEUS, ROOT

COMPOSE_FILE = COMPOSE / "docker-compose.yml"
INIT_SCRIPT = COMPOSE / "init" / "init-federation.sh"
DOCKERFILE = COMPOSE / "Dockerfile"
PROVINCES = {"50": "重庆市", "11": "北京市", "44": "广东省"}
CLI_MODULES = {"province-node": "province_node.cli", "national-hub": "national_hub.cli"}
# The hub replicas (issue 16), behind the haproxy service.
HUBS = ("hub-1", "hub-2")
HAPROXY_CFG = COMPOSE / "haproxy" / "haproxy.cfg"
# Values for the shell variables the init script passes to the CLIs.
SHELL_VALUES = {"STATE": "/state", "name": "hub", "code": "50", "RECORDS": "10"}


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _services() -> dict[str, dict[str, Any]]:
    try:
        return dict(_compose()["services"])
    except (OSError, yaml.YAMLError, KeyError, AssertionError):
        return {}  # test_compose_file_parses reports it


def _argv(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _compose_cli_commands() -> list[tuple[str, list[str]]]:
    out = []
    for name, svc in _services().items():
        argv = _argv(svc.get("command", []))
        if argv and argv[0] in CLI_MODULES:
            out.append((name, argv))
    return out


def _script_cli_commands() -> list[tuple[str, list[str]]]:
    """`province-node ...` / `national-hub ...` invocations in the init script (not heredocs)."""
    out = []
    heredoc_end = None
    logical = ""
    for lineno, line in enumerate(INIT_SCRIPT.read_text(encoding="utf-8").splitlines(), 1):
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        m = re.search(r"<<-?\s*'?(\w+)'?", line)
        if m:
            heredoc_end = m.group(1)
        stripped = line.split(" #")[0].strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        words = shlex.split(logical)
        logical = ""
        for i, word in enumerate(words):
            if word in CLI_MODULES:
                argv = []
                for w in words[i:]:
                    if w in {"&&", "||", ";", "|"} or w.startswith(">"):
                        break
                    argv.append(w)
                out.append((f"line {lineno}", argv))
    return out


def _expand(word: str) -> str:
    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in SHELL_VALUES:
            pytest.fail(f"init script passes ${name} to a CLI; add a sample value to SHELL_VALUES")
        return SHELL_VALUES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, word)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser | None = action.choices.get(name)
            return found
    return None


def _parse(argv: list[str]) -> str | None:
    """Parse argv[1:] with the real CLI parser; return what is wrong with it, or None."""
    parser: argparse.ArgumentParser = importlib.import_module(CLI_MODULES[argv[0]]).build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(argv[1:])
        except SystemExit as exc:
            return f"exit {exc.code}: {err.getvalue().strip()}"
    # argparse accepts unambiguous abbreviations (--provinc); the files must spell flags fully.
    sub = _subparser(parser, argv[1])
    known = set(parser._option_string_actions) | set(sub._option_string_actions if sub else ())
    for word in argv[2:]:
        flag = word.split("=", 1)[0]
        if flag.startswith("-") and flag not in known:
            return f"{flag} is not an option of `{argv[0]} {argv[1]}` (only a prefix of one)"
    return None


# --- the compose file -------------------------------------------------------------------------


def test_compose_file_parses() -> None:
    assert isinstance(_compose().get("services"), dict)


def test_compose_runs_the_whole_federation() -> None:
    expected = {"kafka", "init", *HUBS, "haproxy", "notifier", "prometheus", "grafana"}
    expected |= {f"province-{code}" for code in PROVINCES}
    assert expected <= set(_services()), sorted(expected - set(_services()))


def test_kafka_is_apache_kafka_4_1() -> None:
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", _services()["kafka"]["image"])


def test_kafka_runs_kraft_broker_and_controller() -> None:
    env = _services()["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")


def test_kafka_advertises_the_bootstrap_the_federation_file_uses() -> None:
    env = _services()["kafka"]["environment"]
    bootstrap = _services()["init"]["environment"]["REGSYNC_KAFKA"]
    advertised = [a.split("://", 1)[1] for a in env["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert bootstrap in advertised


@pytest.mark.parametrize(
    ("service", "argv"), [pytest.param(s, a, id=s) for s, a in _compose_cli_commands()]
)
def test_compose_command_is_accepted_by_the_cli(service: str, argv: list[str]) -> None:
    problem = _parse(argv)
    assert problem is None, f"{service}: {shlex.join(argv)} -> {problem}"


def test_compose_runs_every_cli_server() -> None:
    subcommands = {tuple(argv[:2]) for _, argv in _compose_cli_commands()}
    assert {("province-node", "serve"), ("national-hub", "serve")} <= subcommands


@pytest.mark.parametrize("code", sorted(PROVINCES))
def test_province_service_serves_its_own_province_on_its_port(code: str) -> None:
    svc = _services()[f"province-{code}"]
    argv = _argv(svc["command"])
    assert argv[argv.index("--province") + 1] == code
    port = 8100 + int(code)
    assert any(str(p).endswith(f":{port}:{port}") for p in svc.get("ports", [])), svc.get("ports")


@pytest.mark.parametrize("service", [*HUBS, *(f"province-{c}" for c in PROVINCES)])
def test_server_waits_for_init_and_a_healthy_kafka(service: str) -> None:
    deps = _services()[service]["depends_on"]
    assert deps["init"]["condition"] == "service_completed_successfully"
    assert deps["kafka"]["condition"] == "service_healthy"


def test_prometheus_scrapes_compose_services_on_their_ports() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    services = _services()
    expected_ports = {
        **{hub: 8080 for hub in HUBS},
        "notifier": 9101,
        **{f"province-{c}": 8100 + int(c) for c in PROVINCES},
    }
    seen = set()
    for job in config["scrape_configs"]:
        if not job["job_name"].startswith("regsync-"):
            continue
        for group in job["static_configs"]:
            for target in group["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"{target}: no compose service {host}"
                assert int(port) == expected_ports[host], target
                seen.add(host)
    assert seen == set(expected_ports)


# --- the hub replicas and their balancer -----------------------------------------------------


def _flag(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def _cfg_lines() -> list[str]:
    return [line.strip() for line in HAPROXY_CFG.read_text(encoding="utf-8").splitlines()]


def test_each_hub_replica_serves_on_its_own_duckdb_file() -> None:
    dbs = [_flag(_argv(_services()[hub]["command"]), "--db") for hub in HUBS]
    assert (
        None not in dbs
        and len(set(dbs)) == len(HUBS)
        and all(str(db).startswith("/state/") for db in dbs)
    ), dbs


def test_no_replica_is_published_only_the_balancer() -> None:
    services = _services()
    published = {name for name in (*HUBS, "haproxy") if services[name].get("ports")}
    assert (published, services["haproxy"]["ports"]) == ({"haproxy"}, ["127.0.0.1:8080:8080"])


def test_the_balancer_is_haproxy_with_the_generated_config() -> None:
    svc = _services()["haproxy"]
    assert (re.fullmatch(r"haproxy:3\.\d+", svc["image"]) is not None, svc["volumes"]) == (
        True,
        ["./haproxy:/usr/local/etc/haproxy:ro"],
    )


def test_the_balancer_routes_to_every_replica_on_its_port() -> None:
    servers = {tuple(line.split()[1:3]) for line in _cfg_lines() if line.startswith("server ")}
    assert servers == {(hub, f"{hub}:8080") for hub in HUBS}


def test_the_balancer_health_checks_readyz() -> None:
    lines = _cfg_lines()
    assert ("option httpchk GET /readyz" in lines, "http-check expect status 200" in lines) == (
        True,
        True,
    )


def test_the_replicas_trust_the_balancers_address_and_only_it() -> None:
    doc = _compose()
    address = ipaddress.ip_address(
        doc["services"]["haproxy"]["networks"]["default"]["ipv4_address"]
    )
    subnet = ipaddress.ip_network(doc["networks"]["default"]["ipam"]["config"][0]["subnet"])
    trusted = _services()["init"]["environment"]["REGSYNC_TRUSTED_PROXIES"].split()
    assert (address in subnet, trusted) == (True, [f"{address}/32"])


def test_the_notifier_waits_for_every_replica() -> None:
    deps = _services()["notifier"]["depends_on"]
    assert {hub: deps[hub]["condition"] for hub in HUBS} == dict.fromkeys(HUBS, "service_healthy")


# --- the init script --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "argv"),
    [
        pytest.param(w, a, id=f"{w}:{a[1] if len(a) > 1 else a[0]}")
        for w, a in _script_cli_commands()
    ],
)
def test_init_script_command_is_accepted_by_the_cli(where: str, argv: list[str]) -> None:
    expanded = [_expand(w) for w in argv]
    problem = _parse(expanded)
    assert problem is None, f"init-federation.sh {where}: {shlex.join(argv)} -> {problem}"


def test_init_script_uses_keygen_for_every_key() -> None:
    assert any(argv[:2] == ["province-node", "keygen"] for _, argv in _script_cli_commands())


def _run_init(state: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(REGSYNC_STATE=str(state), REGSYNC_DEMO_RECORDS="0", **extra)
    return subprocess.run(
        ["sh", str(INIT_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_init_script_writes_a_federation_file_with_service_hostnames(tmp_path: Path) -> None:
    proc = _run_init(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fed = load_federation(tmp_path / "federation.toml")
    assert fed.kafka.bootstrap == "kafka:9092"
    assert fed.hub.listen == "0.0.0.0:8080"
    urls = {p.code: p.node_url for p in fed.province}
    assert urls == {c: f"http://province-{c}:{8100 + int(c)}" for c in PROVINCES}
    assert {p.code: p.name for p in fed.province} == PROVINCES
    for path in [fed.hub.signing_key, *(p.public_key for p in fed.province)]:
        assert path.is_file(), path


def test_init_script_writes_the_trusted_proxies_it_is_given(tmp_path: Path) -> None:
    proc = _run_init(tmp_path, REGSYNC_TRUSTED_PROXIES="172.30.80.80/32")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fed = load_federation(tmp_path / "federation.toml")
    assert [str(n) for n in fed.hub.trusted_proxies] == ["172.30.80.80/32"]


def test_init_script_is_idempotent(tmp_path: Path) -> None:
    first = _run_init(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    tokens = json.loads((tmp_path / "tokens.json").read_text())
    hub_key = (tmp_path / "keys" / "hub.key").read_bytes()
    again = _run_init(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads((tmp_path / "tokens.json").read_text()) == tokens
    assert (tmp_path / "keys" / "hub.key").read_bytes() == hub_key


# --- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_is_python_3_11_slim_and_runs_as_non_root() -> None:
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines()]
    froms = [ln.split()[1] for ln in lines if ln.upper().startswith("FROM ")]
    users = [ln.split()[1] for ln in lines if ln.upper().startswith("USER ")]
    assert froms == ["python:3.11-slim"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_copies_paths_that_exist_in_the_build_context() -> None:
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"]:
            sources = [w for w in words[1:-1] if not w.startswith("--")]
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository root"
