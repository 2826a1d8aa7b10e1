"""NodeSettings from the federation file, and the one-line start-up errors of the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from nodekit import FedEnv, write_federation

from province_node.cli import main
from province_node.config import NodeSettings
from province_node.registry import Store
from schemas.federation import ConfigError, load_federation
from schemas.signing import write_keypair

NODE_BIN = Path(sys.executable).parent / "province-node"


@pytest.fixture
def env(tmp_path: Path) -> FedEnv:
    return write_federation(tmp_path, "127.0.0.1:9092", "regsync", listen_port=18150)


def _edit(env: FedEnv, pattern: str, replacement: str) -> None:
    """Rewrite one line of the [[province]] section."""
    head, marker, section = env.config.read_text(encoding="utf-8").partition("[[province]]")
    new = re.sub(pattern, replacement, section, count=1, flags=re.MULTILINE)
    assert new != section, pattern
    env.config.write_text(head + marker + new, encoding="utf-8")


def _error(env: FedEnv) -> str:
    with pytest.raises(ConfigError) as info:
        NodeSettings.from_federation(load_federation(env.config), "50")
    return str(info.value)


def test_settings_come_from_the_province_section(env: FedEnv) -> None:
    s = env.settings()
    assert (s.province, s.province_name, s.host, s.port, s.db_path) == (
        "50",
        "重庆市",
        "127.0.0.1",
        18150,
        env.root / "var" / "province-50.sqlite",
    )


def test_settings_hold_token_hashes_per_role(env: FedEnv) -> None:
    assert len(env.settings().tokens.registrar) == 1


def test_events_topic_uses_the_prefix(env: FedEnv) -> None:
    assert env.settings().events_topic == "regsync.events.50"


@pytest.mark.parametrize("key", ["listen", "db", "signing_key", "person_ref_key_file"])
def test_missing_node_key_is_named(env: FedEnv, key: str) -> None:
    _edit(env, rf"^{key} = .*$", "")
    assert f"province[50].{key}: missing" in _error(env)


@pytest.mark.parametrize("key", ["signing_key", "person_ref_key_file"])
def test_missing_file_is_named(env: FedEnv, key: str) -> None:
    _edit(env, rf"^{key} = .*$", f'{key} = "keys/nowhere"')
    assert f"province[50].{key}: file" in _error(env)


def test_malformed_signing_key_is_named(env: FedEnv) -> None:
    (env.root / "keys" / "50.key").write_text("not a key")
    assert "province[50].signing_key:" in _error(env)


def test_short_secret_is_named(env: FedEnv) -> None:
    (env.root / "keys" / "federation.secret").write_text("abcd\n")
    assert "province[50].person_ref_key_file:" in _error(env)


def test_public_key_of_another_pair_is_refused(env: FedEnv) -> None:
    write_keypair(env.root / "keys" / "other")
    _edit(env, r"^public_key = .*$", 'public_key = "keys/other.pub"')
    assert "province[50].public_key: does not match" in _error(env)


def test_province_without_tokens_is_refused(env: FedEnv) -> None:
    _edit(env, r"^tokens_sha256 = .*$", "")
    assert "province[50].tokens_sha256" in _error(env)


def test_unknown_province_is_refused(env: FedEnv) -> None:
    with pytest.raises(ConfigError, match="no \\[\\[province\\]\\] with code = '44'"):
        NodeSettings.from_federation(load_federation(env.config), "44")


def test_database_of_another_province_is_refused(env: FedEnv) -> None:
    s = env.settings()
    other = Store(s.db_path, "11", s.load_signer(), s.load_secret())
    other.open()
    other.close()
    with pytest.raises(ConfigError, match="belongs to province 11"):
        Store(s.db_path, "50", s.load_signer(), s.load_secret()).open()


def test_database_path_that_is_a_directory_is_named(env: FedEnv) -> None:
    s = env.settings()
    s.db_path.mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"province\[50\]\.db: cannot open"):
        Store(s.db_path, "50", s.load_signer(), s.load_secret()).open()


@pytest.mark.parametrize("command", ["serve", "import"])
def test_cli_reports_a_config_error_in_one_line_with_exit_2(
    env: FedEnv, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(env, r"^signing_key = .*$", "")
    extra = [str(env.root / "rows.jsonl")] if command == "import" else []
    code = main([command, "--config", str(env.config), "--province", "50", *extra])
    err = capsys.readouterr().err
    assert (code, err.count("\n")) == (2, 1)
    assert "province[50].signing_key: missing" in err


def test_serve_process_exits_2_without_a_traceback(env: FedEnv) -> None:
    _edit(env, r"^db = \"var/province.*$", "")
    proc = subprocess.run(
        [str(NODE_BIN), "serve", "--config", str(env.config), "--province", "50"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, "Traceback" in proc.stderr) == (2, False)
    assert proc.stderr.strip().endswith("province[50].db: missing")


def test_missing_federation_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--config", str(tmp_path / "none.toml"), "--province", "50"])
    assert (code, "federation file not found" in capsys.readouterr().err) == (2, True)


def test_keygen_writes_a_key_pair(tmp_path: Path) -> None:
    assert main(["keygen", "--out", str(tmp_path / "k" / "50")]) == 0
    assert (tmp_path / "k" / "50.key").is_file() and (tmp_path / "k" / "50.pub").is_file()


def test_keygen_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["keygen", "--out", str(tmp_path / "50")])
    code = main(["keygen", "--out", str(tmp_path / "50")])
    assert (code, "refusing to overwrite" in capsys.readouterr().err) == (1, True)


def test_tls_certificate_without_its_key_is_named(env: FedEnv) -> None:
    (env.root / "keys" / "node.crt").write_text("cert")
    _edit(
        env,
        r"^person_ref_key_file = .*$",
        'person_ref_key_file = "keys/federation.secret"\ntls_certfile = "keys/node.crt"',
    )
    assert "province[50].tls_keyfile: missing" in _error(env)
