"""GET /static/site/{name}: the public site's stylesheet and scripts (CSP: scripts and styles
only from files of this origin, never inline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import Field

from national_hub.errors import NotFound
from national_hub.web.pages.page_route import PageRoute
from schemas.openapi import Operation, Param, Response, error_responses

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

_NAME = Annotated[str, Field(pattern=r"^[a-z0-9_-]+\.(css|js)$")]
_TYPES = {".css": "text/css", ".js": "text/javascript"}
# Served by name only, the site's stylesheets and scripts as they are when the hub starts (a
# page module adds its own by putting the file in the directory); the dashboard keeps its own
# route (/static/{name}).
SITE_FILES = {
    p.name: _TYPES[p.suffix]
    for p in sorted(STATIC_DIR.iterdir())
    if p.suffix in _TYPES and not p.name.startswith("dashboard")
}


async def site_file(request: web.Request) -> web.FileResponse:
    """A file of the site, or the 404 page."""
    name = request.match_info["name"]
    if name not in SITE_FILES:
        raise NotFound(f"no such resource: {request.method} {request.path}")
    return web.FileResponse(
        STATIC_DIR / name,
        headers={
            # Revalidated on each load: a new hub version's files show at once.
            "Cache-Control": "no-cache",
            "Content-Type": f"{SITE_FILES[name]}; charset=utf-8",
        },
    )


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/static/site/{name}",
            "site_file",
            "The public site's stylesheet or scripts",
            [
                Response(
                    200,
                    "The file",
                    {"type": "string"},
                    "text/css",
                    alternatives={"text/javascript": {"type": "string"}},
                ),
                *error_responses({404: "No such file."}, [404]),
            ],
            params=[
                # A pattern, not the list: which files exist is the site's business, and the
                # document stays the same when a page adds one.
                Param("name", "path", _NAME, "the file's name", required=True)
            ],
            tags=("pages",),
        ),
        site_file,
        # Files: answered whatever the load.
        admitted=False,
    ),
)
