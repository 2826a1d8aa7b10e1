"""The hub's OpenAPI document and its app agree: same routes, committed copy up to date."""

from __future__ import annotations

from aiohttp import web
from hubkit import HubEnv
from openapi_spec_validator import validate

from national_hub.web.app import create_app
from national_hub.web.openapi import NAME, document
from schemas.openapi import DOCS_DIR, document_routes, render


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every API route.

    Left out: HEAD, which aiohttp adds for every GET. (The dashboard's /static/{name} is an
    operation like any other: a static file tree would not be documented.)
    """
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def test_every_route_is_documented_and_nothing_else(hub_env: HubEnv) -> None:
    # The app is only built, never started: no Kafka is needed to list its routes.
    assert app_routes(create_app(hub_env.settings())) == document_routes(document())


def test_committed_document_is_the_generated_one() -> None:
    committed = (DOCS_DIR / f"{NAME}.json").read_text(encoding="utf-8")
    assert committed == render(document()), "run python -m national_hub.web.openapi"


def test_document_is_valid_openapi_3_1() -> None:
    validate(document())
    assert document()["openapi"].startswith("3.1.")
