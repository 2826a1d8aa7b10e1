"""TLS settings: contexts from the federation file's keys, and failures naming the key."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from schemas.federation import ConfigError, load_federation
from schemas.tls import client_context, server_context

SHA = "a" * 64
FEDERATION = f"""
[kafka]
bootstrap = "127.0.0.1:19092"

[hub]
db = "var/national.duckdb"
signing_key = "keys/hub.key"
ops_token_sha256 = "{SHA}"
node_ca_file = "tls/ca.pem"

[[province]]
code = "50"
name = "重庆市"
node_url = "https://127.0.0.1:18150"
public_key = "keys/50.pub"
"""


def test_node_ca_file_is_a_path_relative_to_the_federation_file(tmp_path: Path) -> None:
    path = tmp_path / "federation.toml"
    path.write_text(FEDERATION, encoding="utf-8")
    assert load_federation(path).hub.node_ca_file == tmp_path.resolve() / "tls" / "ca.pem"


def test_an_unknown_tls_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "federation.toml"
    path.write_text(FEDERATION.replace("node_ca_file", "node_cafile"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hub\.node_cafile: unknown key"):
        load_federation(path)


def test_a_certificate_that_is_not_pem_names_the_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"^fed\.toml: hub\.tls_certfile: cannot load "):
        server_context(cert, cert, "hub.tls_certfile", Path("fed.toml"))


def test_a_ca_file_that_is_not_pem_names_the_key(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"^fed\.toml: hub\.node_ca_file: cannot load "):
        client_context(ca, "hub.node_ca_file", Path("fed.toml"))


def test_without_a_ca_file_the_client_verifies_against_the_system_cas() -> None:
    context = client_context(None, "hub.node_ca_file", Path("fed.toml"))
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
