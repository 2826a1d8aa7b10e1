"""NodeSettings.hub_url: where the node asks the hub, from the federation file."""

from __future__ import annotations

from pathlib import Path

import pytest
from nodekit import write_federation

from province_node.config import NodeSettings
from schemas.federation import ConfigError, listen_url, load_federation


def _settings(tmp_path: Path, edit: tuple[str, str] | None = None) -> NodeSettings:
    env = write_federation(tmp_path, "127.0.0.1:9092", "t")
    if edit is not None:
        text = env.config.read_text(encoding="utf-8")
        env.config.write_text(text.replace(*edit), encoding="utf-8")
    return NodeSettings.from_federation(load_federation(env.config), "50")


def test_the_default_is_the_hubs_listen_address(tmp_path: Path) -> None:
    assert _settings(tmp_path).hub_url == "http://127.0.0.1:18080"


def test_a_provinces_hub_url_overrides_the_listen_address(tmp_path: Path) -> None:
    override = ('code = "50"', 'code = "50"\nhub_url = "http://hub.example:8080/"')
    assert _settings(tmp_path, override).hub_url == "http://hub.example:8080"


def test_a_hub_url_that_is_no_base_url_names_the_key(tmp_path: Path) -> None:
    bad = ('code = "50"', 'code = "50"\nhub_url = "hub.example/v1"')
    with pytest.raises(ConfigError, match=r"province\[0\]\.hub_url"):
        _settings(tmp_path, bad)


def test_an_https_hub_is_asked_over_https() -> None:
    assert listen_url("127.0.0.1:18443", tls=True) == "https://127.0.0.1:18443"


def test_a_wildcard_listen_is_asked_on_loopback() -> None:
    assert listen_url("0.0.0.0:18080", tls=False) == "http://127.0.0.1:18080"


def test_a_plain_hub_needs_no_tls_context(tmp_path: Path) -> None:
    assert _settings(tmp_path).hub_ssl_context() is None
