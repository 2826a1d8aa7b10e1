"""GET /verify (the form) and POST /verify (the verdict page): CONTRACT §5a.

The verdict is the API's own: the form's fields are read by POST /v1/verify's model
(VerifyRequest) and compared by verify_certificate, whose answer carries the signed receipt.
This module only shows that answer: the verdict and each field in words and icons, the notes
(a pending change 变更中 explains a differing institution), the explanation when not found, and
the receipt ready to print with its QR code. The words are verify_form's, verdict_text's and
receipt_view's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDict
from pydantic import ValidationError

from national_hub.query.verify import VerifyRequest, verify_certificate
from national_hub.web.answers import VerifyAnswer
from national_hub.web.appkeys import ALIASES, EXPLAINER, INDEX, RECEIPTS
from national_hub.web.pages.labels import CATEGORY_CHOICES, PROVINCE_CHOICES, SCOPE_GROUPS
from national_hub.web.pages.page_route import (
    OVERLOADED,
    RATE_LIMITED,
    PageRoute,
)
from national_hub.web.pages.receipt_view import receipt_view
from national_hub.web.pages.render import render_page
from national_hub.web.pages.verdict_text import verdict_view
from national_hub.web.pages.verify_form import field_errors, form_values, request_data
from national_hub.web.params import answer_body
from schemas.openapi import PARSER_400, Operation
from schemas.page_route import html_response
from schemas.vocab import MAX_SCOPES

FORM_CHOICES: dict[str, Any] = {
    "provinces": PROVINCE_CHOICES,
    "categories": CATEGORY_CHOICES,
    "scope_groups": SCOPE_GROUPS,
    "max_scopes": MAX_SCOPES,
}


def _context(values: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, Any]:
    return {
        **FORM_CHOICES,
        "nav": "verify",
        "form": values,
        "errors": errors,
        "result": None,
        "receipt": None,
    }


async def verify_form(request: web.Request) -> web.Response:
    """The form, blank."""
    values = form_values(MultiDict())
    return render_page(request, "verify.html", _context(values, {}))


async def verify_page(request: web.Request) -> web.Response:
    """The verdict page of a sent form, or the form with each refused field's message (400)."""
    values = form_values(await request.post())
    try:
        body = VerifyRequest.model_validate(request_data(values))
    except ValidationError as exc:
        return render_page(
            request, "verify.html", _context(values, field_errors(exc, values)), status=400
        )
    app = request.app

    async def explain(cert_no: str) -> dict[str, Any]:
        return answer_body(await app[EXPLAINER].cert(cert_no, body.province))

    answer = await verify_certificate(body, app[INDEX], app[ALIASES], app[RECEIPTS], explain)
    # Validated as the API's answer is, so the page shows what POST /v1/verify would return.
    checked = answer_body(VerifyAnswer(**answer))
    context = _context(values, {})
    context["result"] = verdict_view(checked, values)
    context["receipt"] = receipt_view(
        answer["receipt"],
        app[RECEIPTS].hub_key_document()["public_key"],
        str(request.url.origin()),
    )
    return render_page(request, "verify.html", context)


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/verify",
            "page_verify_form",
            "The certificate verification form (HTML)",
            [html_response(200, "The form")],
            tags=("pages",),
        ),
        verify_form,
        # A constant page.
        admitted=False,
    ),
    PageRoute(
        Operation(
            "POST",
            "/verify",
            "page_verify",
            "The verdict page (HTML) of a form-encoded certificate: the fields of POST /v1/verify "
            "(cert_no, name, institution, category, scopes, province; scopes repeated, at most "
            f"{MAX_SCOPES}), the per-field view, the explanation when not found, the signed "
            "receipt with its QR code",
            [
                html_response(200, "The verdict page"),
                html_response(400, "The form with each refused field's message", PARSER_400),
                html_response(413, "The form is larger than the hub takes"),
                RATE_LIMITED,
                OVERLOADED,
            ],
            tags=("pages",),
        ),
        verify_page,
        # It reads the serving index and may ask nodes (the explanation): it waits its turn
        # like POST /v1/verify.
        admitted=True,
    ),
)
