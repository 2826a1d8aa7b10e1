"""One replica's settings among several on one federation file (HubSettings.replica)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubkit import HubEnv

from national_hub.errors import ConfigError


def test_replica_listens_where_told(hub_env: HubEnv) -> None:
    s = hub_env.settings().replica(listen="127.0.0.1:18081")
    assert (s.host, s.port) == ("127.0.0.1", 18081)


def test_replica_db_brings_its_own_index(hub_env: HubEnv, tmp_path: Path) -> None:
    s = hub_env.settings().replica(db=tmp_path / "hub-1" / "national.duckdb")
    assert s.serving_index_path == tmp_path / "hub-1" / "national.index.sqlite3"


def test_replica_keeps_the_shared_notify_store(hub_env: HubEnv, tmp_path: Path) -> None:
    base = hub_env.settings()
    s = base.replica(db=tmp_path / "hub-2" / "national.duckdb")
    assert s.notify_store_path == base.notify_store_path


def test_bad_listen_names_the_flag(hub_env: HubEnv) -> None:
    with pytest.raises(ConfigError, match="--listen"):
        hub_env.settings().replica(listen="18081")
