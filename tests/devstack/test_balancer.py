"""devstack/balancer.py: the one HAProxy configuration of `./dev up --hubs N` and of compose
(compose/haproxy/haproxy.cfg is rendered from it), checked by HAProxy itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from devstack.balancer import Backend, compose_config, haproxy_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_CFG = ROOT / "compose" / "haproxy" / "haproxy.cfg"
REPLICAS = [Backend("hub-1", "127.0.0.1", 18081), Backend("hub-2", "127.0.0.1", 18082)]


def _haproxy_check(cfg: Path) -> subprocess.CompletedProcess[str]:
    """`haproxy -c -f cfg` (Debian's haproxy, as ./dev up --hubs N installs it)."""
    binary = shutil.which("haproxy")
    if binary is None:
        pytest.skip("haproxy not installed (Debian package haproxy; ./dev up --hubs 2 installs it)")
    return subprocess.run(
        [binary, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30, check=False
    )


def test_the_compose_file_is_the_rendered_config() -> None:
    # Fix: python -m devstack.balancer > compose/haproxy/haproxy.cfg
    assert COMPOSE_CFG.read_text(encoding="utf-8") == compose_config()


def test_haproxy_accepts_the_compose_config() -> None:
    # The replicas' names do not resolve outside compose: HAProxy warns and starts them DOWN.
    proc = _haproxy_check(COMPOSE_CFG)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_haproxy_accepts_the_devstack_config(tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config("127.0.0.1", 18080, REPLICAS, source="127.0.0.2"))
    proc = _haproxy_check(cfg)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_source_address_is_where_the_replicas_are_reached_from() -> None:
    lines = haproxy_config("127.0.0.1", 18080, REPLICAS, source="127.0.0.2").splitlines()
    assert "    source 127.0.0.2" in lines


def test_without_dns_the_replicas_are_resolved_once() -> None:
    assert "resolvers" not in haproxy_config("127.0.0.1", 18080, REPLICAS)


def test_the_balancer_names_the_client_to_the_replicas() -> None:
    assert "    option forwardfor" in haproxy_config("127.0.0.1", 18080, REPLICAS).splitlines()


def test_a_balancer_without_replicas_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one replica"):
        haproxy_config("127.0.0.1", 18080, [])
