"""Where `national-hub snapshot` looks for the running hub: its [hub] listen address."""

from __future__ import annotations

from hubkit import HubEnv

from national_hub.snapshot.client import hub_url


def test_the_hub_is_called_at_its_listen_address(hub_env: HubEnv) -> None:
    assert hub_url(hub_env.settings()) == f"http://127.0.0.1:{hub_env.port}"


def test_a_wildcard_listen_is_called_on_loopback(hub_env: HubEnv) -> None:
    settings = hub_env.settings().replica(listen="0.0.0.0:18080")
    assert hub_url(settings) == "http://127.0.0.1:18080"
