"""Kafka message headers that carry an event's or heartbeat's signature."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from schemas.signing import SIGNATURE_LENGTH, Signer

Headers = list[tuple[str, bytes]]


def signed_headers(signer: Signer, value: bytes) -> Headers:
    """The `sig` (base64 Ed25519 of the exact value bytes) and `kid` headers for a message."""
    return [("sig", base64.b64encode(signer.sign(value))), ("kid", signer.kid.encode("ascii"))]


def read_signature(headers: Iterable[tuple[str, bytes]] | None) -> tuple[bytes, str] | None:
    """The raw signature and kid from a message's headers; None when absent or malformed.

    A raw 64-byte `sig` is accepted too, for producers that do not base64 it.
    """
    sig: bytes | None = None
    kid: str | None = None
    for name, value in headers or ():
        if name == "sig" and value is not None:
            raw = bytes(value)
            if len(raw) == SIGNATURE_LENGTH:
                sig = raw
            else:
                try:
                    sig = base64.b64decode(raw, validate=True)
                except (binascii.Error, ValueError):
                    return None
        elif name == "kid" and value is not None:
            try:
                kid = bytes(value).decode("ascii")
            except UnicodeDecodeError:
                return None
    if sig is None or kid is None or len(sig) != SIGNATURE_LENGTH:
        return None
    return sig, kid
