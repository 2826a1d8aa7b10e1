"""GET and POST /registrations/{cert_no}/actions/{type}: one lifecycle step's form (registrar
only) and its submission.

The POST reads the form into the API's step body (action_forms), parses it with the API's parse
and writes through the API's write path (province_node.web.writes.step) under the form's
Idempotency-Key, so a double click commits once. Done: 303 to the record's page with ?done=.
Refused: the form again with the entered values; a 409 says why in Chinese (refusal_text, the
English in 技术信息), a 422 names each field in Chinese beside it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from aiohttp import web

from province_node.errors import InvalidRequest, NotFound
from province_node.lifecycle import allowed_steps
from province_node.requests import parse_step
from province_node.web import writes
from province_node.web.appkeys import SETTINGS
from province_node.web.console import (
    action_forms,
    claims,
    field_messages,
    labels,
    register_form,
)
from province_node.web.console.access import PostForm, posted_form, registrar
from province_node.web.console.operations import (
    CERT_NO,
    FORM_FIELDS,
    READ_ONLY,
    SIGN_IN,
    UNAVAILABLE,
    WRITE_REFUSALS,
    console_operation,
    page,
)
from province_node.web.console.record_routes import stored_or_404
from province_node.web.console.refusal_text import refusal_text
from province_node.web.console.render import render_page
from schemas.openapi import Param
from schemas.page_route import Route, form_body, html_response, see_other
from schemas.record import Record
from schemas.vocab import EventType

# Where a form posted from the approval queue (hidden field `back`) returns when done.
BACK_TO_CHANGES = "changes"


def _kind(request: web.Request) -> EventType:
    raw = request.match_info["type"]
    if raw == EventType.REGISTERED.value or raw not in EventType.__members__.values():
        raise NotFound(f"no such action: {raw}")
    return EventType(raw)


def _page(
    request: web.Request,
    kind: EventType,
    record: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    technical: str | None = None,
    status: int = 200,
) -> web.Response:
    parsed = Record.model_validate(record)
    return render_page(
        request,
        "action.html",
        {
            "r": record,
            "action": action_forms.ACTIONS[kind],
            # `changed` on a 变更中 record is the pending change's approval.
            "approve": kind is EventType.CHANGED and action_forms.approvable(parsed),
            "changes": labels.pending_changes(record),
            "offered": kind in allowed_steps(parsed),
            "sites": [(s.org_code, f"{s.name}（{s.org_code}）") for s in parsed.practice_sites],
            # Every field a form draws, empty unless entered (the selects read form[name]).
            "form": defaultdict(str, {"changes.scopes": [], **(values or {})}),
            "errors": errors or {},
            "refusal": refusal,
            "technical": technical,
            "idempotency_key": claims.new_key(),
            "labels": labels,
            "cancel_reasons": action_forms.CANCEL_REASONS,
            "assessment_results": action_forms.assessment_results(parsed),
            "categories": register_form.CATEGORIES,
            "levels": register_form.LEVELS,
            "scope_groups": register_form.SCOPE_GROUPS,
            "provinces": register_form.other_provinces(request.app[SETTINGS].province),
        },
        status=status,
    )


async def action_page(request: web.Request) -> web.StreamResponse:
    """GET: the action's form; a step the record's status does not allow says why (409)."""
    registrar(request)
    kind = _kind(request)
    stored = await stored_or_404(request, request.match_info["cert_no"])
    if kind in allowed_steps(Record.model_validate(stored.record)):
        return _page(request, kind, stored.record)
    refusal = refusal_text(stored.record, kind)
    return _page(request, kind, stored.record, refusal=refusal, status=409)


def _fields(form: PostForm) -> dict[str, list[str]]:
    names = {name for name in form if name not in ("csrf", claims.FIELD)}
    return {n: [v for v in form.getall(n) if isinstance(v, str)] for n in sorted(names)}


async def post_action(request: web.Request) -> web.StreamResponse:
    """POST: 303 to the record's page (or the queue), or the form again with the refusal."""
    session = registrar(request)
    form = await posted_form(request, session)
    kind = _kind(request)
    cert_no = request.match_info["cert_no"]
    stored = await stored_or_404(request, cert_no)
    fields = _fields(form)
    values = action_forms.form_values(fields)
    body = action_forms.step_body(kind, fields)
    approve = kind is EventType.CHANGED and "changes" not in body

    def again(status: int, technical: str, **refusal: Any) -> web.Response:
        """The form again, as entered, with the refusal."""
        return _page(
            request,
            kind,
            stored.record,
            values=values,
            technical=technical,
            status=status,
            **refusal,
        )

    try:
        step = parse_step(body)
    except InvalidRequest as exc:
        return again(422, exc.message, errors=action_forms.field_errors(kind, exc.details, body))
    claim = claims.form_claim(session, form.get(claims.FIELD), request.method, request.path, body)
    try:
        answer, _ = await writes.step(request.app, cert_no, step, session.role.value, claim)
    except InvalidRequest as exc:
        # The key was used for another form's content (idempotency): nothing was written. The
        # register form's sentence for it (field_messages), so both forms say it alike.
        return again(422, exc.message, refusal=field_messages.refusal(exc.message, exc.details))
    if answer.status == 200:
        done = "approved" if approve else kind.value
        if values.get("back") == BACK_TO_CHANGES:
            raise web.HTTPSeeOther(f"/changes?done={done}&cert_no={cert_no}")
        raise web.HTTPSeeOther(f"/registrations/{cert_no}?done={done}")
    error = orjson.loads(answer.body).get("error", {})
    message = str(error.get("message", ""))
    if answer.status == 404:
        raise NotFound(message)
    if answer.status == 409:
        # Explained from the record as this form saw it (a replayed refusal keeps its reason).
        return again(
            409, message, refusal=refusal_text(stored.record, kind, message, approve=approve)
        )
    errors = action_forms.field_errors(kind, error.get("details") or [], body)
    return again(answer.status, message, errors=errors, refusal=errors.pop("", None))


_PARAMS = [
    CERT_NO,
    Param(
        "type",
        "path",
        str,
        "the step: an event type other than registered (any other answers 404)",
    ),
]

ROUTES = (
    Route(
        console_operation(
            "GET",
            "/registrations/{cert_no}/actions/{type}",
            "console_action",
            "One lifecycle step's form (registrar only)",
            [
                page("The form"),
                SIGN_IN,
                READ_ONLY,
                html_response(404, "No such registration or step"),
                html_response(409, "The step is not allowed in the registration's status: why"),
                UNAVAILABLE,
            ],
            params=_PARAMS,
        ),
        action_page,
    ),
    Route(
        console_operation(
            "POST",
            "/registrations/{cert_no}/actions/{type}",
            "console_action_post",
            "Take the step (the API's parse and write path, under the form's Idempotency-Key)",
            [
                see_other(
                    "Done: to the registration's page (or with back=changes the approval "
                    "queue) with ?done="
                ),
                *WRITE_REFUSALS,
                html_response(404, "No such registration or step"),
            ],
            params=_PARAMS,
            body=form_body(
                {**FORM_FIELDS, "back": "changes: return to the approval queue when done"},
                ["csrf", "idempotency_key"],
                more=True,
            ),
        ),
        post_action,
    ),
)
