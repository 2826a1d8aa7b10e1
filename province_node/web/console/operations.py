"""What the console's route modules say of their routes in the node's OpenAPI document: the
tag, the session cookie that admits a request, and the answers many routes share (a page, the
sign-in redirect, the error pages of access.py). Each route module declares its `ROUTES`
(schemas.page_route.Route) from these; province_node.openapi lists them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from province_node.web.console.access import COOKIE, TLS_COOKIE
from schemas.openapi import JSON, Answer, Operation, Param, Response
from schemas.page_route import FORM, html_response, see_other

TAG = "console"
# The security scheme of a signed-in operator's pages (consoleSession in the document).
SESSION_SCHEME = "consoleSession"


def session_scheme() -> dict[str, Any]:
    """The session cookie as an OpenAPI security scheme."""
    return {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": (
            "The console's session (POST /login with a registrar's or viewer's token); over "
            f"TLS the cookie is named {TLS_COOKIE}. Forms also carry the session's CSRF token "
            "(field csrf, or the X-CSRF-Token header from a script)."
        ),
    }


def page(description: str = "The page") -> Response:
    """A 200 whose body is a page."""
    return html_response(200, description)


# A page (GET) without a live session sends the browser to sign in and back.
SIGN_IN = see_other("Not signed in: to /login?next=<this page>")
# Anything but a GET without a live session (a form or a script whose session ended).
SIGNED_OUT = html_response(401, "Not signed in, or the session ended")
# A change asked by a viewer's session.
READ_ONLY = html_response(403, "A viewer's session: this is the registrar's")
# A form posted from another site's page, or without the session's CSRF token.
FORM_REFUSED = html_response(403, "Sent from another site, or without the session's CSRF token")
# A registrar's page: a viewer is refused, whatever the method.
REGISTRAR_ONLY = html_response(403, "A viewer's session (registrar only), or a form's CSRF refusal")
TOO_LARGE = html_response(413, "The form exceeds the node's request body limit")
BUSY = html_response(429, "The write queue is full: the time to wait (Retry-After)")
UNAVAILABLE = html_response(503, "The registry cannot serve now (e.g. the node is stopping)")
NOT_FOUND = html_response(404, "No registration with this cert_no in this province")
# What a registrar's changing form may answer instead of its 303 (province_node.web.writes).
WRITE_REFUSALS = (
    SIGNED_OUT,
    REGISTRAR_ONLY,
    html_response(409, "The form, entered as it was: why the node refused it"),
    TOO_LARGE,
    html_response(422, "The form, entered as it was: each refused field's message"),
    BUSY,
    UNAVAILABLE,
)

CERT_NO = Param("cert_no", "path", str, "执业证书编码 (15 digits; any other answers 404)")
# The hidden fields of every form that changes something.
FORM_FIELDS = {
    "csrf": "the session's CSRF token",
    "idempotency_key": "the form's Idempotency-Key: a second submit commits nothing new",
}


def console_operation(
    method: str,
    path: str,
    operation_id: str,
    summary: str,
    responses: Sequence[Response],
    *,
    params: Sequence[Param] = (),
    body: Any = None,
    body_media_type: str = FORM,
    signed_in: bool = True,
) -> Operation:
    """An operation of the console (tag console; the session cookie unless `signed_in` is
    False)."""
    return Operation(
        method,
        path,
        operation_id,
        summary,
        responses,
        params=params,
        body=body,
        body_media_type=body_media_type,
        security=(SESSION_SCHEME,) if signed_in else (),
        tags=(TAG,),
    )


def json_answer(answer: Answer) -> web.Response:
    """A script's answer as JSON, serialised by its model (the document's schema)."""
    return web.Response(body=answer.model_dump_json().encode("utf-8"), content_type=JSON)
