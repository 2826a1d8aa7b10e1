"""The federation file: valid files load; every bad one fails naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.federation import ConfigError, load_federation

SHA = "a" * 64
VALID = f"""
[kafka]
bootstrap = "127.0.0.1:19092"
topic_prefix = "regsync"
partitions = 3
replication_factor = 1

[hub]
listen = "127.0.0.1:18080"
db = "var/national.duckdb"
signing_key = "keys/hub.key"
ops_token_sha256 = "{SHA}"

[[province]]
code = "50"
name = "重庆市"
node_url = "http://127.0.0.1:18150"
public_key = "keys/50.pub"
listen = "127.0.0.1:18150"
db = "var/province-50.sqlite"
signing_key = "keys/50.key"
tokens_sha256 = {{ registrar = ["{SHA}"], viewer = ["{SHA}"], hub = ["{SHA}"] }}
person_ref_key_file = "keys/federation.secret"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "federation.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_federation(_write(tmp_path, text))
    return str(info.value)


def test_valid_file_loads(tmp_path: Path) -> None:
    fed = load_federation(_write(tmp_path, VALID))
    assert fed.province_by_code("50").tokens_sha256.registrar == (SHA,)


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    fed = load_federation(_write(tmp_path, VALID))
    assert fed.hub.db == tmp_path.resolve() / "var" / "national.duckdb"


def test_topics_follow_the_prefix(tmp_path: Path) -> None:
    fed = load_federation(_write(tmp_path, VALID))
    assert (fed.kafka.events_topic("50"), fed.kafka.heartbeats_topic) == (
        "regsync.events.50",
        "regsync.heartbeats",
    )


def test_unknown_key_is_named(tmp_path: Path) -> None:
    assert "hub.colour: unknown key" in _error(tmp_path, VALID.replace("[hub]", "[hub]\ncolour=1"))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_federation(tmp_path / "absent.toml")


def test_malformed_toml_is_reported(tmp_path: Path) -> None:
    assert "not valid TOML" in _error(tmp_path, VALID + "\n[[province]\n")


def test_bad_digest_names_the_key(tmp_path: Path) -> None:
    text = VALID.replace(f'ops_token_sha256 = "{SHA}"', 'ops_token_sha256 = "xyz"')
    assert "hub.ops_token_sha256" in _error(tmp_path, text)


def test_unknown_province_names_the_key(tmp_path: Path) -> None:
    assert "province[0].code" in _error(tmp_path, VALID.replace('code = "50"', 'code = "99"'))


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    text = VALID.replace('bootstrap = "127.0.0.1:19092"\n', "")
    assert "kafka.bootstrap" in _error(tmp_path, text)


def test_bad_listen_is_named(tmp_path: Path) -> None:
    text = VALID.replace('listen = "127.0.0.1:18080"', 'listen = "localhost"')
    assert "hub.listen" in _error(tmp_path, text)


def test_duplicate_province_is_refused(tmp_path: Path) -> None:
    block = VALID[VALID.index("[[province]]") :]
    assert "listed twice" in _error(tmp_path, VALID + block)


def test_bootstrap_must_be_host_port(tmp_path: Path) -> None:
    text = VALID.replace('bootstrap = "127.0.0.1:19092"', 'bootstrap = "kafka"')
    assert "kafka.bootstrap" in _error(tmp_path, text)


def test_source_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    assert "source: unknown key" in _error(tmp_path, 'source = "x"\n' + VALID)


def test_sasl_settings_reach_the_kafka_clients(tmp_path: Path) -> None:
    (tmp_path / "kafka.password").write_text("s3cret\n")
    text = VALID.replace(
        "replication_factor = 1\n",
        'replication_factor = 1\nsecurity_protocol = "SASL_PLAINTEXT"\nsasl_mechanism = "PLAIN"\n'
        'sasl_username = "hub"\nsasl_password_file = "kafka.password"\n',
    )
    kwargs = load_federation(_write(tmp_path, text)).kafka.client_kwargs()
    assert (kwargs["security_protocol"], kwargs["sasl_plain_password"]) == (
        "SASL_PLAINTEXT",
        "s3cret",
    )


def test_missing_sasl_password_file_is_named(tmp_path: Path) -> None:
    text = VALID.replace(
        "replication_factor = 1\n",
        'replication_factor = 1\nsasl_mechanism = "PLAIN"\nsasl_password_file = "absent"\n',
    )
    with pytest.raises(ConfigError, match=r"kafka\.sasl_password_file"):
        load_federation(_write(tmp_path, text)).kafka.client_kwargs()


def test_trusted_proxies_are_networks(tmp_path: Path) -> None:
    text = VALID.replace("[hub]", '[hub]\ntrusted_proxies = ["127.0.0.1/32", "fd00::/8"]')
    assert [str(n) for n in load_federation(_write(tmp_path, text)).hub.trusted_proxies] == [
        "127.0.0.1/32",
        "fd00::/8",
    ]


def test_a_trusted_proxy_that_is_no_network_is_named(tmp_path: Path) -> None:
    # Host bits set: a typo for 10.0.0.0/8 or for 10.0.0.1/32; refused rather than guessed.
    text = VALID.replace("[hub]", '[hub]\ntrusted_proxies = ["10.0.0.1/8"]')
    assert "hub.trusted_proxies" in _error(tmp_path, text)
