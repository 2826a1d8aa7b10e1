"""The node's OpenAPI document and its app agree: same routes, committed copy up to date."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from nodekit import write_federation
from openapi_spec_validator import validate

from province_node.openapi import NAME, document
from province_node.web.app import create_app
from schemas.openapi import DOCS_DIR, document_routes, render


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route; HEAD is left out because aiohttp adds one per GET."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    # The app is only built, never started: no Kafka is needed to list its routes.
    env = write_federation(tmp_path, "127.0.0.1:9", "openapi")
    assert app_routes(create_app(env.settings())) == document_routes(document())


def test_committed_document_is_the_generated_one() -> None:
    committed = (DOCS_DIR / f"{NAME}.json").read_text(encoding="utf-8")
    assert committed == render(document()), "run python -m province_node.openapi"


def test_document_is_valid_openapi_3_1() -> None:
    validate(document())
    assert document()["openapi"].startswith("3.1.")
