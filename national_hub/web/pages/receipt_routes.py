"""GET /receipt: the receipt checker (CONTRACT §5a), the target of a receipt's QR code.

The signature is checked twice, independently: in the person's browser by receipt.js
(WebCrypto Ed25519 against GET /.well-known/regsync/hub-key), so the verdict does not rest on
this server's word; and here, for a `?r=` receipt, so the page is useful without JavaScript.
The page says which check a verdict comes from. The receipt section of the verify page
(verify_routes) is built here too: receipt_view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from national_hub.query.receipts import (
    VERDICT_LABELS,
    MalformedKind,
    MalformedReceipt,
    ReceiptFacts,
    encode_token,
    fingerprint_groups,
    key_fingerprint,
    parse_receipt_text,
    receipt_facts,
    verify_receipt,
)
from national_hub.web.appkeys import RECEIPTS
from national_hub.web.pages.filters import beijing_time
from national_hub.web.pages.labels import status_label
from national_hub.web.pages.page_route import RATE_LIMITED, PageRoute, html_response
from national_hub.web.pages.render import render_page
from national_hub.web.qr import qr_svg
from schemas.openapi import PARSER_400, Operation, Param
from schemas.vocab import STATUS_LABELS

CHECKER_PATH = "/receipt"
HUB_KEY_PATH = "/.well-known/regsync/hub-key"
ISSUER = "全国医师执业注册同步中心"

# What is wrong with a text that is not a receipt at all, for the person who pasted it.
MALFORMED_MESSAGES: dict[MalformedKind, str] = {
    "empty": "请粘贴回执内容，或扫描回执上的二维码打开本页。",
    "too_long": "内容过长，不是本中心签发的回执。",
    "shape": "无法识别：请粘贴核验结果中的回执（含 payload、signature、kid 的 JSON），"
    "或回执二维码链接中的回执码。",
    "encoding": "回执码中有无效的字符，可能没有复制完整，请重新复制。",
    "payload": "回执内容已损坏，无法读取，请重新复制。",
    "signature": "回执的签名格式不正确（应为 64 字节的 Base64 数据），可能没有复制完整。",
    "kid": "回执的密钥编号格式不正确（应为 16 位十六进制数字）。",
}


# ---------------------------------------------------------------------------------------------
# What a page shows (pure)


@dataclass(frozen=True, slots=True)
class FactsView:
    """A receipt's payload as shown: labels in Chinese, as_of in Beijing time."""

    verdict: str
    cert_no: str
    record_version: str
    status: str
    as_of: str
    cert_link: str | None


def facts_view(facts: ReceiptFacts) -> FactsView:
    """The payload's members in words; a member absent or of the wrong type shows as —."""
    cert_ok = facts.cert_no is not None and len(facts.cert_no) == 15 and facts.cert_no.isdigit()
    return FactsView(
        verdict=VERDICT_LABELS.get(facts.verdict or "", facts.verdict or "—"),
        cert_no=facts.cert_no or "—",
        record_version="—" if facts.record_version is None else str(facts.record_version),
        status=status_label(facts.status),
        as_of=beijing_time(facts.as_of),
        cert_link=f"/physicians/{facts.cert_no}" if cert_ok else None,
    )


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A signed receipt as printed on the verify page."""

    facts: FactsView
    payload: str
    signature: str
    kid: str
    fingerprint: tuple[str, ...]
    token: str
    checker_href: str
    checker_url: str
    qr: Markup


def checker_href(token: str) -> str:
    """The checker's address for a receipt (relative)."""
    return f"{CHECKER_PATH}?{urlencode({'r': token})}"


def receipt_view(receipt: dict[str, str], public_pem: str, base_url: str) -> ReceiptView:
    """The receipt, its key's fingerprint, and the QR code of its checker's full address."""
    token = encode_token(receipt)
    href = checker_href(token)
    url = base_url.rstrip("/") + href
    # segno writes the SVG (path data and an escaped <title>), nothing of the receipt's text.
    qr = Markup(qr_svg(url, "回执二维码：扫码打开回执查验页").svg)
    return ReceiptView(
        facts=facts_view(receipt_facts(receipt)),
        payload=receipt["payload"],
        signature=receipt["signature"],
        kid=receipt["kid"],
        fingerprint=tuple(fingerprint_groups(key_fingerprint(public_pem))),
        token=token,
        checker_href=href,
        checker_url=url,
        qr=qr,
    )


def checker_labels() -> dict[str, dict[str, str]]:
    """The words receipt.js shows (one source for the server's and the browser's pages)."""
    return {
        "verdicts": dict(VERDICT_LABELS),
        "statuses": {s.value: label for s, label in STATUS_LABELS.items()},
        "malformed": {kind: text for kind, text in MALFORMED_MESSAGES.items()},
    }


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """This server's check of a ?r= receipt."""

    genuine: bool
    other_key: bool
    facts: FactsView


# ---------------------------------------------------------------------------------------------
# Handler


async def receipt_page(request: web.Request) -> web.Response:
    """The checker; with ?r=, this server's check of that receipt too (400 if it is none)."""
    signer = request.app[RECEIPTS]
    key = signer.hub_key_document()
    raw = request.query.get("r")
    context: dict[str, Any] = {
        "nav": "receipt",
        "text": raw or "",
        "error": None,
        "check": None,
        "labels": checker_labels(),
        "key_url": HUB_KEY_PATH,
        "fingerprint": fingerprint_groups(key_fingerprint(key["public_key"])),
        "kid": key["kid"],
        "issuer": ISSUER,
    }
    if raw is None:
        return render_page(request, "receipt.html", context)
    try:
        receipt = parse_receipt_text(raw)
    except MalformedReceipt as exc:
        context["error"] = MALFORMED_MESSAGES[exc.kind]
        return render_page(request, "receipt.html", context, status=400)
    context["check"] = ServerCheck(
        genuine=verify_receipt(receipt, key["public_key"]),
        other_key=receipt["kid"] != key["kid"],
        facts=facts_view(receipt_facts(receipt)),
    )
    context["receipt_kid"] = receipt["kid"]
    return render_page(request, "receipt.html", context)


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            CHECKER_PATH,
            "page_receipt",
            "The receipt checker (HTML): checks a receipt's signature in the browser; with r, "
            "the server's check of that receipt too",
            [
                html_response(200, "The checker (and the server's verdict on r)"),
                html_response(400, "r is not a receipt: the message next to the field", PARSER_400),
                RATE_LIMITED,
            ],
            params=[
                Param(
                    "r",
                    "query",
                    str,
                    "a receipt: its token (payload.signature.kid, base64url) as the QR code "
                    "carries it, or its JSON as POST /v1/verify answers it",
                )
            ],
            tags=("pages",),
        ),
        receipt_page,
        # Answered from memory (the hub's key, one signature check), like
        # GET /.well-known/regsync/hub-key.
        admitted=False,
    ),
)
