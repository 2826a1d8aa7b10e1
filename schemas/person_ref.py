"""Pseudonymous person reference: links one person's registrations without the ID number."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from schemas.errors import KeyFileError

# 32 bytes matches SHA-256's block-size guidance for HMAC keys; shorter secrets are guessable.
SECRET_BYTES = 32
_HEX = frozenset("0123456789abcdefABCDEF")


def person_ref(secret: bytes, id_number: str) -> str:
    """Return hex HMAC-SHA256(secret, normalised id_number)."""
    # Same person, same ref: a trailing space or a lower-case x must not split them.
    normalised = id_number.strip().upper()
    return hmac.new(secret, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def load_secret(path: Path | str) -> bytes:
    """Read the federation secret: a text file holding at least 64 hex characters."""
    path = Path(path)
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise KeyFileError(f"secret file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read secret file {path}: {exc}") from None
    if len(text) < 2 * SECRET_BYTES or len(text) % 2 or not _HEX.issuperset(text):
        raise KeyFileError(
            f"secret file {path} must hold at least {2 * SECRET_BYTES} hex characters"
        )
    return bytes.fromhex(text)


def write_secret(path: Path | str, *, overwrite: bool = False) -> bytes:
    """Create a new random federation secret file (mode 0600) and return the secret."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already exists; refusing to overwrite the secret")
    secret = secrets.token_bytes(SECRET_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret.hex() + "\n")
    os.chmod(path, 0o600)
    return secret
