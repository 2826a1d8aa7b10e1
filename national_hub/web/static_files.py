"""Serving a file of national_hub/web/static/ by name: the dashboard's (/static/{name}) and the
public site's (/static/site/{name}). Only the names a route lists are served: a path never
reaches the file system as typed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from national_hub.errors import NotFound
from schemas.static_files import named_file

STATIC_DIR = Path(__file__).resolve().parent / "static"


def static_file(request: web.Request, files: Mapping[str, str]) -> web.FileResponse:
    """The file named by the route's {name} if `files` (name → media type) lists it; else
    NotFound (the edge answers 404)."""
    response = named_file(STATIC_DIR, files, request.match_info["name"])
    if response is None:
        raise NotFound(f"no such resource: {request.method} {request.path}")
    return response
