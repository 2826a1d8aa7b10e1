"""Helpers of the console's browser tests: a node on a real port (a browser needs one), signing
in through the login form, and the checks every page passes (axe, no sideways scroll)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from browser import DESKTOP, PHONE, axe, horizontal_overflow, new_page, screenshot
from console_pages import sign_in
from nodekit import write_federation
from playwright.async_api import Browser, Page, ViewportSize

from province_node.web.app import create_app

# A browser test run at both widths.
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@dataclass(frozen=True)
class Console:
    """A running node: its address and its roles' tokens."""

    url: str
    tokens: dict[str, str]

    async def api(self, method: str, path: str, body: dict[str, Any]) -> None:
        """A registrar's API call that must succeed (test data)."""
        headers = {"Authorization": f"Bearer {self.tokens['registrar']}"}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, self.url + path, json=body, headers=headers) as r:
                assert r.status in (200, 201), await r.text()


@asynccontextmanager
async def running_console(root: Path, bootstrap: str) -> AsyncIterator[Console]:
    """Province 50's node on 127.0.0.1 at a free port, on the session's Kafka."""
    fed = write_federation(root, bootstrap, f"rs_{secrets.token_hex(4)}")
    settings = fed.settings(backoff_initial_s=0.1, backoff_max_s=1.0)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield Console(f"http://127.0.0.1:{runner.addresses[0][1]}", fed.tokens)
    finally:
        await runner.cleanup()


async def signed_in(
    browser: Browser,
    console: Console,
    viewport: ViewportSize = DESKTOP,
    role: str = "registrar",
    *,
    javascript: bool = True,
) -> Page:
    """A new page signed in through the login form with a role's token, on the find page."""
    page = await new_page(browser, viewport, javascript=javascript)
    await sign_in(page, console.url, console.tokens[role])
    await page.wait_for_url(f"{console.url}/")
    return page


async def checked(page: Page, group: str, name: str) -> None:
    """Screenshot the page; no serious or critical axe violation, no sideways scroll."""
    await screenshot(page, group, name)
    assert (await axe(page), await horizontal_overflow(page)) == ([], 0)
