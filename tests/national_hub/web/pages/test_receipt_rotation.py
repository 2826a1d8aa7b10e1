"""An old receipt after the hub's receipt key was rotated: the hub signs with a new key, the old
one is published as retired, and a receipt the hub signed before the rotation still checks as
genuine, in Debian's chromium (WebCrypto, the kid picking the retired key), on the server's
page and with `national-hub check-receipt` (--config and --hub). Screenshots at desktop and
phone widths in var/screenshots/receipt-rotation/."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from browser import DESKTOP, PHONE, axe, horizontal_overflow, launched, new_page, screenshot
from hubkit import HubEnv, write_federation
from playwright.async_api import Browser, Page, expect
from rotation import rotate_hub_key

from national_hub.cli import main
from national_hub.query.receipts import ReceiptSigner, encode_token, receipt_payload
from national_hub.web.app import create_app
from schemas.signing import Signer
from schemas.timestamps import utc_now

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOTS = "receipt-rotation"
CERT = "500000000008201"


@dataclass
class Rotated:
    """The hub after the rotation, the receipt it signed before it, and its old key."""

    env: HubEnv
    client: TestClient
    base: str
    old_receipt: dict[str, str]
    old_signer: Signer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rotated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rotated]:
    # The receipt checker answers from memory: Kafka is never needed here.
    env = write_federation(
        tmp_path_factory.mktemp("receipt-rotation"), "127.0.0.1:1", f"rr_{uuid.uuid4().hex[:8]}"
    )
    before = env.settings()
    async with TestClient(TestServer(create_app(before))) as old_hub:
        answer = await old_hub.post("/v1/verify", json={"cert_no": CERT, "name": "张伟"})
        assert answer.status == 200, await answer.text()
        old_receipt = (await answer.json())["receipt"]
    rotate_hub_key(env, utc_now())
    async with TestClient(TestServer(create_app(env.settings()))) as client:
        base = str(client.make_url("/")).rstrip("/")
        yield Rotated(env, client, base, old_receipt, before.signer)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched() as b:
        yield b


async def checker(
    browser: Browser, rotated: Rotated, receipt: dict[str, str], viewport: object
) -> Page:
    page = await new_page(browser, viewport)
    await page.goto(rotated.base + "/receipt?r=" + encode_token(receipt))
    return page


async def test_hub_key_publishes_the_retired_key(rotated: Rotated) -> None:
    doc = await (await rotated.client.get("/.well-known/regsync/hub-key")).json()
    assert [(k["kid"], k["status"]) for k in doc["keys"]][1:] == [
        (rotated.old_signer.kid, "retired")
    ]


async def test_old_receipt_is_genuine_in_the_browser(browser: Browser, rotated: Rotated) -> None:
    page = await checker(browser, rotated, rotated.old_receipt, DESKTOP)
    root = page.locator("[data-receipt-checker]")
    await expect(root).to_have_attribute("data-browser-verdict", "genuine")
    await expect(root).to_have_attribute("data-browser-key", "retired")
    await expect(page.locator("#browser-check")).to_contain_text("旧密钥，已于")
    await screenshot(page, SHOTS, "old-receipt-desktop")
    assert await axe(page) == []
    await page.context.close()


async def test_old_receipt_at_phone_width(browser: Browser, rotated: Rotated) -> None:
    page = await checker(browser, rotated, rotated.old_receipt, PHONE)
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "genuine"
    )
    await screenshot(page, SHOTS, "old-receipt-phone")
    assert await horizontal_overflow(page) == 0
    await page.context.close()


async def test_retired_key_signing_after_retirement_is_refused_in_the_browser(
    browser: Browser, rotated: Rotated
) -> None:
    late = ReceiptSigner(rotated.old_signer).sign(
        receipt_payload("consistent", CERT, 1, utc_now() + timedelta(hours=1), status="active")
    )
    page = await checker(browser, rotated, late, DESKTOP)
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "forged"
    )
    await screenshot(page, SHOTS, "after-retirement-desktop")
    await page.context.close()


async def test_server_checks_the_old_receipt_by_its_kid(rotated: Rotated) -> None:
    page = await rotated.client.get("/receipt", params={"r": encode_token(rotated.old_receipt)})
    html = await page.text()
    found = re.search(r'data-server-verdict="(\w+)".*?data-server-key="(\w+)"', html, re.S)
    assert found is not None and found.groups() == ("genuine", "retired")


def check_receipt_cli(receipt_file: Path, *key_source: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["check-receipt", str(receipt_file), *key_source])
    return code, out.getvalue()


async def test_check_receipt_with_the_config_checks_the_old_receipt(
    rotated: Rotated, tmp_path: Path
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(rotated.old_receipt), encoding="utf-8")
    code, out = check_receipt_cli(path, "--config", str(rotated.env.config))
    assert (code, out.splitlines()[0].split(" (")[0]) == (
        0,
        f"genuine: signed by the national hub's retired key {rotated.old_signer.kid}",
    )


async def test_check_receipt_with_the_hub_url_checks_the_old_receipt(
    rotated: Rotated, tmp_path: Path
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(rotated.old_receipt), encoding="utf-8")
    # The CLI fetches the key set over HTTP from the hub running on this loop: off the loop.
    code, _ = await asyncio.to_thread(check_receipt_cli, path, "--hub", rotated.base)
    assert code == 0
