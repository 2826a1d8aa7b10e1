"""Kafka message headers that carry an event's or heartbeat's signature."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from schemas.signing import SIGNATURE_LENGTH, Signer

Headers = list[tuple[str, bytes]]


def signature_headers(sig: bytes, kid: str | bytes) -> Headers:
    """The `sig` (base64 of the raw Ed25519 signature) and `kid` headers."""
    kid_bytes = kid if isinstance(kid, bytes) else kid.encode("ascii")
    return [("sig", base64.b64encode(sig)), ("kid", kid_bytes)]


def signed_headers(signer: Signer, value: bytes) -> Headers:
    """Sign the exact value bytes and return the headers that carry the signature."""
    return signature_headers(signer.sign(value), signer.kid)


def decode_signature(raw: bytes) -> bytes | None:
    """The raw signature from a `sig` header: base64 text (the norm) or raw 64 bytes."""
    if len(raw) == SIGNATURE_LENGTH:
        return raw
    try:
        sig = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    return sig if len(sig) == SIGNATURE_LENGTH else None


def read_signature(headers: Iterable[tuple[str, bytes]] | None) -> tuple[bytes, str] | None:
    """The raw signature and kid from a message's headers; None when absent or malformed."""
    sig: bytes | None = None
    kid: str | None = None
    for name, value in headers or ():
        if value is None:
            continue
        if name == "sig":
            sig = decode_signature(bytes(value))
            if sig is None:
                return None
        elif name == "kid":
            try:
                kid = bytes(value).decode("ascii")
            except UnicodeDecodeError:
                return None
    if sig is None or kid is None:
        return None
    return sig, kid
