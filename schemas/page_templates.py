"""The Jinja2 environment of a regsync site (the hub's public pages, a node's console).

One setting for both: the site's own templates first, then the form macros every regsync page
shares (schemas/templates/_forms.html); every value autoescaped (a name like "<script>" is
shown as text, in every template, not only *.html); a misspelt variable fails the test that
renders it instead of printing nothing.
"""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web


def setup_templates(app: web.Application, package: str, folder: str) -> jinja2.Environment:
    """Install the site's environment on the app: templates from `package`'s `folder`."""
    return aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader(package, folder),
                jinja2.PackageLoader("schemas", "templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
