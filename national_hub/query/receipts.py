"""Signed verification receipts: anyone holding the hub's public key can check an answer."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.canonical import canonical_bytes
from schemas.errors import KeyFileError
from schemas.signing import Signer, Verifier
from schemas.timestamps import format_utc, utc_now


def receipt_payload(
    verdict: str,
    cert_no: str,
    record_version: int | None,
    as_of: datetime | None = None,
    *,
    status: str | None = None,
) -> dict[str, Any]:
    """The fields a receipt vouches for; as_of defaults to now (UTC, milliseconds).

    `status` (the registration status the verdict was based on) is signed too, so a receipt
    cannot be read as vouching for a registration that is no longer in force.
    """
    return {
        "verdict": verdict,
        "cert_no": cert_no,
        "record_version": record_version,
        "status": status,
        "as_of": format_utc(as_of or utc_now()),
    }


class ReceiptSigner:
    """Signs receipt payloads with the hub's Ed25519 key."""

    __slots__ = ("_signer",)

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    @classmethod
    def load(cls, path_or_pem: str | bytes | Path) -> ReceiptSigner:
        """Build from the hub's private key (PEM file path or PEM text)."""
        return cls(Signer.load(path_or_pem))

    @property
    def kid(self) -> str:
        """The key id receipts carry."""
        return self._signer.kid

    def sign(self, payload: Mapping[str, Any]) -> dict[str, str]:
        """Return {payload: exact JSON text, signature: base64 Ed25519 of its UTF-8, kid}."""
        # The payload travels as text, not as an object, so clients verify the very bytes signed
        # instead of re-serialising JSON (key order, escapes and number forms differ by library).
        data = canonical_bytes(dict(payload))
        return {
            "payload": data.decode("utf-8"),
            "signature": base64.b64encode(self._signer.sign(data)).decode("ascii"),
            "kid": self._signer.kid,
        }

    def hub_key_document(self) -> dict[str, str]:
        """The body of GET /.well-known/regsync/hub-key."""
        return {"kid": self._signer.kid, "public_key": self._signer.public_pem}


def verify_receipt(receipt: Mapping[str, Any], public_pem: str | bytes) -> bool:
    """Tell whether receipt was signed by the key in public_pem; never raises for a bad one."""
    try:
        verifier = Verifier.load(public_pem)
    except KeyFileError:
        return False
    payload, signature, kid = receipt.get("payload"), receipt.get("signature"), receipt.get("kid")
    if not isinstance(payload, str) or not isinstance(signature, str) or kid != verifier.kid:
        return False
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return verifier.verify(payload.encode("utf-8"), sig)
