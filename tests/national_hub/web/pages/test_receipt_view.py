"""The receipt as the pages show it: facts in words, the QR code's target, the checker's words."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from national_hub.query.receipts import (
    MalformedKind,
    ReceiptSigner,
    decode_token,
    receipt_facts,
    receipt_payload,
)
from national_hub.web.pages.receipt_view import (
    MALFORMED_MESSAGES,
    checker_labels,
    facts_view,
    receipt_view,
)
from schemas.signing import Signer, generate_keypair

AS_OF = datetime(2026, 12, 5, 4, 10, 0, 123000, tzinfo=UTC)
BASE = "https://hub.example.cn"


@pytest.fixture(scope="module")
def signer() -> ReceiptSigner:
    return ReceiptSigner(Signer.load(generate_keypair()[0]))


@pytest.fixture(scope="module")
def receipt(signer: ReceiptSigner) -> dict[str, str]:
    return signer.sign(
        receipt_payload("consistent", "500000000000001", 3, AS_OF, status="changing")
    )


def test_facts_are_in_words_and_beijing_time(receipt: dict[str, str]) -> None:
    view = facts_view(receipt_facts(receipt))
    assert (view.verdict, view.status, view.as_of) == (
        "一致",
        "变更中",
        "2026-12-05 12:10:00（北京时间）",
    )


def test_not_found_receipt_shows_dashes(signer: ReceiptSigner) -> None:
    receipt = signer.sign(receipt_payload("not_found", "509999999999999", None, AS_OF))
    view = facts_view(receipt_facts(receipt))
    assert (view.verdict, view.record_version, view.status) == ("未查到", "—", "—")


def test_qr_target_is_the_checker_with_the_receipt(
    signer: ReceiptSigner, receipt: dict[str, str]
) -> None:
    view = receipt_view(receipt, signer.hub_key_document()["public_key"], BASE + "/")
    url = urlsplit(view.checker_url)
    assert (
        f"{url.scheme}://{url.netloc}{url.path}",
        decode_token(parse_qs(url.query)["r"][0]),
    ) == (
        BASE + "/receipt",
        receipt,
    )


def test_qr_svg_carries_no_style(signer: ReceiptSigner, receipt: dict[str, str]) -> None:
    view = receipt_view(receipt, signer.hub_key_document()["public_key"], BASE)
    assert view.qr.startswith("<svg") and "style" not in view.qr


def test_fingerprint_is_sixteen_groups(signer: ReceiptSigner, receipt: dict[str, str]) -> None:
    view = receipt_view(receipt, signer.hub_key_document()["public_key"], BASE)
    assert [len(g) for g in view.fingerprint] == [4] * 16


def test_every_malformed_kind_has_a_message() -> None:
    assert set(MALFORMED_MESSAGES) == set(MalformedKind.__args__)  # type: ignore[attr-defined]


def test_checker_script_gets_the_servers_words() -> None:
    assert checker_labels()["malformed"] == MALFORMED_MESSAGES
