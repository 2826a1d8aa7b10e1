"""A registrar's day in the console, end to end (issue 17's must-show): node 50 and the national
hub as real processes on the session's Kafka, Debian's chromium driving the node's pages.

The registrar signs in, registers a physician through the form (first with a wrong ID check
character: the message appears beside the field), watches the hub's version catch up (the
hub's ingest is paused, then resumed, while the page stays open), suspends and reinstates them,
double-clicks an action (one commit, as the hub's history shows), and uploads a CSV with good
and bad rows. A viewer signs in and is offered no action; a form posted without the CSRF token
is refused and commits nothing. The drill runs once (a module fixture writes down what the
pages said); each test checks one observation. Screenshots: var/screenshots/console-e2e/.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations, write_csv
from schemas.samples import suspension_until
from tests.browser import DESKTOP, PHONE, axe, horizontal_overflow, launched, new_page, screenshot
from tests.console_pages import fill_register_form, sign_in
from tests.e2e.federation import Federation, connect, stack_running, wait_until

Running = tuple[Stack, Secrets]
GROUP = "console-e2e"
APPLIED = "全国平台已是最新版本"
IN_TRANSIT = "已发送，预计"
# The bulk upload: good rows, then rows with a wrong ID check character.
GOOD_ROWS = 40
BAD_ROWS = 3


@dataclass
class Day:
    """What the pages (and the hub) said at each step."""

    id_message: str = ""
    submit_after_refusal: tuple[bool, str] = (False, "")
    catching_up: str = ""
    caught_up: str = ""
    reloaded: bool = True
    hub_after_suspend: str = ""
    hub_after_reinstate: str = ""
    hub_history: list[str] = field(default_factory=list)
    viewer_action_controls: int = -1
    viewer_register_status: int = 0
    no_csrf_status: int = 0
    no_csrf_versions: tuple[int, int] = (0, -1)
    import_progress_seen: bool = False
    import_summary: str = ""
    rejects: bytes = b""
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)


def _wrong_check(number: str) -> str:
    return number[:17] + ("1" if number[17] != "1" else "2")


async def _check(page: Page, day: Day, name: str) -> None:
    """Screenshot, axe and sideways scrolling of the page as it is now."""
    await screenshot(page, GROUP, name)
    width = "phone" if page.viewport_size == PHONE else "desktop"
    day.violations[f"{name}-{width}"] = await axe(page)
    day.overflow[f"{name}-{width}"] = await horizontal_overflow(page)


async def _visibility_says(page: Page, words: str, within: float) -> str:
    """The national-visibility section's text once it contains words (no reload)."""

    async def probe() -> str | None:
        text = await page.locator("#visibility").inner_text()
        return text if words in text else None

    return await wait_until(probe, within, f"the visibility section saying {words}")


async def _hub_status(fed: Federation, cert_no: str, status: str) -> str:
    async def probe() -> str | None:
        code, body = await fed.hub_get(f"/v1/physicians/{cert_no}")
        return body["status"] if code == 200 and body["status"] == status else None

    return await wait_until(probe, 30, f"the hub showing {cert_no} {status}")


async def _hub_history(fed: Federation, cert_no: str) -> list[str]:
    code, body = await fed.hub_get(f"/v1/physicians/{cert_no}/history")
    assert code == 200, body
    return [item["type"] for item in body["items"]]


async def _register(page: Page, fed: Federation, day: Day, body: dict[str, Any]) -> None:
    """The form refused with a wrong check character, then accepted; the hub catches up."""
    node = fed.node("50")
    await page.goto(f"{node}/register")
    await fill_register_form(page, {**body, "id_number": _wrong_check(body["id_number"])})
    await page.click("#register-form button[type=submit]")
    # With scripts the live check names it before the submit goes out; the server's 422 says
    # the same beside the field without them. Either way it is beside the ID number.
    message = page.locator("#id_number-live:not(:empty), #id_number-error").first
    await expect(message).to_contain_text("身份证号码校验位不正确")
    day.id_message = await message.inner_text()
    submit = page.locator("#register-form button[type=submit]")
    day.submit_after_refusal = (await submit.is_enabled(), (await submit.inner_text()).strip())
    await _check(page, day, "register-wrong-id")

    # The hub's ingest paused: the record's page must show the hub catching up, then caught up.
    await fed.set_ingest_paused(True)
    await page.fill("#id_number", body["id_number"])
    await page.click("#register-form button[type=submit]")
    await page.wait_for_url(f"**/registrations/{body['cert_no']}?done=registered")
    day.catching_up = await _visibility_says(page, IN_TRANSIT, 30)
    await _check(page, day, "record-catching-up")
    await page.evaluate("() => { window.dayMarker = 'same document'; }")
    await fed.set_ingest_paused(False)
    day.caught_up = await _visibility_says(page, APPLIED, 60)
    day.reloaded = await page.evaluate("() => window.dayMarker !== 'same document'")


async def _suspend(page: Page, *, double_click: bool = False) -> None:
    await page.click("text=暂停执业…")
    await page.fill("#reason", "违反诊疗规范")
    await page.fill("#until", suspension_until())
    confirm = page.locator("button[type=submit] >> text=确认暂停执业")
    if double_click:
        await confirm.dblclick()
    else:
        await confirm.click()
    await expect(page.locator("p.notice")).to_have_text("已办理：暂停执业。")


async def _lifecycle(page: Page, fed: Federation, day: Day, cert_no: str) -> None:
    """Suspend, reinstate, then a double-clicked suspension: three commits at the hub."""
    await _suspend(page)
    day.hub_after_suspend = await _hub_status(fed, cert_no, "suspended")
    await page.click("button >> text=恢复执业")
    await expect(page.locator("p.notice")).to_have_text("已办理：恢复执业。")
    day.hub_after_reinstate = await _hub_status(fed, cert_no, "active")
    await _visibility_says(page, APPLIED, 30)
    await _check(page, day, "record-reinstated")
    await _suspend(page, double_click=True)
    await _hub_status(fed, cert_no, "suspended")
    await _visibility_says(page, APPLIED, 30)
    day.hub_history = await _hub_history(fed, cert_no)


async def _without_csrf(page: Page, fed: Federation, day: Day, cert_no: str) -> None:
    """The registrar's own session, a form without its CSRF token: refused, nothing commits."""
    url = f"{fed.node('50')}/registrations/{cert_no}/actions/reinstated"
    before = (await fed.node_record("50", cert_no))["record_version"]
    answer = await page.request.post(url, form={"idempotency_key": "no-csrf-1"})
    day.no_csrf_status = answer.status
    # The node commits before it answers: a change, were there one, is in its registry now.
    day.no_csrf_versions = (before, (await fed.node_record("50", cert_no))["record_version"])


async def _viewer(browser: Browser, fed: Federation, day: Day, cert_no: str) -> None:
    node = fed.node("50")
    page = await new_page(browser, DESKTOP)
    await sign_in(page, node, fed.secrets.tokens["50"]["viewer"])
    await page.goto(f"{node}/registrations/{cert_no}")
    await page.locator("#visibility").wait_for()
    day.viewer_action_controls = await page.locator(
        "a[href*='/actions/'], form[action*='/actions/']"
    ).count()
    await _check(page, day, "record-viewer")
    answer = await page.goto(f"{node}/register")
    day.viewer_register_status = answer.status if answer else 0
    await page.context.close()


def _upload_file(folder: Path) -> Path:
    rows = list(registrations("50", GOOD_ROWS + BAD_ROWS, seed=1719))
    for body in rows[GOOD_ROWS:]:
        body["id_number"] = _wrong_check(body["id_number"])
    path = folder / "registrations.csv"
    write_csv(path, rows)
    return path


async def _upload(page: Page, fed: Federation, day: Day, folder: Path) -> None:
    await page.goto(f"{fed.node('50')}/import")
    await page.set_input_files("#file", str(_upload_file(folder)))
    await page.click("main button[type=submit]")
    progress = page.locator("progress#job-progress")
    await expect(progress).to_be_visible()
    day.import_progress_seen = True
    await expect(page.locator("#rejects-link")).to_be_visible(timeout=60_000)
    day.import_summary = await page.locator("p.notice[role=status]").inner_text()
    await _check(page, day, "import-done")
    async with page.expect_download() as waiting:
        await page.click("#rejects-link")
    download = await waiting.value
    day.rejects = await asyncio.to_thread(Path(await download.path()).read_bytes)


async def _phone(browser: Browser, fed: Federation, day: Day, cert_no: str) -> None:
    page = await new_page(browser, PHONE)
    await sign_in(page, fed.node("50"), fed.secrets.tokens["50"]["registrar"])
    await page.goto(f"{fed.node('50')}/registrations/{cert_no}")
    await page.locator("#visibility").wait_for()
    await _check(page, day, "record-phone")
    await page.context.close()


async def _run(fed: Federation, folder: Path) -> Day:
    day = Day()
    body = next(registrations("50", 1, seed=1718))
    cert_no = body["cert_no"]
    async with launched() as browser:
        page = await new_page(browser, DESKTOP)
        await sign_in(page, fed.node("50"), fed.secrets.tokens["50"]["registrar"])
        try:
            await _register(page, fed, day, body)
        finally:
            await fed.set_ingest_paused(False)
        await _lifecycle(page, fed, day, cert_no)
        await _without_csrf(page, fed, day, cert_no)
        await _viewer(browser, fed, day, cert_no)
        await _upload(page, fed, day, folder)
        await _phone(browser, fed, day, cert_no)
    return day


@pytest.fixture(scope="module")
def day(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """Node 50 and the hub as processes on the session broker; the registrar's day run once."""
    state = tmp_path_factory.mktemp("console-e2e")
    with stack_running(state, ["50"], bootstrap=bootstrap) as running:

        async def main() -> Day:
            async with connect(running) as fed:
                return await _run(fed, Path(tempfile.mkdtemp(dir=state)))

        yield asyncio.run(main())


def test_a_wrong_id_check_character_is_named_beside_the_field(day: Day) -> None:
    assert "身份证号码校验位不正确" in day.id_message


def test_a_refused_form_can_be_sent_again(day: Day) -> None:
    enabled, label = day.submit_after_refusal
    assert (enabled, "正在提交" in label) == (True, False)


def test_the_record_page_shows_the_hub_catching_up(day: Day) -> None:
    assert IN_TRANSIT in day.catching_up


def test_the_record_page_says_applied_once_the_hub_has_it(day: Day) -> None:
    assert APPLIED in day.caught_up


def test_the_record_page_caught_up_without_a_reload(day: Day) -> None:
    assert day.reloaded is False


def test_the_suspension_reaches_the_hub(day: Day) -> None:
    assert day.hub_after_suspend == "suspended"


def test_the_reinstatement_reaches_the_hub(day: Day) -> None:
    assert day.hub_after_reinstate == "active"


def test_a_double_clicked_action_commits_once(day: Day) -> None:
    assert day.hub_history == ["registered", "suspended", "reinstated", "suspended"]


def test_a_form_without_the_csrf_token_is_refused(day: Day) -> None:
    assert day.no_csrf_status == 403


def test_a_form_without_the_csrf_token_commits_nothing(day: Day) -> None:
    before, after = day.no_csrf_versions
    assert after == before


def test_a_viewer_is_offered_no_action(day: Day) -> None:
    assert day.viewer_action_controls == 0


def test_a_viewer_cannot_open_the_register_form(day: Day) -> None:
    assert day.viewer_register_status == 403


def test_an_upload_shows_its_progress(day: Day) -> None:
    assert day.import_progress_seen is True


def test_an_upload_counts_its_rows(day: Day) -> None:
    assert day.import_summary == (
        f"导入完成：{GOOD_ROWS} 行已导入，0 行本省已有而跳过，{BAD_ROWS} 行未导入。"
    )


def test_an_uploads_rejects_download_names_each_bad_row(day: Day) -> None:
    lines = day.rejects.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + BAD_ROWS


def test_no_serious_or_critical_accessibility_violations(day: Day) -> None:
    assert {name: v for name, v in day.violations.items() if v} == {}


def test_no_page_scrolls_sideways(day: Day) -> None:
    assert {name: px for name, px in day.overflow.items() if px} == {}
