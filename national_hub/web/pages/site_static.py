"""GET /static/site/{name}: the public site's stylesheet and scripts (CSP: scripts and styles
only from files of this origin, never inline)."""

from __future__ import annotations

from aiohttp import web

from national_hub.web.pages.page_route import PageRoute
from national_hub.web.static_files import STATIC_DIR, static_file
from schemas.openapi import Operation, Param, error_responses
from schemas.page_route import STATIC_FILE, STATIC_NAME
from schemas.static_files import listed_files

# Served by name only, the site's stylesheets and scripts as they are when the hub starts (a
# page module adds its own by putting the file in the directory); the dashboard keeps its own
# route (/static/{name}).
SITE_FILES = listed_files(STATIC_DIR, skip_prefix="dashboard")


async def site_file(request: web.Request) -> web.FileResponse:
    """A file of the site, or the 404 page."""
    return static_file(request, SITE_FILES)


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/static/site/{name}",
            "site_file",
            "The public site's stylesheet or scripts",
            [
                STATIC_FILE,
                *error_responses({404: "No such file."}, [404]),
            ],
            params=[Param("name", "path", STATIC_NAME, "the file's name", required=True)],
            tags=("pages",),
        ),
        site_file,
        # Files: answered whatever the load.
        admitted=False,
    ),
)
