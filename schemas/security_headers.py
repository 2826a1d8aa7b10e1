"""The security headers every answer of a regsync service carries, pages and JSON alike.

The pages (the hub's public site and dashboard, the province node's registrar console) load
their scripts and stylesheets from files of their own origin and fetch JSON from it; none has
an inline script, style or handler (the page tests check), so nothing looser than 'self' is
needed. The JSON answers get the same policy: none of it loosens anything for them, and a
browser that renders one anyway runs nothing.
"""

from __future__ import annotations

from aiohttp import web

SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            # Forms (search, verify, sign-in, the registrar's actions) send to their own
            # origin, nowhere else.
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers above on every answer (errors and files included)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
