"""Where `national-hub snapshot` looks for the running hub: its [hub] listen address, or the
replica --hub names."""

from __future__ import annotations

import pytest
from hubkit import HubEnv

from national_hub.snapshot.archive import SnapshotError
from national_hub.snapshot.client import hub_url, named_hub_url


def test_the_hub_is_called_at_its_listen_address(hub_env: HubEnv) -> None:
    assert hub_url(hub_env.settings()) == f"http://127.0.0.1:{hub_env.port}"


def test_a_wildcard_listen_is_called_on_loopback(hub_env: HubEnv) -> None:
    settings = hub_env.settings().replica(listen="0.0.0.0:18080")
    assert hub_url(settings) == "http://127.0.0.1:18080"


def test_a_named_hub_is_called_at_its_base_url() -> None:
    assert named_hub_url("https://hub-2.example.cn:8443/") == "https://hub-2.example.cn:8443"


@pytest.mark.parametrize(
    "raw", ["127.0.0.1:18081", "ftp://hub", "http://", "http://hub:99999", "http://hub/?a=1"]
)
def test_a_named_hub_that_is_no_base_url_is_refused(raw: str) -> None:
    with pytest.raises(SnapshotError, match="--hub"):
        named_hub_url(raw)
