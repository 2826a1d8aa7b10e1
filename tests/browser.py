"""Real-browser page tests of the hub's public site and the province node's console:
Playwright's async API driving Debian's chromium (never a browser Playwright downloads), pages
at desktop and phone widths, screenshots, and an axe-core scan.

    async with launched() as browser:
        page = await new_page(browser, PHONE)
        await page.goto(url)
        await screenshot(page, "search-results")      # var/screenshots/<module>/...
        assert await axe(page) == []                  # serious and critical violations
        assert await horizontal_overflow(page) == 0

axe-core comes from devstack.axe (fetched once with npm, sha512-checked, kept under var/).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from devstack.axe import axe_script

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "var" / "screenshots"
EXECUTABLES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
VIEWPORTS: dict[str, ViewportSize] = {"desktop": DESKTOP, "phone": PHONE}
# The impacts a page may not have (axe-core's levels: minor, moderate, serious, critical).
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_executable() -> str:
    """Debian's chromium, or fail saying what to install."""
    for path in EXECUTABLES:
        if Path(path).exists():
            return path
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail("the page tests need Debian's chromium: apt-get install chromium")


@asynccontextmanager
async def launched() -> AsyncIterator[Browser]:
    """One headless chromium for the block (start it once per test module: ~0.5 s)."""
    # Never let Playwright look for (or fetch) a browser of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium_executable(), args=LAUNCH_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser, viewport: ViewportSize = DESKTOP, *, javascript: bool = True
) -> Page:
    """A page in a fresh context (no shared cookies or cache) at the viewport, in zh-CN."""
    context = await browser.new_context(
        viewport=viewport, locale="zh-CN", java_script_enabled=javascript
    )
    return await context.new_page()


def output_dir(group: str) -> Path:
    """var/screenshots/<group>/, created."""
    path = SCREENSHOTS / group
    path.mkdir(parents=True, exist_ok=True)
    return path


async def screenshot(page: Page, group: str, name: str) -> Path:
    """A full-page PNG at var/screenshots/<group>/<name>-<width>.png; its path is printed."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = output_dir(group) / f"{name}-{width}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


async def axe(page: Page, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """axe-core's violations of the page at these impacts, as {id, impact, help, targets}.

    The script is evaluated through the DevTools protocol, not added as a <script> element,
    so the page's CSP (no inline script) stays as it is and does not block it.
    """
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_script().read_text(encoding="utf-8"))
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]


async def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    overflow: int = await page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )
    return overflow
