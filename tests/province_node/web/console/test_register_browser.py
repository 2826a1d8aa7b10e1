"""The register form and the bulk import in a real browser (Debian's chromium) against a node on
a real port and the session's Kafka: live checks, a refused submit, an upload's progress and
its rejects file; axe-core at desktop and phone widths, no sideways scroll on a phone.

Screenshots: var/screenshots/console-register/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from browser import DESKTOP, PHONE, screenshot
from console_pages import fill_register_form
from consolebrowser import VIEWPORTS, Console, running_console, signed_in
from consolebrowser import checked as checked_page
from consolekit import csv_file
from nodekit import id_number, registration
from playwright.async_api import Browser, Page, ViewportSize, expect

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOTS = "console-register"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(
    tmp_path_factory: pytest.TempPathFactory, bootstrap: str
) -> AsyncIterator[Console]:
    """Province 50's node on a real port (the browser needs one)."""
    async with running_console(tmp_path_factory.mktemp("console"), bootstrap) as running:
        yield running


async def checked(page: Page, name: str) -> None:
    """Screenshot the page; no serious or critical axe violation, no sideways scroll."""
    await checked_page(page, SHOTS, name)


def wrong_check(number: str) -> str:
    return number[:17] + ("1" if number[17] != "1" else "2")


async def test_a_wrong_id_checksum_is_named_beside_the_field_while_typing(
    browser: Browser, console: Console
) -> None:
    page = await signed_in(browser, console, DESKTOP)
    await page.goto(f"{console.url}/register")
    await page.type("#id_number", wrong_check(id_number(5)), delay=5)
    await expect(page.locator("#id_number-live")).to_contain_text("身份证号码校验位不正确")
    await screenshot(page, SHOTS, "register-live-check")


async def test_only_the_chosen_categorys_scopes_are_shown(
    browser: Browser, console: Console
) -> None:
    page = await signed_in(browser, console, DESKTOP)
    await page.goto(f"{console.url}/register")
    await page.select_option("#category", "dental")
    visible = page.locator(".scope-group:not([hidden]) legend")
    await expect(visible).to_have_text(["口腔类别"])


@VIEWPORTS
async def test_a_refused_submit_shows_the_servers_message_beside_the_field(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/register")
    await page.fill("#cert_no", "500000000000777")
    await page.fill("#id_number", id_number(777))
    await page.select_option("#gender", "male")
    await page.click("#register-form button[type=submit]")
    await expect(page.locator("#name-error")).to_have_text("错误：请填写姓名。")
    await checked(page, "register-refused")


@VIEWPORTS
async def test_the_register_form_is_accessible(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/register")
    await page.check("input[name=kind][value=transfer]")
    await page.select_option("#category", "clinical")
    await checked(page, "register")


@VIEWPORTS
async def test_an_upload_shows_its_progress_and_its_rejects_download(
    browser: Browser, console: Console, viewport: ViewportSize, tmp_path: Path
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/import")
    await checked(page, "import")
    upload = tmp_path / "registrations.csv"
    # Enough rows that the job page is usually seen while the import runs.
    start = 10_000 if viewport is DESKTOP else 20_000
    upload.write_bytes(csv_file(1500, bad=3, first=start))
    await page.set_input_files("#file", str(upload))
    await page.click("main button[type=submit]")
    await expect(page.locator("progress#job-progress")).to_be_visible()
    await screenshot(page, SHOTS, "import-progress")
    await expect(page.locator("#rejects-link")).to_be_visible(timeout=60_000)
    await checked(page, "import-done")
    async with page.expect_download() as waiting:
        await page.click("#rejects-link")
    download = await waiting.value
    content = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert content.startswith("\ufeff行号,执业证书编码,原因".encode())


async def test_a_good_form_is_checked_then_registered(browser: Browser, console: Console) -> None:
    page = await signed_in(browser, console, DESKTOP)
    await page.goto(f"{console.url}/register")
    body = registration(901)
    await fill_register_form(page, body)
    await page.click("#register-form button[type=submit]")
    await page.wait_for_url(f"**/registrations/{body['cert_no']}?done=registered")


async def test_without_javascript_the_transfer_fields_are_there_to_fill(
    browser: Browser, console: Console
) -> None:
    page = await signed_in(browser, console, PHONE, javascript=False)
    await page.goto(f"{console.url}/register")
    await screenshot(page, SHOTS, "register-no-js")
    await expect(page.locator("#from_province")).to_be_visible()
