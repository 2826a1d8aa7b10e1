"""Key rotation in a test federation, as docs/operations.md "Rotating keys" tells an operator:
a new key pair beside the old one, the federation file edited to name it."""

from __future__ import annotations

from datetime import datetime

from hubkit import HubEnv

from schemas.signing import Signer, write_keypair
from schemas.timestamps import format_utc


def _edit(env: HubEnv, old: str, new: str) -> None:
    text = env.config.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    env.config.write_text(text.replace(old, new), encoding="utf-8")


def rotate_hub_key(env: HubEnv, retired_at: datetime, name: str = "hub-2") -> Signer:
    """A new receipt key signs; the old one (keys/hub) is listed retired at retired_at."""
    key, _ = write_keypair(env.root / "keys" / name)
    _edit(
        env,
        'signing_key = "keys/hub.key"',
        f'signing_key = "keys/{name}.key"\n'
        f'retired_keys = [{{public_key = "keys/hub.pub", retired_at = {format_utc(retired_at)}}}]',
    )
    return Signer.load(key)


def rotate_province_key(env: HubEnv, code: str, not_after: datetime) -> Signer:
    """The province's new key is its public_key; the old one stays trusted up to not_after.
    env.signers keeps the old signer (the node has not restarted yet)."""
    key, _ = write_keypair(env.root / "keys" / f"{code}-2")
    _edit(
        env,
        f'public_key = "keys/{code}.pub"',
        f'public_key = "keys/{code}-2.pub"\n'
        f'previous_keys = [{{public_key = "keys/{code}.pub", '
        f"not_after = {format_utc(not_after)}}}]",
    )
    return Signer.load(key)
