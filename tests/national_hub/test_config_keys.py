"""Key rotation in the federation file: retired receipt keys and previous province keys are
loaded and checked at start, errors name the key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hubkit import HubEnv
from rotation import rotate_hub_key, rotate_province_key

from national_hub.errors import ConfigError
from schemas.signing import Signer, write_keypair

WHEN = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def edit(env: HubEnv, old: str, new: str) -> None:
    env.config.write_text(env.config.read_text().replace(old, new), encoding="utf-8")


def test_retired_receipt_key_is_loaded(hub_env: HubEnv) -> None:
    old = hub_env.settings().signer
    rotate_hub_key(hub_env, WHEN)
    retired = hub_env.settings().retired_receipt_keys
    assert [(k.verifier.kid, k.retired_at) for k in retired] == [(old.kid, WHEN)]


def test_previous_province_key_is_loaded_with_its_window(hub_env: HubEnv) -> None:
    old = hub_env.signers["50"]
    new = rotate_province_key(hub_env, "50", WHEN)
    province = hub_env.settings().provinces["50"]
    assert (province.kid, [(k.verifier.kid, k.not_after) for k in province.previous_keys]) == (
        new.kid,
        [(old.kid, WHEN)],
    )


def test_previous_key_names_its_province_in_kid_owner(hub_env: HubEnv) -> None:
    old = hub_env.signers["50"]
    rotate_province_key(hub_env, "50", WHEN)
    assert hub_env.settings().kid_owner[old.kid] == "50"


def test_window_without_time_zone_is_refused(hub_env: HubEnv) -> None:
    rotate_province_key(hub_env, "50", WHEN)
    edit(hub_env, "not_after = 2026-12-31T16:00:00.000Z", "not_after = 2026-12-31T16:00:00")
    with pytest.raises(ConfigError, match=r"province\[0\]\.previous_keys\[0\]\.not_after"):
        hub_env.settings()


def test_current_receipt_key_listed_as_retired_is_refused(hub_env: HubEnv) -> None:
    rotate_hub_key(hub_env, WHEN)
    edit(hub_env, 'public_key = "keys/hub.pub"', 'public_key = "keys/hub-2.pub"')
    with pytest.raises(ConfigError, match=r"hub\.retired_keys\[0\]\.public_key: same key as"):
        hub_env.settings()


def test_previous_key_of_another_province_is_refused(hub_env: HubEnv) -> None:
    rotate_province_key(hub_env, "50", WHEN)
    edit(hub_env, 'public_key = "keys/50.pub", not_after', 'public_key = "keys/44.pub", not_after')
    with pytest.raises(ConfigError, match="same public key as province"):
        hub_env.settings()


def test_missing_previous_key_file_is_refused(hub_env: HubEnv) -> None:
    rotate_province_key(hub_env, "50", WHEN)
    (hub_env.root / "keys" / "50.pub").unlink()
    missing = r"previous_keys\[0\]\.public_key: file .* does not exist"
    with pytest.raises(ConfigError, match=missing):
        hub_env.settings()


def test_next_receipt_key_is_published_ahead(hub_env: HubEnv) -> None:
    key, _ = write_keypair(hub_env.root / "keys" / "hub-next")
    edit(
        hub_env,
        'signing_key = "keys/hub.key"',
        'signing_key = "keys/hub.key"\nnext_public_key = "keys/hub-next.pub"',
    )
    published = hub_env.settings().next_receipt_key
    assert published is not None and published.kid == Signer.load(key).kid
