"""Find, the registration's page, its lifecycle actions and the approval queue in a real browser
(Debian's chromium) against a node on a real port and the session's Kafka: find → record →
suspend → reinstate, a viewer without action buttons, a double click that commits once, axe at
desktop and phone widths, no sideways scroll on a phone.

Screenshots: var/screenshots/console-record/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import consolebrowser
import pytest
import pytest_asyncio
from browser import screenshot
from consolebrowser import VIEWPORTS, Console, running_console, signed_in
from nodekit import NEXT_YEAR, SECOND, cert_no, registration
from playwright.async_api import Browser, Page, ViewportSize, expect

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOTS = "console-record"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(
    tmp_path_factory: pytest.TempPathFactory, bootstrap: str
) -> AsyncIterator[Console]:
    """Province 50's node on a real port, with four registrations (one 变更中)."""
    async with running_console(tmp_path_factory.mktemp("console"), bootstrap) as c:
        for index in (1, 2, 3, 4):
            await c.api("POST", "/v1/registrations", registration(index))
        change = {"type": "change_requested", "changes": {"primary_institution": SECOND}}
        await c.api("POST", f"/v1/registrations/{cert_no(4)}/events", change)
        yield c


async def checked(page: Page, name: str) -> None:
    await consolebrowser.checked(page, SHOTS, name)


def history_rows(page: Page) -> Any:
    return page.locator("section[aria-labelledby=history-heading] tbody tr")


async def test_find_then_suspend_then_reinstate(browser: Browser, console: Console) -> None:
    page = await signed_in(browser, console)
    await page.fill("#q", "王小明")
    await page.select_option("#kind", "name")
    await page.click("form[role=search] button[type=submit]")
    await expect(page.locator("table.data")).to_contain_text(cert_no(1))
    await checked(page, "find-results")
    await page.click(f"text={cert_no(1)} >> xpath=../td[1]/a")
    await page.wait_for_url(f"**/registrations/{cert_no(1)}")
    await page.click("text=暂停执业…")
    await page.fill("#reason", "违反诊疗规范")
    await page.fill("#until", NEXT_YEAR)
    await checked(page, "action-suspend")
    await page.click("button[type=submit] >> text=确认暂停执业")
    await expect(page.locator("p.notice")).to_have_text("已办理：暂停执业。")
    await page.click("button >> text=恢复执业")
    await expect(page.locator("p.notice")).to_have_text("已办理：恢复执业。")
    await checked(page, "record-reinstated")
    assert await history_rows(page).count() == 3


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
async def test_a_double_clicked_action_commits_once(
    browser: Browser, console: Console, javascript: bool
) -> None:
    index = 2 if javascript else 3
    page = await signed_in(browser, console, javascript=javascript)
    await page.goto(f"{console.url}/registrations/{cert_no(index)}/actions/suspended")
    await page.fill("#reason", "违反诊疗规范")
    await page.fill("#until", NEXT_YEAR)
    await page.dblclick("button[type=submit] >> text=确认暂停执业")
    await page.wait_for_url(f"**/registrations/{cert_no(index)}?done=suspended")
    assert await history_rows(page).count() == 2


async def test_a_viewer_sees_no_action_buttons(browser: Browser, console: Console) -> None:
    page = await signed_in(browser, console, role="viewer")
    await page.goto(f"{console.url}/registrations/{cert_no(1)}")
    await screenshot(page, SHOTS, "record-viewer")
    counts = (
        await page.locator("#actions-heading").count(),
        await page.locator("a[href*='/actions/']").count(),
    )
    assert counts == (0, 0)


@VIEWPORTS
async def test_the_record_page_passes_axe(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/registrations/{cert_no(4)}?show_id=1")
    await checked(page, "record-changing")


@VIEWPORTS
async def test_the_approval_queue_passes_axe(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/changes")
    await expect(page.locator(".change-item")).to_have_count(1)
    await checked(page, "changes")


@VIEWPORTS
async def test_a_refused_change_form_passes_axe(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/registrations/{cert_no(1)}/actions/change_requested")
    await page.click("button[type=submit] >> text=确认申请变更注册")
    await expect(page.locator("#changes-error")).to_contain_text("请至少填写一项要变更的内容")
    await checked(page, "action-change-refused")


@VIEWPORTS
async def test_the_find_page_passes_axe(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/?kind=name&q=王")
    await checked(page, "find")


@VIEWPORTS
async def test_the_approval_page_passes_axe(
    browser: Browser, console: Console, viewport: ViewportSize
) -> None:
    page = await signed_in(browser, console, viewport)
    await page.goto(f"{console.url}/registrations/{cert_no(4)}/actions/changed")
    await expect(page.locator("table.data tbody tr")).not_to_have_count(0)
    await checked(page, "action-approve")
