"""Signed verification receipts: anyone holding the hub's public key can check an answer."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from cryptography.hazmat.primitives import serialization

from national_hub.config import HubSettings
from schemas.canonical import canonical_bytes
from schemas.errors import KeyFileError, RegsyncError
from schemas.signing import SIGNATURE_LENGTH, Signer, Verifier, load_public_key
from schemas.timestamps import format_utc, utc_now

# The verdicts a receipt can carry (national_hub.query.verify.Verdict), as a person reads them.
VERDICT_LABELS: dict[str, str] = {"consistent": "一致", "mismatch": "不一致", "not_found": "未查到"}


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


# current: signs now. next: published ahead of a rotation, signs once replicas restart with it.
# retired: signed until retired_at; checks the receipts it signed up to then.
KeyStatus = Literal["current", "next", "retired"]


@dataclass(frozen=True, slots=True)
class ReceiptKey:
    """One key of the hub's published key set: the current one signs, retired ones only check
    the receipts they signed up to retired_at."""

    kid: str
    public_pem: str
    status: KeyStatus
    not_before: datetime | None = None
    retired_at: datetime | None = None

    def document(self) -> dict[str, Any]:
        """This key as an entry of GET /.well-known/regsync/hub-key's `keys`."""
        return {
            "kid": self.kid,
            "public_key": self.public_pem,
            "status": self.status,
            "not_before": format_utc(self.not_before) if self.not_before else None,
            "retired_at": format_utc(self.retired_at) if self.retired_at else None,
        }


def _moment(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise KeyFileError(f"the hub's key set: {what} is not a UTC time")


@dataclass(frozen=True, slots=True)
class ReceiptKeySet:
    """The hub's receipt keys: the current one first, then the retired ones."""

    keys: tuple[ReceiptKey, ...]

    @property
    def current(self) -> ReceiptKey:
        """The key receipts are signed with now."""
        return self.keys[0]

    def by_kid(self, kid: object) -> ReceiptKey | None:
        """The key a receipt's kid names, None when the set has none by that kid."""
        return next((k for k in self.keys if k.kid == kid), None)

    def document(self) -> dict[str, Any]:
        """The body of GET /.well-known/regsync/hub-key: the current key at the top (as
        before key rotation, CONTRACT §5) and every key, current and retired, in `keys`."""
        return {
            "kid": self.current.kid,
            "public_key": self.current.public_pem,
            "keys": [k.document() for k in self.keys],
        }

    @classmethod
    def single(cls, public_pem: str | bytes) -> ReceiptKeySet:
        """A set of one key (a PEM file given by hand): taken as current."""
        verifier = Verifier.load(public_pem)
        return cls((ReceiptKey(verifier.kid, verifier.public_pem, "current"),))

    @classmethod
    def from_document(cls, doc: object) -> ReceiptKeySet:
        """The set a hub-key document publishes; a document from before key rotation (no
        `keys`) is its one key. KeyFileError when it is no key set; every kid is recomputed
        from its key, never taken on the document's word."""
        if not isinstance(doc, dict) or not isinstance(doc.get("public_key"), str):
            raise KeyFileError("the hub's key document has no public_key")
        current = Verifier.load(doc["public_key"])
        keys = [ReceiptKey(current.kid, current.public_pem, "current")]
        entries = doc.get("keys", [])
        if not isinstance(entries, list):
            raise KeyFileError("the hub's key set: keys is not a list")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
                raise KeyFileError("the hub's key set: an entry has no public_key")
            verifier = Verifier.load(entry["public_key"])
            not_before = _moment(entry.get("not_before"), "not_before")
            if verifier.kid == current.kid:
                keys[0] = ReceiptKey(current.kid, current.public_pem, "current", not_before)
                continue
            if entry.get("status") == "next":
                keys.append(ReceiptKey(verifier.kid, verifier.public_pem, "next", not_before))
                continue
            retired_at = _moment(entry.get("retired_at"), "retired_at")
            if retired_at is None:
                raise KeyFileError(f"the hub's key set: key {verifier.kid} has no retired_at")
            keys.append(
                ReceiptKey(verifier.kid, verifier.public_pem, "retired", not_before, retired_at)
            )
        return cls(tuple(keys))


class ReceiptSigner:
    """Signs receipt payloads with the hub's current Ed25519 key; publishes the key set."""

    __slots__ = ("_signer", "key_set")

    def __init__(self, signer: Signer, retired: tuple[ReceiptKey, ...] = ()) -> None:
        self._signer = signer
        current = ReceiptKey(signer.kid, signer.public_pem, "current")
        self.key_set = ReceiptKeySet((current, *retired))

    @classmethod
    def load(cls, path_or_pem: str | bytes | Path) -> ReceiptSigner:
        """Build from the hub's private key (PEM file path or PEM text)."""
        return cls(Signer.load(path_or_pem))

    @classmethod
    def from_settings(cls, settings: HubSettings) -> ReceiptSigner:
        """The hub's signer with the retired keys and validity its federation file names."""
        signer = cls(
            settings.signer,
            tuple(
                ReceiptKey(
                    k.verifier.kid, k.verifier.public_pem, "retired", k.not_before, k.retired_at
                )
                for k in settings.retired_receipt_keys
            ),
        )
        if settings.next_receipt_key is not None:
            upcoming = settings.next_receipt_key
            keys = signer.key_set.keys
            signer.key_set = ReceiptKeySet(
                (keys[0], ReceiptKey(upcoming.kid, upcoming.public_pem, "next"), *keys[1:])
            )
        if settings.signing_key_not_before is not None:
            keys = signer.key_set.keys
            current = ReceiptKey(
                keys[0].kid, keys[0].public_pem, "current", settings.signing_key_not_before
            )
            signer.key_set = ReceiptKeySet((current, *keys[1:]))
        return signer

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

    def hub_key_document(self) -> dict[str, Any]:
        """The body of GET /.well-known/regsync/hub-key (ReceiptKeySet.document)."""
        return self.key_set.document()


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


# genuine: signed by a key of the set, within its validity. forged: the signature does not
# match (altered or never signed). unknown_key: no key of the set has the receipt's kid.
# after_retirement: a retired key's signature on a receipt dated after the key was retired
# (the key no longer signs: whoever signed it is not the hub).
CheckOutcome = Literal["genuine", "forged", "unknown_key", "after_retirement"]


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """A receipt checked against a key set: the outcome and the key its kid chose."""

    outcome: CheckOutcome
    key: ReceiptKey | None

    @property
    def genuine(self) -> bool:
        return self.outcome == "genuine"


def check_receipt(receipt: Mapping[str, Any], keys: ReceiptKeySet) -> ReceiptCheck:
    """Check receipt against the key its kid names in keys; never raises for a bad one."""
    key = keys.by_kid(receipt.get("kid"))
    if key is None:
        return ReceiptCheck("unknown_key", None)
    if not verify_receipt(receipt, key.public_pem):
        return ReceiptCheck("forged", key)
    if key.retired_at is not None:
        try:
            as_of = receipt_facts(receipt).as_of
        except MalformedReceipt:
            as_of = None
        if as_of is None or as_of > key.retired_at:
            return ReceiptCheck("after_retirement", key)
    return ReceiptCheck("genuine", key)


# ---------------------------------------------------------------------------------------------
# Receipts outside the API: a token for links and QR codes, the key's fingerprint, the facts


TOKEN_SEPARATOR = "."
_KID_CHARS = frozenset("0123456789abcdef")
_KID_LENGTH = 16
# A pasted receipt or token longer than this is not one the hub signed (a payload is ~150 bytes).
MAX_RECEIPT_TEXT = 4096

MalformedKind = Literal["empty", "too_long", "shape", "encoding", "payload", "signature", "kid"]


class MalformedReceipt(RegsyncError, ValueError):
    """Text that is not a receipt at all (as opposed to a receipt whose signature fails).

    `kind` says what is wrong, so an edge can word it for its reader: empty, too_long, shape
    (neither a receipt's JSON nor a token), encoding (not base64url), payload (not a JSON
    object), signature (not 64 bytes), kid (not 16 hex digits).
    """

    def __init__(self, kind: MalformedKind, message: str) -> None:
        super().__init__(message)
        self.kind: MalformedKind = kind


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str, what: str) -> bytes:
    # Padding is left off in tokens; put it back. validate=True refuses anything outside the
    # alphabet instead of silently skipping it (a stray character must not still check).
    if not text or len(text) % 4 == 1:
        raise MalformedReceipt("encoding", f"the {what} part of the token is not base64url")
    try:
        return base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise MalformedReceipt(
            "encoding", f"the {what} part of the token is not base64url"
        ) from None


def _check_kid(kid: object) -> str:
    if not isinstance(kid, str) or len(kid) != _KID_LENGTH or not _KID_CHARS.issuperset(kid):
        raise MalformedReceipt("kid", "kid must be 16 lowercase hex digits")
    return kid


def _check_payload(payload: object) -> str:
    if not isinstance(payload, str):
        raise MalformedReceipt("payload", "payload must be the signed JSON text")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise MalformedReceipt("payload", "payload is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedReceipt("payload", "payload is not a JSON object")
    return payload


def encode_token(receipt: Mapping[str, Any]) -> str:
    """The receipt as one URL-safe string for `/receipt?r=`: payload.signature.kid.

    Payload and signature are base64url without padding: the payload's exact bytes travel, so
    the signature still checks, and the string needs no escaping in a URL or a QR code.
    """
    signature = base64.b64decode(str(receipt["signature"]), validate=True)
    return TOKEN_SEPARATOR.join(
        (
            _b64url(str(receipt["payload"]).encode("utf-8")),
            _b64url(signature),
            _check_kid(receipt["kid"]),
        )
    )


def decode_token(token: str) -> dict[str, str]:
    """The receipt {payload, signature (standard base64), kid} a token carries; MalformedReceipt
    saying what is wrong otherwise."""
    text = token.strip()
    if not text:
        raise MalformedReceipt("empty", "no receipt given")
    if len(text) > MAX_RECEIPT_TEXT:
        raise MalformedReceipt("too_long", f"a receipt is at most {MAX_RECEIPT_TEXT} characters")
    parts = text.split(TOKEN_SEPARATOR)
    if len(parts) != 3:
        raise MalformedReceipt("shape", "a token has three parts: payload.signature.kid")
    raw_payload = _unb64url(parts[0], "payload")
    signature = _unb64url(parts[1], "signature")
    if len(signature) != SIGNATURE_LENGTH:
        raise MalformedReceipt("signature", f"a signature is {SIGNATURE_LENGTH} bytes")
    try:
        payload = raw_payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedReceipt("payload", "payload is not UTF-8 text") from None
    return {
        "payload": _check_payload(payload),
        "signature": base64.b64encode(signature).decode("ascii"),
        "kid": _check_kid(parts[2]),
    }


def parse_receipt_text(text: str) -> dict[str, str]:
    """A receipt from what a person pastes: its JSON as the API returns it (the receipt itself
    or the whole verify answer holding it), a token, or a /receipt?r= link holding either."""
    stripped = text.strip()
    if len(stripped) > MAX_RECEIPT_TEXT:
        raise MalformedReceipt("too_long", f"a receipt is at most {MAX_RECEIPT_TEXT} characters")
    if stripped.lower().startswith(("http://", "https://")):
        # A whole link copied from a QR code: its r parameter is the receipt.
        try:
            found = parse_qs(urlsplit(stripped).query).get("r")
        except ValueError:  # e.g. a malformed [IPv6] host: then it is no link of ours
            found = None
        if found:
            stripped = found[0].strip()
    if not stripped.startswith("{"):
        return decode_token(stripped)
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        raise MalformedReceipt(
            "shape", "the text is neither a receipt's JSON nor a token"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("receipt"), dict):
        data = data["receipt"]
    if not isinstance(data, dict) or not {"payload", "signature", "kid"} <= data.keys():
        raise MalformedReceipt("shape", "a receipt has payload, signature and kid")
    signature = data["signature"]
    if not isinstance(signature, str):
        raise MalformedReceipt("signature", "signature must be base64 text")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedReceipt("signature", "signature is not base64") from None
    if len(raw) != SIGNATURE_LENGTH:
        raise MalformedReceipt("signature", f"a signature is {SIGNATURE_LENGTH} bytes")
    return {
        "payload": _check_payload(data["payload"]),
        "signature": signature,
        "kid": _check_kid(data["kid"]),
    }


def key_fingerprint(public_pem: str | bytes) -> str:
    """SHA-256 of the key's SubjectPublicKeyInfo DER, lowercase hex: what a person compares.

    The DER, not the raw 32 bytes the kid is cut from: it is what WebCrypto imports ("spki") and
    `openssl pkey -pubin -outform DER | sha256sum` prints, so anyone can recompute it.
    """
    key = load_public_key(public_pem if isinstance(public_pem, bytes) else public_pem.encode())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def fingerprint_groups(fingerprint: str, size: int = 4) -> list[str]:
    """The fingerprint in upper-case groups of `size` hex digits, as shown to people."""
    text = fingerprint.upper()
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a receipt's payload vouches for (whatever its signature turns out to be)."""

    verdict: str | None
    cert_no: str | None
    record_version: int | None
    status: str | None
    as_of: datetime | None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def receipt_facts(receipt: Mapping[str, Any]) -> ReceiptFacts:
    """The payload's members, each None when absent or not of its type (as_of parsed, UTC)."""
    data = orjson.loads(_check_payload(receipt.get("payload")))
    version = data.get("record_version")
    as_of: datetime | None = None
    if isinstance(data.get("as_of"), str):
        try:
            as_of = datetime.fromisoformat(data["as_of"].replace("Z", "+00:00"))
        except ValueError:
            as_of = None
        if as_of is not None and as_of.tzinfo is None:
            as_of = None
    return ReceiptFacts(
        verdict=_text(data.get("verdict")),
        cert_no=_text(data.get("cert_no")),
        record_version=version
        if isinstance(version, int) and not isinstance(version, bool)
        else None,
        status=_text(data.get("status")),
        as_of=as_of,
    )


# China Standard Time: the hub signs in UTC, a person in China reads Beijing time.
BEIJING = timezone(timedelta(hours=8))


def beijing_time(moment: datetime) -> str:
    """A moment as Beijing wall-clock time to the second: 2026-12-05 12:10:00."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
