"""GET/POST /register: a first registration, re-registration or transfer-in (registrar only), and
POST /register/check: the same parse for one field as the registrar types (register.js).

The POST builds the API's body (register_form), parses it with the API's own parse
(province_node.requests.parse_registration) and writes through the API's write path
(province_node.web.writes.register) under the form's Idempotency-Key: the console can allow
nothing the API refuses, and a double submit registers once. A refusal draws the form again
with the entered values and each message beside its field, in Chinese (field_messages).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDict

from province_node.errors import InvalidRequest
from province_node.requests import parse_registration
from province_node.web import writes
from province_node.web.appkeys import SETTINGS
from province_node.web.console import claims, register_form
from province_node.web.console.access import posted_form, registrar
from province_node.web.console.field_messages import conflict
from province_node.web.console.operations import (
    FORM_FIELDS,
    READ_ONLY,
    REGISTRAR_ONLY,
    SIGN_IN,
    SIGNED_OUT,
    TOO_LARGE,
    WRITE_REFUSALS,
    console_operation,
    json_answer,
    page,
)
from province_node.web.console.render import render_page
from schemas.openapi import Answer, Param, Response
from schemas.page_route import Route, form_body, html_response, see_other

_REGION_FIELDS = ("org_region_code", "authority_region_code")


def _page(
    request: web.Request,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    technical: str | None = None,
    status: int = 200,
) -> web.Response:
    errors = errors or {}
    return render_page(
        request,
        "register.html",
        {
            "nav": "register",
            "form": values,
            "errors": errors,
            "error_fields": register_form.ordered(errors),
            "top_error": errors.get(""),
            "technical": technical,
            # A fresh key at every drawing: a refused answer stays stored under the old key.
            "idempotency_key": claims.new_key(),
            "genders": register_form.GENDERS,
            "levels": register_form.LEVELS,
            "categories": register_form.CATEGORIES,
            "scope_groups": register_form.SCOPE_GROUPS,
            "provinces": register_form.other_provinces(request.app[SETTINGS].province),
            "labels": {name: register_form.form_label(name) for name in register_form.FIELD_PATHS},
        },
        status=status,
    )


async def register_page(request: web.Request) -> web.StreamResponse:
    """GET /register: the empty form (?kind=transfer opens it as a transfer-in)."""
    registrar(request)
    # Only the kind is read from the address: no field (an ID number least of all) is ever
    # asked for through one (history, proxy logs and the sign-in redirect keep addresses).
    values = register_form.entered(MultiDict(kind=request.query.get("kind", "")))
    return _page(request, values)


async def register(request: web.Request) -> web.StreamResponse:
    """POST /register: 303 to the new record's page, or the form again with the refusal."""
    session = registrar(request)
    form = await posted_form(request, session)
    values = register_form.entered(form)
    body = register_form.body_of(values)
    try:
        req = parse_registration(body)
    except InvalidRequest as exc:
        errors = register_form.field_errors(exc.details, body)
        return _page(request, values, errors=errors, technical=exc.message, status=422)
    claim = claims.form_claim(session, form.get(claims.FIELD), request.method, request.path, body)
    try:
        answer, _ = await writes.register(request.app, req, session.role.value, claim)
    except InvalidRequest as exc:
        # The key was used for another form's content (idempotency): nothing was written.
        errors = register_form.field_errors(exc.details, body)
        return _page(request, values, errors=errors, technical=exc.message, status=422)
    if answer.status == 201:
        raise web.HTTPSeeOther(f"/registrations/{req.cert_no}?done=registered")
    return _refused(request, values, body, answer.status, orjson.loads(answer.body))


def _refused(
    request: web.Request,
    values: dict[str, Any],
    body: dict[str, Any],
    status: int,
    document: dict[str, Any],
) -> web.Response:
    error = document.get("error", {})
    message = str(error.get("message", ""))
    if status == 409:
        field, sentence = conflict(str(error.get("code", "")), message)
        errors = {field: sentence}
    else:
        errors = register_form.field_errors(error.get("details") or [], body)
        if not errors:
            errors = {"": "登记未能完成，请核对后重试。"}
    return _page(request, values, errors=errors, technical=message, status=status)


class RegisterCheck(Answer):
    """One field of the register form as it stands."""

    field: str
    # The Chinese refusal of the field, or null when the parse has nothing against it.
    message: str | None
    # A region code's field: the region's name, or that the code is not in the table; else null.
    note: str | None
    # False for a six-digit region code not in the table (flagged, not refused).
    known: bool


async def check(request: web.Request) -> web.StreamResponse:
    """POST /register/check: the parse's word on one field of the form as it stands (JSON)."""
    session = registrar(request)
    form = await posted_form(request, session)
    field = form.get("field")
    if not isinstance(field, str) or field not in register_form.FIELD_PATHS:
        raise InvalidRequest.for_field("field", "must name a field of the register form")
    return json_answer(_check(form, field))


def _check(form: Any, field: str) -> RegisterCheck:
    values = register_form.entered(form)
    body = register_form.body_of(values)
    value = values.get(field)
    message = None
    if value:
        try:
            parse_registration(body)
        except InvalidRequest as exc:
            message = register_form.field_errors(exc.details, body).get(field)
    note = None
    known = True
    if field in _REGION_FIELDS and message is None and isinstance(value, str):
        region = register_form.region_note(value)
        if region is not None:
            known, note = region
    return RegisterCheck(field=field, message=message, note=note, known=known)


_REGISTER_FIELDS = {
    **FORM_FIELDS,
    "kind": "new (first registration or re-registration) or transfer (转入)",
    "scopes": "an 执业范围 code; the field repeats for each",
}

ROUTES = (
    Route(
        console_operation(
            "GET",
            "/register",
            "console_register_form",
            "The register form (registrar only); ?kind=transfer opens it as a transfer-in",
            [page("The form"), SIGN_IN, READ_ONLY],
            params=[Param("kind", "query", str, "transfer: a transfer-in's form")],
        ),
        register_page,
    ),
    Route(
        console_operation(
            "POST",
            "/register",
            "console_register",
            "Register (the API's parse and write path, under the form's Idempotency-Key)",
            [
                see_other("Registered: to the registration's page with ?done=registered"),
                *WRITE_REFUSALS,
            ],
            body=form_body(_REGISTER_FIELDS, ["csrf", "idempotency_key"], more=True),
        ),
        register,
    ),
    Route(
        console_operation(
            "POST",
            "/register/check",
            "console_register_check",
            "The parse's word on one field of the register form as it stands (register.js)",
            [
                Response(200, "The field's message (null when good)", RegisterCheck),
                SIGNED_OUT,
                REGISTRAR_ONLY,
                TOO_LARGE,
                html_response(422, "field does not name a field of the register form"),
            ],
            body=form_body(
                {**_REGISTER_FIELDS, "field": "the form field to check"}, ["field"], more=True
            ),
        ),
        check,
    ),
)
