"""A node during a rotation of its signing key: the federation file already names the new
public_key and keeps the old one in previous_keys; the node may still sign with the old key
until that key's window ends, and is refused at start after it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from nodekit import FedEnv, write_federation

from province_node.config import NodeSettings
from schemas.federation import ConfigError, load_federation
from schemas.signing import write_keypair
from schemas.timestamps import format_utc, utc_now


@pytest.fixture
def env(tmp_path: Path) -> FedEnv:
    return write_federation(tmp_path, "127.0.0.1:9092", "regsync", listen_port=18150)


def rotate(env: FedEnv, not_after: str) -> None:
    """The federation file names a new public key; the node's own key becomes the previous."""
    write_keypair(env.root / "keys" / "50-2")
    text = env.config.read_text(encoding="utf-8")
    old = re.search(r'^public_key = "(.*)"$', text, re.MULTILINE)
    assert old is not None
    env.config.write_text(
        text.replace(
            old.group(0),
            'public_key = "keys/50-2.pub"\n'
            f'previous_keys = [{{public_key = "{old.group(1)}", not_after = {not_after}}}]',
        ),
        encoding="utf-8",
    )


def settings(env: FedEnv) -> NodeSettings:
    return NodeSettings.from_federation(load_federation(env.config), "50")


def test_old_key_within_its_window_starts(env: FedEnv) -> None:
    rotate(env, format_utc(utc_now() + timedelta(hours=1)))
    assert settings(env).province == "50"


def test_old_key_after_its_window_is_refused_naming_the_new_key(env: FedEnv) -> None:
    rotate(env, format_utc(utc_now() - timedelta(seconds=1)))
    with pytest.raises(ConfigError, match=r"province\[50\]\.signing_key: key \w+ was retired at"):
        settings(env)
