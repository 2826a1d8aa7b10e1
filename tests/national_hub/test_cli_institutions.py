"""`national-hub institutions add|list|revoke`: the key printed once, stored hashed."""

from __future__ import annotations

import pytest
from hubkit import HubEnv

from national_hub.cli import main
from national_hub.notify.institutions import Institutions
from national_hub.notify.schema import connect

ORG = "12500000450400012K"


def _add(env: HubEnv, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["institutions", "add", "--config", str(env.config), "--org-code", ORG,
                 "--name", "重庆医科大学附属第一医院"])  # fmt: skip
    assert code == 0
    return capsys.readouterr().out.strip()


def test_add_prints_a_key_that_authenticates(
    hub_env: HubEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _add(hub_env, capsys)
    store = Institutions(connect(hub_env.settings().notify_store_path))
    inst = store.authenticate(key)
    assert inst is not None and inst.org_code == ORG


def test_list_shows_the_institution_not_the_key(
    hub_env: HubEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _add(hub_env, capsys)
    assert main(["institutions", "list", "--config", str(hub_env.config)]) == 0
    out = capsys.readouterr().out
    assert ORG in out and "in force" in out and key not in out


def test_revoke(hub_env: HubEnv, capsys: pytest.CaptureFixture[str]) -> None:
    key = _add(hub_env, capsys)
    args = ["institutions", "revoke", "--config", str(hub_env.config), "--org-code", ORG]
    assert main(args) == 0
    store = Institutions(connect(hub_env.settings().notify_store_path))
    assert store.authenticate(key) is None


def test_bad_org_code_is_refused_naming_it(
    hub_env: HubEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["institutions", "add", "--config", str(hub_env.config), "--org-code", "123",
            "--name", "x"]  # fmt: skip
    assert main(args) == 2
    assert "--org-code" in capsys.readouterr().err
