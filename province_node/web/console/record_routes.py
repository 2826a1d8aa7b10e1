"""GET /registrations/{cert_no}: one registration's page: every field in Chinese, the ID number
masked (shown in full on request, which is logged without the number), the pending change, the
local history from the outbox, the national visibility, and the actions the lifecycle allows
now (for a registrar)."""

from __future__ import annotations

import logging

from aiohttp import web

from province_node import console_queries, registration_reads
from province_node import registry as reg
from province_node.errors import NotFound
from province_node.web.appkeys import REGISTRY, SETTINGS
from province_node.web.console import action_forms, claims, labels
from province_node.web.console.access import signed_in
from province_node.web.console.operations import (
    CERT_NO,
    NOT_FOUND,
    SIGN_IN,
    UNAVAILABLE,
    console_operation,
    page,
)
from province_node.web.console.render import render_page
from province_node.web.console.visibility import national_visibility
from schemas.openapi import Param
from schemas.page_route import Route
from schemas.record import Record
from schemas.vocab import EVENT_TYPE_LABELS, EventType

log = logging.getLogger(__name__)

# What a finished action's ?done= says on the page it returns to.
DONE_NOTICES: dict[str, str] = {
    **{kind.value: f"已办理：{label}。" for kind, label in EVENT_TYPE_LABELS.items()},
    EventType.REGISTERED.value: "注册已登记。",
    "approved": "已批准变更，变更内容已生效。",
}


def done_notice(done: str | None) -> str | None:
    """The notice of ?done=, or None for none or an unknown one."""
    return DONE_NOTICES.get(done or "")


async def stored_or_404(request: web.Request, cert_no: str) -> reg.StoredRecord:
    """The stored registration, or the 404 page."""
    stored = await request.app[REGISTRY].read(registration_reads.get_record, cert_no)
    if stored is None:
        province = request.app[SETTINGS].province
        raise NotFound(f"no registration with cert_no {cert_no} in province {province}")
    return stored


async def record_page(request: web.Request) -> web.StreamResponse:
    """The registration's page."""
    session = signed_in(request)
    cert_no = request.match_info["cert_no"]
    stored = await stored_or_404(request, cert_no)
    history = await request.app[REGISTRY].read(console_queries.history, cert_no)
    show_id = request.query.get("show_id") == "1"
    if show_id:
        # Who saw a full ID number is an audit question; the log names the record, never the number.
        log.info("id number shown: cert_no %s to a %s", cert_no, session.role.value)
    record = Record.model_validate(stored.record)
    visibility = await national_visibility(request.app, cert_no, stored.latest_seq)
    context = {
        "visibility": visibility,
        "r": stored.record,
        "stored": stored,
        "id_text": stored.id_number if show_id else labels.mask_id(stored.id_number),
        "show_id": show_id,
        "notice": done_notice(request.query.get("done")),
        "history": history,
        "changes": labels.pending_changes(stored.record),
        "actions": action_forms.offered(record) if session.can_write else [],
        "approvable": session.can_write and action_forms.approvable(record),
        "new_key": claims.new_key,
        "labels": labels,
    }
    return render_page(request, "record.html", context)


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/registrations/{cert_no}",
            "console_record",
            "One registration's page: its fields, pending change, history, national visibility "
            "and the actions allowed now",
            [page(), SIGN_IN, NOT_FOUND, UNAVAILABLE],
            params=[
                CERT_NO,
                Param("show_id", "query", str, "1: the ID number in full (logged)"),
                Param("done", "query", str, "what was just done: the page's notice"),
            ],
        ),
        record_page,
    ),
)
