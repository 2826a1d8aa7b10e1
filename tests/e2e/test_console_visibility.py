"""The Kafka-stopped drill in a real browser: the registrar console's registration page says
where the latest change is on its way to the national hub, and the health page shows the
outbox holding changes while Kafka is down.

Node 50 and the hub run as real processes on a broker of this module's own (it is stopped and
started); Debian's chromium drives the console (tests/browser.py). One drill, run once by a
module fixture that writes down what the pages said at each step; each test checks one of
those observations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from schemas.samples import suspension_until
from tests.browser import (
    DESKTOP,
    PHONE,
    axe,
    horizontal_overflow,
    launched,
    new_page,
    screenshot,
)
from tests.console_pages import sign_in
from tests.e2e.federation import Federation, connect, stack_running, wait_until

Running = tuple[Stack, Secrets]
GROUP = "console-visibility"
APPLIED = "全国平台已是最新版本"
WAITING = "本节点发件箱中等待发送"


@dataclass
class Drill:
    """What the pages said at each step of the drill."""

    applied_before: str = ""
    waiting: str = ""
    health_during_outage: str = ""
    health_without_js: str = ""
    applied_after: str = ""
    # The page that said "waiting" was the same document when it said "applied" again.
    reloaded: bool = True
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)


async def _section_text(page: Page, selector: str) -> str:
    return await page.locator(selector).inner_text()


async def _says(page: Page, selector: str, words: str, within: float) -> str:
    """The element's text once it contains words (polled without reloading the page)."""

    async def probe() -> str | None:
        text = await _section_text(page, selector)
        return text if words in text else None

    return await wait_until(probe, within, f"{selector} saying {words}")


async def _look(
    browser: Browser, drill: Drill, name: str, url: str, token: str, node: str, ready: str
) -> None:
    """The page at both widths: screenshots, axe, sideways scrolling."""
    sizes: dict[str, ViewportSize] = {"desktop": DESKTOP, "phone": PHONE}
    for label, size in sizes.items():
        page = await new_page(browser, size)
        await sign_in(page, node, token)
        await page.goto(url)
        await page.locator(ready).wait_for()
        await screenshot(page, GROUP, name)
        drill.violations[f"{name}-{label}"] = await axe(page)
        drill.overflow[f"{name}-{label}"] = await horizontal_overflow(page)
        await page.context.close()


async def _run(fed: Federation, stack: Stack) -> Drill:
    drill = Drill()
    node = fed.node("50")
    token = fed.secrets.tokens["50"]["registrar"]
    body = next(registrations("50", 1, seed=1717))
    cert_no = body["cert_no"]
    record = f"{node}/registrations/{cert_no}"
    await fed.register("50", body)

    async with launched() as browser:
        page = await new_page(browser, DESKTOP)
        await sign_in(page, node, token)
        await page.goto(record)
        drill.applied_before = await _says(page, "#visibility", APPLIED, 30)
        await _look(browser, drill, "record-applied", record, token, node, "#visibility")

        stack.kafka.stop()
        suspend = {"type": "suspended", "reason": "行政处罚", "until": suspension_until()}
        await fed.step("50", cert_no, suspend)
        # The page had settled on "applied" (it stops refreshing then): open it anew.
        await page.goto(record)
        await _says(page, "#visibility", WAITING, 20)
        # Until a send or heartbeat times out the node has not noticed; then the section says so.
        drill.waiting = await _says(page, "#visibility", "无法连接消息队列", 30)
        await _look(browser, drill, "record-waiting", record, token, node, "#visibility")

        health = await new_page(browser, DESKTOP)
        await sign_in(health, node, token)
        await health.goto(f"{node}/health")
        drill.health_during_outage = await _says(health, "#health", "发件箱中等待", 20)
        await health.context.close()
        # Without JavaScript the page is as served, and says the same.
        plain = await new_page(browser, DESKTOP, javascript=False)
        await sign_in(plain, node, token)
        await plain.goto(f"{node}/health")
        drill.health_without_js = await _section_text(plain, "#health")
        await plain.context.close()
        await _look(browser, drill, "health-outage", f"{node}/health", token, node, "#health")

        # The page stays open, unreloaded, while Kafka comes back.
        await page.evaluate("() => { window.drillMarker = 'same document'; }")
        stack.kafka.start()
        drill.applied_after = await _says(page, "#visibility", APPLIED, 60)
        drill.reloaded = await page.evaluate("() => window.drillMarker !== 'same document'")
        await screenshot(page, GROUP, "record-applied-again")
    return drill


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """Node 50 and the hub on this module's own broker, and the drill run once against them."""
    with stack_running(tmp_path_factory.mktemp("console"), ["50"], bootstrap=None) as running:
        stack, _ = running

        async def main() -> Drill:
            async with connect(running) as fed:
                return await _run(fed, stack)

        yield asyncio.run(main())


def test_the_registration_page_says_the_hub_has_the_latest_version(drill: Drill) -> None:
    assert APPLIED in drill.applied_before


def test_with_kafka_stopped_a_change_waits_in_the_nodes_outbox(drill: Drill) -> None:
    assert WAITING in drill.waiting


def test_the_health_page_shows_the_backlog_during_the_outage(drill: Drill) -> None:
    assert "1 条变更在本节点发件箱中等待" in drill.health_during_outage


def test_the_health_page_needs_no_javascript(drill: Drill) -> None:
    assert "条变更在本节点发件箱中等待" in drill.health_without_js


def test_after_kafka_returns_the_page_says_applied_again(drill: Drill) -> None:
    assert APPLIED in drill.applied_after


def test_the_page_updated_itself_without_a_reload(drill: Drill) -> None:
    assert drill.reloaded is False


def test_no_serious_or_critical_accessibility_violations(drill: Drill) -> None:
    assert {name: v for name, v in drill.violations.items() if v} == {}


def test_no_page_scrolls_sideways(drill: Drill) -> None:
    assert {name: px for name, px in drill.overflow.items() if px} == {}
