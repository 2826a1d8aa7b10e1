"""schemas.page_route: a route is added under its operation's method, path and id, and a form's
body is documented as its media type says."""

from __future__ import annotations

from aiohttp import web

from schemas.openapi import Operation, build_document
from schemas.page_route import FORM, Route, add_page_routes, form_body, html_response, see_other


async def _page(request: web.Request) -> web.Response:
    return web.Response(text="page")


def _route(method: str, path: str, operation_id: str) -> Route:
    return Route(Operation(method, path, operation_id, "a page", [html_response(200, "ok")]), _page)


def _added(*routes: Route) -> set[tuple[str, str, str | None]]:
    app = web.Application()
    add_page_routes(app, routes)
    return {
        (r.method, r.resource.canonical, r.name)
        for r in app.router.routes()
        if r.resource is not None
    }


def test_a_get_is_added_with_its_head_under_the_operation_id() -> None:
    assert _added(_route("GET", "/things/{id}", "thing")) == {
        ("GET", "/things/{id}", "thing"),
        ("HEAD", "/things/{id}", "thing"),
    }


def test_a_post_is_added_under_its_method_alone() -> None:
    assert _added(_route("POST", "/things", "make_thing")) == {("POST", "/things", "make_thing")}


def test_a_form_body_is_documented_under_its_media_type() -> None:
    op = Operation(
        "POST",
        "/login",
        "login",
        "sign in",
        [see_other("signed in")],
        body=form_body({"token": "the token"}, ["token"]),
        body_media_type=FORM,
    )
    doc = build_document(
        title="t", version="1", description="d", operations=[op], security_schemes={}
    )
    content = doc["paths"]["/login"]["post"]["requestBody"]["content"]
    assert content == {
        FORM: {
            "schema": {
                "type": "object",
                "properties": {"token": {"type": "string", "description": "the token"}},
                "required": ["token"],
                "additionalProperties": False,
            }
        }
    }


def test_a_redirect_documents_its_location() -> None:
    assert set(see_other("elsewhere").headers) == {"Location"}
