"""The public site in a real browser (Debian's chromium) against a real federation: province
nodes 50 and 44 and the hub as processes on the session's Kafka.

Writes screenshots of every page at desktop and phone widths to var/screenshots/pages/ and
scans each page with axe-core (no serious or critical violation).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from browser import DESKTOP, PHONE, axe, horizontal_overflow, launched, new_page, screenshot
from playwright.async_api import Browser, Page, expect

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from schemas.samples import suspension_until
from tests.e2e.federation import Federation, connect, stack_running, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOTS = "pages"
# The official site's result fields, in its order.
RESULT_LABELS = [
    "姓名",
    "执业证书编码",
    "执业类别",
    "执业范围",
    "主要执业机构",
    "注册状态",
    "发证机关",
    "省份",
]
_seeds = itertools.count(700)


@pytest.fixture(scope="module")
def running_stack(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Secrets]]:
    """Nodes 50 and 44 and the hub, as real processes."""
    with stack_running(
        tmp_path_factory.mktemp("site"), ["50", "44"], bootstrap=bootstrap
    ) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched() as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module")
async def fed(running_stack: tuple[Stack, Secrets]) -> AsyncIterator[Federation]:
    async with connect(running_stack) as f:
        yield f


def fresh(province: str, **fields: Any) -> dict[str, Any]:
    """A registration body no other test here uses."""
    body = next(registrations(province, 1, seed=next(_seeds)))
    return {**body, **fields}


async def record_at_hub(fed: Federation, cert_no: str, status: str = "active") -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        code, body = await fed.hub_get(f"/v1/physicians/{cert_no}")
        return body if code == 200 and body["status"] == status else None

    return await wait_until(probe, 30, f"{cert_no} {status} at the hub")


async def checked(page: Page, name: str) -> None:
    """Screenshot the page and scan it: no serious or critical violation, no sideways scroll."""
    await screenshot(page, SHOTS, name)
    assert await axe(page) == [], name
    assert await horizontal_overflow(page) == 0, name


async def search(page: Page, hub: str, name: str, province: str) -> None:
    await page.goto(hub + "/")
    await page.fill("#name", name)
    await page.select_option("#province", province)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def test_empty_search_page_at_both_widths(browser: Browser, fed: Federation) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        response = await page.goto(fed.hub + "/")
        assert response is not None and response.status == 200
        await expect(page.locator("h1")).to_have_text("医师执业注册查询")
        await checked(page, "search-empty")
        await page.context.close()


async def test_search_by_hanzi_and_pinyin_then_the_physician_page_and_its_suspension(
    browser: Browser, fed: Federation
) -> None:
    body = fresh("50", name="欧阳明远")
    await fed.register("50", body)
    cert = body["cert_no"]
    await record_at_hub(fed, cert)

    page = await new_page(browser, DESKTOP)
    await page.goto(fed.hub + "/")
    await page.fill("#name", "欧阳")
    await expect(page.locator("#name-suggest [role=option]").first).to_contain_text("欧阳明远1 条")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page.locator("#name")).to_have_value("欧阳明远")

    await search(page, fed.hub, "欧阳明远", "50")
    link = page.locator(f"a[href='/physicians/{cert}']")
    await expect(link).to_have_text("欧阳明远")
    labels = await page.locator(".result").first.locator("dt").all_inner_texts()
    assert [label for label in labels if label != "多机构备案"] == RESULT_LABELS
    await expect(page.locator(".freshness")).to_contain_text("重庆市：数据同步至")
    await checked(page, "search-results")

    await search(page, fed.hub, "ouyang mingyuan", "50")
    await expect(page.locator(f"a[href='/physicians/{cert}']")).to_be_visible()

    phone = await new_page(browser, PHONE)
    await search(phone, fed.hub, "ouyangmingyuan", "50")
    await expect(phone.locator(f"a[href='/physicians/{cert}']")).to_be_visible()
    await checked(phone, "search-results")

    # Without JavaScript the form and its results work the same.
    plain = await new_page(browser, DESKTOP, javascript=False)
    await search(plain, fed.hub, "欧阳明远", "50")
    await expect(plain.locator(f"a[href='/physicians/{cert}']")).to_have_text("欧阳明远")
    await plain.context.close()

    await page.click(f"a[href='/physicians/{cert}']")
    await expect(page.locator("h1")).to_have_text("欧阳明远")
    await expect(page.locator(".timeline")).to_contain_text("注册")
    await checked(page, "physician")

    await fed.step(
        "50", cert, {"type": "suspended", "reason": "违反诊疗规范", "until": suspension_until()}
    )
    await record_at_hub(fed, cert, "suspended")
    await page.reload()
    await expect(page.locator(".timeline li").first).to_contain_text("暂停执业")
    await expect(page.locator(".notice")).to_contain_text("违反诊疗规范")
    await checked(page, "physician-suspended")
    await phone.goto(f"{fed.hub}/physicians/{cert}")
    await checked(phone, "physician-suspended")


async def test_a_registration_in_transit_is_explained_then_shown_by_itself(
    browser: Browser, fed: Federation
) -> None:
    body = fresh("50", name="司马青云")
    page = await new_page(browser, DESKTOP)
    phone = await new_page(browser, PHONE)
    await fed.set_ingest_paused(True)
    try:
        await fed.register("50", body)
        cert = body["cert_no"]

        async def explained() -> bool:
            response = await page.goto(f"{fed.hub}/physicians/{cert}")
            assert response is not None and response.status == 404
            return await page.locator(".explain[data-state=in_transit]").count() == 1

        await wait_until(explained, 20, "the in_transit explanation")
        await expect(page.locator(".explain")).to_contain_text("已在重庆市登记")
        await expect(page.locator(".explain")).to_contain_text("预计约")
        await checked(page, "not-found-in-transit")
        await phone.goto(f"{fed.hub}/physicians/{cert}")
        await checked(phone, "not-found-in-transit")
        # The freshness line refreshes itself (every 5 s) while the person waits.
        await expect(page.locator(".freshness[data-refreshed]")).to_contain_text(
            "重庆市：", timeout=10_000
        )
    finally:
        await fed.set_ingest_paused(False)
    # The page's own script notices the record and shows it: the test does not reload.
    await expect(page.locator("h1")).to_have_text("司马青云", timeout=20_000)


async def test_an_unknown_number_is_explained(browser: Browser, fed: Federation) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        response = await page.goto(f"{fed.hub}/physicians/509999999999999")
        assert response is not None and response.status == 404
        await expect(page.locator(".explain")).to_contain_text("核对执业证书编码")
        await checked(page, "not-found-unknown")
        await page.context.close()


async def test_a_refused_search_names_the_field(browser: Browser, fed: Federation) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        response = await page.goto(f"{fed.hub}/?name=张&province=50&institution=")
        assert response is not None and response.status == 400
        await expect(page.locator("#name-error")).to_contain_text("姓名至少需要 2 个字")
        await checked(page, "search-refused")
        await page.context.close()


async def test_the_next_page_shows_the_following_results(browser: Browser, fed: Federation) -> None:
    certs = []
    for _ in range(3):
        body = fresh("50", name="诸葛远山")
        await fed.register("50", body)
        certs.append(body["cert_no"])
    for cert in certs:
        await record_at_hub(fed, cert)

    async def shown(page: Page) -> list[str]:
        hrefs = await page.locator(".result h3 a").evaluate_all("as => as.map(a => a.pathname)")
        return [href.rsplit("/", 1)[1] for href in hrefs]

    page = await new_page(browser, DESKTOP)
    await page.goto(f"{fed.hub}/?name=诸葛远山&province=50&limit=2")
    first = await shown(page)
    await page.get_by_role("link", name="下一页").click()
    await page.wait_for_load_state()
    second = await shown(page)
    assert (len(first), sorted(first + second)) == (2, sorted(certs))
    await page.context.close()


async def test_a_transferred_record_links_to_the_new_one(browser: Browser, fed: Federation) -> None:
    old = fresh("50", name="慕容清和")
    await fed.register("50", old)
    await fed.step("50", old["cert_no"], {"type": "transferred_out", "to_province": "44"})
    new = {
        **fresh("44"),
        "name": old["name"],
        "gender": old["gender"],
        "id_number": old["id_number"],
        "transfer_from": {"province": "50", "cert_no": old["cert_no"]},
    }
    await fed.register("44", new)

    async def superseded() -> bool:
        code, body = await fed.hub_get(f"/v1/physicians/{old['cert_no']}")
        return code == 200 and body.get("superseded_by") is not None

    await wait_until(superseded, 30, f"{old['cert_no']} superseded at the hub")
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        await page.goto(f"{fed.hub}/physicians/{old['cert_no']}")
        await checked(page, "physician-transferred")
        # One notice: the transfer's, with the link (not the status's too).
        await expect(page.locator(".notice")).to_have_count(1)
        await page.get_by_role("link", name="查看新的注册记录").click()
        await expect(page.locator(".lead")).to_contain_text(new["cert_no"])
        await page.context.close()
