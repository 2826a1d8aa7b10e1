"""GET /physicians/{cert_no}: the physician page, or (404) why the number is not visible yet.

The record is the lookup's (the serving index), the history the store's (as GET
/v1/physicians/{cert_no}/history), the explanation the hub's Explainer (as the lookup's 404).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from national_hub.errors import InvalidParameter
from national_hub.sync.node_client import NodeUnreachable
from national_hub.web.appkeys import EXPLAINER, INDEX, NODES, STORE
from national_hub.web.pages.explain_text import explain_text
from national_hub.web.pages.freshness_text import freshness_lines
from national_hub.web.pages.page_route import (
    OVERLOADED,
    RATE_LIMITED,
    PageRoute,
)
from national_hub.web.pages.record_view import history_entries, record_view
from national_hub.web.pages.render import render_page
from national_hub.web.params import answer_body, cert_no_param
from national_hub.web.query_routes import freshness_for
from national_hub.web.record_routes import public_record
from schemas.openapi import Operation, Param
from schemas.page_route import html_response
from schemas.record import CertNo
from schemas.vocab import ExplanationState

# How often a waiting page reloads itself without JavaScript (site.js polls faster).
REFRESH_WITHOUT_JS_S = 5
_WAITING = (ExplanationState.IN_TRANSIT, ExplanationState.NOT_PUBLISHED)


async def _committed_ago(app: web.Application, province: str | None, cert_no: str) -> float | None:
    """Seconds since the province committed the record's latest change, if its node says."""
    if province is None or not app[NODES].enabled:
        return None
    try:
        node_record = await app[NODES].record(province, cert_no)
    except NodeUnreachable:
        return None
    if node_record.committed_at is None:
        return None
    return max(0.0, time.time() - node_record.committed_at.timestamp())


async def _not_found(request: web.Request, cert_no: str) -> web.Response:
    app = request.app
    explanation: Mapping[str, Any] = answer_body(await app[EXPLAINER].cert(cert_no))
    province = explanation.get("province")
    committed_ago = None
    if explanation["state"] in _WAITING:
        committed_ago = await _committed_ago(app, province, cert_no)
    text = explain_text(explanation, cert_no, committed_ago=committed_ago)
    context: dict[str, Any] = {
        "cert_no": cert_no,
        "explain": text,
        "freshness": freshness_lines(freshness_for(app), [province] if province else []),
        "refresh_s": REFRESH_WITHOUT_JS_S if text.waiting else None,
        "bad_number": None,
    }
    return render_page(request, "not_found.html", context, status=404)


async def physician_page(request: web.Request) -> web.Response:
    """The record with its history; 404 with the explanation; 400 for a malformed number."""
    raw = request.match_info["cert_no"]
    try:
        cert_no = cert_no_param("cert_no", raw)
    except InvalidParameter:
        context: dict[str, Any] = {
            "cert_no": raw,
            "explain": None,
            "freshness": [],
            "refresh_s": None,
            "bad_number": "执业证书编码应为 15 位数字，请对照证书原件核对后重新输入。",
        }
        return render_page(request, "not_found.html", context, status=400)
    row = await request.app[INDEX].record(cert_no)
    if row is None:
        return await _not_found(request, cert_no)
    record = public_record(row)
    history = await request.app[STORE].history(cert_no)
    context = {
        "r": record_view(record),
        "history": history_entries(history),
        "freshness": freshness_lines(freshness_for(request.app), [row["province"]]),
    }
    return render_page(request, "physician.html", context)


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/physicians/{cert_no}",
            "page_physician",
            "The physician page (HTML); 404 with the explanation when not visible",
            [
                html_response(200, "The page"),
                html_response(400, "The number is not 15 digits"),
                html_response(404, "Why the number is not visible (yet)"),
                RATE_LIMITED,
                OVERLOADED,
            ],
            params=[Param("cert_no", "path", CertNo, "执业证书编码", required=True)],
            tags=("pages",),
        ),
        physician_page,
        admitted=True,
    ),
)
