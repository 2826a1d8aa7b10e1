"""Receipts outside the API: the ?r= token, pasted text, the key's fingerprint, the facts."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from national_hub.query.receipts import (
    MalformedReceipt,
    ReceiptSigner,
    decode_token,
    encode_token,
    fingerprint_groups,
    key_fingerprint,
    parse_receipt_text,
    receipt_facts,
    receipt_payload,
    verify_receipt,
)
from schemas.signing import Signer, generate_keypair

AS_OF = datetime(2026, 12, 5, 4, 10, 0, 123000, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer() -> ReceiptSigner:
    return ReceiptSigner(Signer.load(generate_keypair()[0]))


@pytest.fixture(scope="module")
def receipt(signer: ReceiptSigner) -> dict[str, str]:
    return signer.sign(receipt_payload("consistent", "500000000000001", 3, AS_OF, status="active"))


def test_token_round_trip_gives_the_receipt(receipt: dict[str, str]) -> None:
    assert decode_token(encode_token(receipt)) == receipt


def test_token_is_url_safe(receipt: dict[str, str]) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    assert set(encode_token(receipt)) <= allowed


def test_decoded_token_still_checks(signer: ReceiptSigner, receipt: dict[str, str]) -> None:
    public = signer.hub_key_document()["public_key"]
    assert verify_receipt(decode_token(encode_token(receipt)), public)


def test_token_keeps_non_ascii_payload_bytes(signer: ReceiptSigner) -> None:
    receipt = signer.sign({"verdict": "consistent", "note": "重庆市"})
    assert decode_token(encode_token(receipt))["payload"] == receipt["payload"]


def _parts(receipt: dict[str, str]) -> list[str]:
    return encode_token(receipt).split(".")


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: "", "empty"),
        (lambda p: "   ", "empty"),
        (lambda p: "x" * 5000, "too_long"),
        (lambda p: f"{p[0]}.{p[1]}", "shape"),
        (lambda p: f"{p[0]}.{p[1]}.{p[2]}.x", "shape"),
        (lambda p: f"{p[0]}!.{p[1]}.{p[2]}", "encoding"),
        (lambda p: f"{p[0]}.{p[1]}abc.{p[2]}", "encoding"),
        (lambda p: f"{p[0]}.{p[1][:-4]}.{p[2]}", "signature"),
        (lambda p: f"{p[0]}.{p[1]}.{p[2].upper()}", "kid"),
        (lambda p: f"{p[0]}.{p[1]}.{p[2][:-1]}", "kid"),
        (lambda p: f"{base64.urlsafe_b64encode(b'[1]').decode()}.{p[1]}.{p[2]}", "payload"),
        (lambda p: f"{base64.urlsafe_b64encode(b'nope').decode()}.{p[1]}.{p[2]}", "payload"),
        (
            lambda p: f"{base64.urlsafe_b64encode(bytes([0xFF, 0xFE])).decode()}.{p[1]}.{p[2]}",
            "payload",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "two-parts",
        "four-parts",
        "bad-char",
        "bad-length",
        "short-signature",
        "kid-upper",
        "kid-short",
        "payload-array",
        "payload-not-json",
        "payload-not-utf8",
    ],
)
def test_malformed_token_says_what_is_wrong(
    receipt: dict[str, str], make: Callable[[list[str]], str], kind: str
) -> None:
    with pytest.raises(MalformedReceipt) as caught:
        decode_token(make(_parts(receipt)))
    assert caught.value.kind == kind


def test_pasted_receipt_json_is_read(receipt: dict[str, str]) -> None:
    assert parse_receipt_text(json.dumps(receipt, ensure_ascii=False)) == receipt


def test_pasted_verify_answer_gives_its_receipt(receipt: dict[str, str]) -> None:
    answer = {"verdict": "consistent", "fields": {}, "receipt": receipt}
    assert parse_receipt_text(json.dumps(answer)) == receipt


def test_pasted_link_gives_its_token(receipt: dict[str, str]) -> None:
    link = f"https://hub.example.cn/receipt?r={encode_token(receipt)}"
    assert parse_receipt_text(link) == receipt


def test_pasted_malformed_link_is_no_receipt() -> None:
    with pytest.raises(MalformedReceipt):
        parse_receipt_text("http://[::1/receipt?r=x")


def test_pasted_token_is_read(receipt: dict[str, str]) -> None:
    assert parse_receipt_text(f"  {encode_token(receipt)}\n") == receipt


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("{not json", "shape"),
        ('{"payload": "{}"}', "shape"),
        ('{"payload": "{}", "signature": "@@", "kid": "0123456789abcdef"}', "signature"),
        ('{"payload": "{}", "signature": "AAAA", "kid": "0123456789abcdef"}', "signature"),
    ],
    ids=["not-json", "missing-members", "signature-not-base64", "signature-short"],
)
def test_malformed_pasted_json_says_what_is_wrong(text: str, kind: str) -> None:
    with pytest.raises(MalformedReceipt) as caught:
        parse_receipt_text(text)
    assert caught.value.kind == kind


def test_fingerprint_is_sha256_of_the_spki_der(signer: ReceiptSigner) -> None:
    pem = signer.hub_key_document()["public_key"]
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    assert key_fingerprint(pem) == hashlib.sha256(der).hexdigest()


def test_fingerprint_matches_openssl(signer: ReceiptSigner) -> None:
    pem = signer.hub_key_document()["public_key"]
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=pem.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert key_fingerprint(pem) == hashlib.sha256(der).hexdigest()


def test_fingerprint_groups_are_upper_case_fours() -> None:
    assert fingerprint_groups("ab12cd34ef") == ["AB12", "CD34", "EF"]


def test_facts_read_the_payload(receipt: dict[str, str]) -> None:
    facts = receipt_facts(receipt)
    assert (facts.verdict, facts.cert_no, facts.record_version, facts.status, facts.as_of) == (
        "consistent",
        "500000000000001",
        3,
        "active",
        AS_OF,
    )


def test_facts_of_a_payload_with_odd_members_are_none() -> None:
    payload = json.dumps({"verdict": 1, "record_version": True, "as_of": "yesterday"})
    facts = receipt_facts({"payload": payload})
    assert (facts.verdict, facts.record_version, facts.as_of) == (None, None, None)
