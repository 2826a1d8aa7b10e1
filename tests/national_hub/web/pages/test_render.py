"""The templates escape every value: a record's text containing markup is shown as text."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from national_hub.web.pages import setup_pages
from national_hub.web.pages.record_view import record_view

SCRIPT = "<script>alert(1)</script>"


def test_record_fields_show_markup_as_text() -> None:
    app = web.Application()
    setup_pages(app)
    macros = aiohttp_jinja2.get_env(app).get_template("_macros.html").module
    view = record_view(
        {
            "cert_no": "500000000000001",
            "name": "张伟",
            "primary_institution": {"name": SCRIPT},
            "issuing_authority": {"name": SCRIPT},
            "status": "active",
            "province": "50",
        }
    )
    html = str(macros.record_fields(view))  # type: ignore[attr-defined]
    assert ("&lt;script&gt;alert(1)&lt;/script&gt;" in html, SCRIPT in html) == (True, False)
