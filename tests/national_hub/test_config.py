"""HubSettings from the federation file: keys loaded and checked at start, errors name the key."""

from __future__ import annotations

import shutil

import pytest
from hubkit import HubEnv

from national_hub.cli import main
from national_hub.config import HubSettings
from national_hub.errors import ConfigError


def test_settings_from_the_federation_file(hub_env: HubEnv) -> None:
    s = hub_env.settings()
    assert (s.host, s.port) == ("127.0.0.1", hub_env.port)
    assert s.db_path == hub_env.db
    assert s.province_codes == ("50", "44", "11")
    assert s.provinces["44"].name == "广东省"
    assert s.provinces["50"].kid == hub_env.signers["50"].kid
    assert s.kid_owner[hub_env.signers["11"].kid] == "11"
    assert s.events_topic("50") == f"{hub_env.prefix}.events.50"
    assert s.topic_province(f"{hub_env.prefix}.events.44") == "44"
    assert s.topic_province(f"{hub_env.prefix}.heartbeats") is None
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_missing_public_key_names_the_key(hub_env: HubEnv) -> None:
    (hub_env.root / "keys" / "44.pub").unlink()
    with pytest.raises(ConfigError, match=r"province\[1\]\.public_key: file .*44\.pub"):
        hub_env.settings()


def test_malformed_public_key_names_the_key(hub_env: HubEnv) -> None:
    (hub_env.root / "keys" / "11.pub").write_text("not a key\n")
    with pytest.raises(ConfigError, match=r"province\[2\]\.public_key: .*not a PEM public key"):
        hub_env.settings()


def test_a_key_shared_by_two_provinces_is_refused(hub_env: HubEnv) -> None:
    shutil.copy(hub_env.root / "keys" / "50.pub", hub_env.root / "keys" / "44.pub")
    with pytest.raises(ConfigError, match=r"province\[1\]\.public_key: same public key as prov"):
        hub_env.settings()


def test_missing_signing_key_names_the_key(hub_env: HubEnv) -> None:
    (hub_env.root / "keys" / "hub.key").unlink()
    with pytest.raises(ConfigError, match=r"hub\.signing_key"):
        HubSettings.load(hub_env.config)


def test_cli_reports_config_errors_in_one_line(
    hub_env: HubEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    (hub_env.root / "keys" / "50.pub").unlink()
    assert main(["serve", "--config", str(hub_env.config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("national-hub: error: ")
    assert "province[0].public_key" in err[0]
    assert main(["rebuild", "--config", str(hub_env.root / "missing.toml")]) == 2
    assert "federation file not found" in capsys.readouterr().err


def test_duckdb_memory_limit_defaults_to_one_gigabyte(hub_env: HubEnv) -> None:
    assert hub_env.settings().memory_limit == "1GB"


def test_a_malformed_memory_limit_names_the_key(hub_env: HubEnv) -> None:
    text = hub_env.config.read_text()
    hub_env.config.write_text(text.replace("[hub]\n", '[hub]\nmemory_limit = "lots"\n', 1))
    with pytest.raises(ConfigError, match=r"hub\.memory_limit"):
        HubSettings.load(hub_env.config)
