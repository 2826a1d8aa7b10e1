"""GET /receipt: the receipt checker (CONTRACT §5a), the target of a receipt's QR code.

The signature is checked twice, independently: in the person's browser by receipt.js
(WebCrypto Ed25519 against the key of GET /.well-known/regsync/hub-key's set that the receipt's
kid names, current or retired), so the verdict does not rest on
this server's word; and here, for a `?r=` receipt, so the page is useful without JavaScript.
The page says which check a verdict comes from. What it shows is receipt_view's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from national_hub.query.receipts import (
    MalformedReceipt,
    check_receipt,
    parse_receipt_text,
    receipt_facts,
)
from national_hub.web.appkeys import RECEIPTS
from national_hub.web.pages.page_route import RATE_LIMITED, PageRoute
from national_hub.web.pages.receipt_view import (
    CHECKER_PATH,
    ISSUER,
    MALFORMED_MESSAGES,
    checker_labels,
    key_views,
    server_check,
)
from national_hub.web.pages.render import render_page
from schemas.openapi import PARSER_400, Operation, Param
from schemas.page_route import html_response

HUB_KEY_PATH = "/.well-known/regsync/hub-key"


async def receipt_page(request: web.Request) -> web.Response:
    """The checker; with ?r=, this server's check of that receipt too (400 if it is none)."""
    keys = request.app[RECEIPTS].key_set
    raw = request.query.get("r")
    shown = key_views(keys)
    context: dict[str, Any] = {
        "nav": "receipt",
        "text": raw or "",
        "error": None,
        "check": None,
        "labels": checker_labels(),
        "key_url": HUB_KEY_PATH,
        "keys": shown,
        "fingerprint": shown[0].fingerprint,
        "kid": shown[0].kid,
        "issuer": ISSUER,
    }
    if raw is None:
        return render_page(request, "receipt.html", context)
    try:
        receipt = parse_receipt_text(raw)
    except MalformedReceipt as exc:
        context["error"] = MALFORMED_MESSAGES[exc.kind]
        return render_page(request, "receipt.html", context, status=400)
    context["check"] = server_check(check_receipt(receipt, keys), receipt_facts(receipt))
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
