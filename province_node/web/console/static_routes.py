"""GET /static/console/{name}: the console's stylesheet and scripts (the CSP allows scripts
and styles only from files of this origin, never inline)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from province_node.errors import NotFound
from schemas.static_files import listed_files, named_file

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The files as they are when the node starts; a page adds its own by putting it in static/.
FILES = listed_files(STATIC_DIR)


async def console_file(request: web.Request) -> web.FileResponse:
    """A file of the console, or 404."""
    response = named_file(STATIC_DIR, FILES, request.match_info["name"])
    if response is None:
        raise NotFound(f"no such file: {request.path}")
    return response


def add_routes(app: web.Application) -> None:
    """The console's files."""
    app.router.add_get("/static/console/{name}", console_file, name="console_file")
