"""Ed25519 signatures over canonical bytes, with key ids derived from the public key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from schemas.errors import KeyFileError

_PEM_MARKER = b"-----BEGIN"
SIGNATURE_LENGTH = 64


def generate_keypair() -> tuple[bytes, bytes]:
    """Return a new (private PEM PKCS8 unencrypted, public PEM SubjectPublicKeyInfo) pair."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, _public_pem(private.public_key())


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read_pem(path_or_pem: str | bytes | Path) -> tuple[bytes, str]:
    """Return the PEM bytes and a description of where they came from, for error messages."""
    if isinstance(path_or_pem, bytes) and path_or_pem.lstrip().startswith(_PEM_MARKER):
        return path_or_pem, "PEM data"
    if isinstance(path_or_pem, str) and path_or_pem.lstrip().startswith(_PEM_MARKER.decode()):
        return path_or_pem.encode(), "PEM data"
    path = Path(os.fsdecode(path_or_pem))
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise KeyFileError(f"key file not found: {path}") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None


def load_private_key(path_or_pem: str | bytes | Path) -> Ed25519PrivateKey:
    """Load an unencrypted Ed25519 private key from a PEM file path or PEM text."""
    pem, origin = _read_pem(path_or_pem)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{origin} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{origin} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path_or_pem: str | bytes | Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a PEM file path or PEM text."""
    pem, origin = _read_pem(path_or_pem)
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{origin} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{origin} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return the first 16 hex characters of sha256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    """Signs bytes with one private key and names that key by its kid."""

    __slots__ = ("_key", "kid", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.kid = key_id(self.public_key)

    @classmethod
    def load(cls, path_or_pem: str | bytes | Path) -> Signer:
        """Build from a private key PEM file path or PEM text."""
        return cls(load_private_key(path_or_pem))

    @property
    def public_pem(self) -> str:
        """The public key as PEM SubjectPublicKeyInfo text."""
        return _public_pem(self.public_key).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        """Return the raw 64-byte Ed25519 signature of data."""
        return self._key.sign(data)

    def verifier(self) -> Verifier:
        """Return a Verifier for this signer's public key."""
        return Verifier(self.public_key)


class Verifier:
    """Checks signatures made by one public key, named by its kid."""

    __slots__ = ("_raw", "kid", "public_key")

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self.public_key = public_key
        self.kid = key_id(public_key)
        self._raw = public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def load(cls, path_or_pem: str | bytes | Path) -> Verifier:
        """Build from a public key PEM file path or PEM text."""
        return cls(load_public_key(path_or_pem))

    @property
    def public_pem(self) -> str:
        """The public key as PEM SubjectPublicKeyInfo text."""
        return _public_pem(self.public_key).decode("ascii")

    def verify(self, data: bytes, sig: bytes) -> bool:
        """Tell whether sig is this key's signature of data; never raises for a bad one."""
        if not isinstance(sig, bytes | bytearray | memoryview) or len(sig) != SIGNATURE_LENGTH:
            return False
        # libsodium verifies in ~60% of OpenSSL's time, and the hub verifies every event.
        try:
            crypto_sign_open(bytes(sig) + bytes(data), self._raw)
        except BadSignatureError:
            return False
        return True


def write_keypair(prefix: Path | str, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new PREFIX.key (mode 0600) and PREFIX.pub; refuse to replace an existing key."""
    prefix = Path(prefix)
    key_path = prefix.with_name(prefix.name + ".key")
    pub_path = prefix.with_name(prefix.name + ".pub")
    if not overwrite:
        for existing in (key_path, pub_path):
            if existing.exists():
                raise KeyFileError(f"{existing} already exists; refusing to overwrite a key")
    private_pem, public_pem = generate_keypair()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    # Create with 0600 from the start so the private key is never readable by others, even
    # briefly; chmod covers a pre-existing file when overwriting.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    os.chmod(key_path, 0o600)
    pub_path.write_bytes(public_pem)
    return key_path, pub_path
