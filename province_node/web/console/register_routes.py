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

from province_node.errors import InvalidRequest
from province_node.requests import parse_registration
from province_node.web import writes
from province_node.web.appkeys import SETTINGS
from province_node.web.console import claims, register_form
from province_node.web.console.access import posted_form, registrar
from province_node.web.console.field_messages import conflict
from province_node.web.console.render import render_page

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
    values = register_form.entered(request.query)
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


async def check(request: web.Request) -> web.StreamResponse:
    """POST /register/check: the parse's word on one field of the form as it stands (JSON):
    {"field", "message": the Chinese refusal or null, "note": a region's name or null}."""
    session = registrar(request)
    form = await posted_form(request, session)
    field = form.get("field")
    if not isinstance(field, str) or field not in register_form.FIELD_PATHS:
        raise InvalidRequest.for_field("field", "must name a field of the register form")
    return web.json_response(_check(form, field))


def _check(form: Any, field: str) -> dict[str, Any]:
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
    return {"field": field, "message": message, "note": note, "known": known}


def add_routes(app: web.Application) -> None:
    """The register form and its live check."""
    app.router.add_get("/register", register_page, name="console_register_form")
    app.router.add_post("/register", register, name="console_register")
    app.router.add_post("/register/check", check, name="console_register_check")
