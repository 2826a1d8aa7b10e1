"""GET /static/console/{name}: the console's stylesheet and scripts (the CSP allows scripts
and styles only from files of this origin, never inline)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from province_node.errors import NotFound
from province_node.web.console.operations import console_operation
from schemas.openapi import Param
from schemas.page_route import STATIC_FILE, STATIC_NAME, Route, html_response
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


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/static/console/{name}",
            "console_file",
            "The console's stylesheet or scripts",
            [STATIC_FILE, html_response(404, "No such file")],
            params=[Param("name", "path", STATIC_NAME, "the file's name")],
            signed_in=False,
        ),
        console_file,
    ),
)
