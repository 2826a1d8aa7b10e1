"""A route of the public site: the shared route (schemas.page_route: its handler and its OpenAPI
operation, added by add_page_routes) and whether it waits its turn in the public reads'
admission. Also the statuses every admitted page may answer with."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.page_route import Route, html_response


@dataclass(frozen=True, slots=True)
class PageRoute(Route):
    """One route of the site."""

    # True when it reads the store or asks nodes (it waits its turn in the admission:
    # national_hub.web.middleware); False when answered from memory or files, whatever the load.
    admitted: bool


# The statuses every admitted page may answer with, as pages (national_hub.web.middleware).
RATE_LIMITED = html_response(429, "Over the rate limit: the time to wait")
OVERLOADED = html_response(503, "Overloaded: retry later")
