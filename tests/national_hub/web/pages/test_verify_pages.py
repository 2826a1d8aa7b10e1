"""The verify page and the receipt checker against the real hub (in process) on the session's
Kafka, in Debian's chromium: verdicts, the marked field, the explanation, the receipt's
checker link checked in the browser, an altered receipt refused, the pages without JavaScript,
axe-core scans, and screenshots at desktop and phone widths (var/screenshots/verify/)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from browser import DESKTOP, PHONE, axe, horizontal_overflow, launched, new_page, screenshot
from hubkit import (
    HubEnv,
    cert,
    create_topics,
    get_json,
    make_event,
    running_hub,
    send_events,
    wait_version,
    write_federation,
)
from playwright.async_api import Browser, Page, expect

from national_hub.query.receipts import (
    ReceiptSigner,
    decode_token,
    encode_token,
    receipt_payload,
    verify_receipt,
)
from national_hub.web.pages.explain_text import explain_text
from national_hub.web.pages.receipt_view import MALFORMED_MESSAGES
from schemas.samples import SECOND_INSTITUTION
from schemas.signing import Signer, generate_keypair

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOTS = "verify"
ACTIVE = cert("50", 7001)
CHANGING = cert("50", 7002)
MISSING = cert("50", 7999)
NAME = "张伟"
# 重医附一院 is the registered alias of the sample records' 重庆医科大学附属第一医院.
ACTIVE_FORM = {"cert_no": ACTIVE, "name": NAME, "institution": "重医附一院"}
MISMATCH_FORM = {"cert_no": ACTIVE, "name": NAME, "category": "dental"}
# The change requested moves the physician to SECOND_INSTITUTION: presenting it differs from
# the registry, and the pending change (变更中) explains why.
PENDING_FORM = {"cert_no": CHANGING, "name": NAME, "institution": SECOND_INSTITUTION.name}
MISSING_FORM = {"cert_no": MISSING, "name": NAME, "province": "50"}


@dataclass
class Site:
    """The running hub: its test client and its address for the browser."""

    env: HubEnv
    client: TestClient
    base: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """A hub holding ACTIVE (active) and CHANGING (a change of institution requested)."""
    env = write_federation(
        tmp_path_factory.mktemp("verify-pages"), bootstrap, f"vp_{uuid.uuid4().hex[:10]}"
    )
    await create_topics(env)
    await send_events(
        env,
        [
            make_event(env, "registered", "50", ACTIVE, 1, name=NAME),
            make_event(env, "registered", "50", CHANGING, 1, name=NAME),
            make_event(env, "change_requested", "50", CHANGING, 2, name=NAME),
        ],
    )
    async with running_hub(env.settings()) as client:
        await wait_version(client, ACTIVE, 1)
        await wait_version(client, CHANGING, 2)
        yield Site(env, client, str(client.make_url("/")).rstrip("/"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched() as b:
        yield b


async def post_form(site: Site, fields: dict[str, Any]) -> tuple[int, str]:
    resp = await site.client.post("/verify", data=fields)
    return resp.status, await resp.text()


def field_error(html: str, field: str) -> str | None:
    found = re.search(rf'id="{field}-error"><strong>错误：</strong>([^<]*)<', html)
    return found.group(1) if found else None


async def verified(
    browser: Browser, site: Site, fields: dict[str, str], viewport: Any = DESKTOP
) -> Page:
    """The verdict page after filling in and sending the form, as a person would."""
    page = await new_page(browser, viewport)
    await page.goto(site.base + "/verify")
    for name, value in fields.items():
        if name in ("category", "province"):
            await page.select_option(f"#{name}", value)
        else:
            await page.fill(f"#{name}", value)
    await page.click("form.verify-form button[type=submit]")
    await page.wait_for_load_state()
    return page


async def checked(page: Page, name: str) -> None:
    """Screenshot at this width; no serious or critical axe violation; no sideways scroll."""
    await screenshot(page, SHOTS, name)
    assert await axe(page) == [], name
    assert await horizontal_overflow(page) == 0, name


def token_of(html: str) -> str:
    href = re.search(r'href="(/receipt\?r=[^"]+)" data-checker-link', html)
    assert href is not None
    return parse_qs(urlsplit(href.group(1).replace("&amp;", "&")).query)["r"][0]


# ---- bad input: 400, the message next to the field ------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"cert_no": "", "name": NAME}, "cert_no", "请填写执业证书编码"),
        ({"cert_no": "12345", "name": NAME}, "cert_no", "15 位数字"),
        ({"cert_no": ACTIVE, "name": ""}, "name", "请填写姓名"),
        (
            [("cert_no", ACTIVE), ("name", NAME)]
            + [("scopes", s) for s in ("内科专业", "外科专业", "儿科专业", "妇产科专业")],
            "scopes",
            "最多选择 3 项",
        ),
        ({"cert_no": ACTIVE, "name": NAME, "category": "veterinary"}, "category", "执业类别"),
    ],
    ids=["missing-cert-no", "short-cert-no", "missing-name", "four-scopes", "unknown-category"],
)
async def test_bad_input_is_400_naming_the_field(
    site: Site, fields: Any, field: str, words: str
) -> None:
    resp = await site.client.post("/verify", data=fields)
    message = field_error(await resp.text(), field)
    assert (resp.status, message is not None and words in message) == (400, True)


async def test_refused_form_keeps_what_was_typed(site: Site) -> None:
    _, html = await post_form(site, {"cert_no": "", "name": "王<b>小明"})
    assert 'value="王&lt;b&gt;小明"' in html


# ---- the verdict is the API's ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields", [ACTIVE_FORM, MISMATCH_FORM, PENDING_FORM, MISSING_FORM], ids=lambda f: f["cert_no"]
)
async def test_page_shows_the_apis_verdict_and_fields(site: Site, fields: dict[str, str]) -> None:
    api = await site.client.post("/v1/verify", data=json.dumps(fields))
    answer = await api.json()
    _, html = await post_form(site, fields)
    shown = dict(re.findall(r'data-field="(\w+)" data-result="(\w+)"', html))
    assert (re.search(r'data-verdict="(\w+)"', html).group(1), shown) == (  # type: ignore[union-attr]
        answer["verdict"],
        answer["fields"],
    )


async def test_receipt_on_the_page_checks_against_the_published_key(site: Site) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    key = await get_json(site.client, "/.well-known/regsync/hub-key")
    assert verify_receipt(decode_token(token_of(html)), key["public_key"])


async def test_qr_code_is_inline_svg_of_the_checker_link(site: Site) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    svg = re.search(r"<svg [^>]*>", html)
    assert svg is not None and 'role="img"' in svg.group(0) and "style" not in svg.group(0)


async def test_not_found_carries_the_explanation_in_words(site: Site) -> None:
    api = await (await site.client.post("/v1/verify", data=json.dumps(MISSING_FORM))).json()
    _, html = await post_form(site, MISSING_FORM)
    assert explain_text(api["explanation"], MISSING).title in html


# ---- in the browser --------------------------------------------------------------------------


async def test_form_at_both_widths(browser: Browser, site: Site) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        await page.goto(site.base + "/verify")
        await expect(page.locator("h1")).to_have_text("医师执业证书核验")
        await checked(page, "form")
        await page.context.close()


async def test_consistent_in_the_browser(browser: Browser, site: Site) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await verified(browser, site, ACTIVE_FORM, viewport)
        await expect(page.locator("#verdict-title")).to_contain_text("核验结果：一致")
        await checked(page, "consistent")
        await page.context.close()


async def test_mismatch_marks_the_differing_field(browser: Browser, site: Site) -> None:
    page = await verified(browser, site, MISMATCH_FORM)
    row = page.locator("tr[data-field=category]")
    await expect(row.locator(".result")).to_have_text("✗ 不一致")
    await expect(page.locator("tr[data-field=name] .result")).to_have_text("✓ 一致")
    await checked(page, "mismatch")
    await page.context.close()


async def test_pending_change_explains_a_differing_institution(
    browser: Browser, site: Site
) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await verified(browser, site, PENDING_FORM, viewport)
        await expect(page.locator("tr[data-field=institution] .result")).to_have_text("✗ 不一致")
        await expect(page.locator(".notes")).to_contain_text("变更中")
        await checked(page, "mismatch-pending-change")
        await page.context.close()


async def test_not_found_is_explained(browser: Browser, site: Site) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await verified(browser, site, MISSING_FORM, viewport)
        await expect(page.locator("#verdict-title")).to_contain_text("未查到")
        await expect(page.locator(".explain h2")).to_be_visible()
        await checked(page, "not-found")
        await page.context.close()


async def test_refused_form_in_the_browser(browser: Browser, site: Site) -> None:
    page = await verified(browser, site, {"cert_no": "12345", "name": NAME}, PHONE)
    await expect(page.locator("#cert_no-error")).to_contain_text("15 位数字")
    await expect(page.locator("#cert_no")).to_have_attribute("aria-invalid", "true")
    await checked(page, "refused")
    await page.context.close()


async def test_print_layout_hides_navigation_and_form(browser: Browser, site: Site) -> None:
    page = await verified(browser, site, ACTIVE_FORM)
    await page.emulate_media(media="print")
    await screenshot(page, SHOTS, "consistent-print")
    hidden = [
        await page.locator(sel).is_hidden()
        for sel in (".site-header", "form.verify-form", ".site-footer")
    ]
    assert (hidden, await page.locator("#receipt svg").is_visible()) == ([True] * 3, True)
    await page.context.close()


async def test_checker_link_says_genuine_in_the_browser(browser: Browser, site: Site) -> None:
    for viewport in (DESKTOP, PHONE):
        page = await verified(browser, site, ACTIVE_FORM, viewport)
        await page.click("a.button[href^='/receipt?r=']")
        checker = page.locator("[data-receipt-checker]")
        await expect(checker).to_have_attribute("data-browser-verdict", "genuine")
        await expect(page.locator("#browser-check")).to_contain_text(
            "真实有效：由全国医师执业注册同步中心签发"
        )
        await checked(page, "receipt-genuine")
        await page.context.close()


async def test_browser_fingerprint_is_the_servers(browser: Browser, site: Site) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    page = await new_page(browser, DESKTOP)
    await page.goto(site.base + "/receipt?r=" + token_of(html))
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "genuine"
    )
    shown = await page.locator("#browser-check .fingerprint").inner_text()
    assert shown == await page.locator("[data-server-fingerprint]").inner_text()
    await page.context.close()


def altered(token: str) -> str:
    """The receipt with one character of its payload changed (as its token)."""
    receipt = decode_token(token)
    payload = receipt["payload"].replace('"record_version":1', '"record_version":7')
    assert payload != receipt["payload"]
    return encode_token({**receipt, "payload": payload})


async def test_altered_receipt_is_not_genuine(browser: Browser, site: Site) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        await page.goto(site.base + "/receipt?r=" + altered(token_of(html)))
        await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
            "data-browser-verdict", "forged"
        )
        await expect(page.locator("#browser-check")).to_contain_text(
            "签名不符：此回执被改动过或并非本中心签发"
        )
        await checked(page, "receipt-altered")
        await page.context.close()


async def test_pasted_receipt_json_is_checked_in_the_browser(browser: Browser, site: Site) -> None:
    answer = await (await site.client.post("/v1/verify", data=json.dumps(ACTIVE_FORM))).json()
    page = await new_page(browser, PHONE)
    await page.goto(site.base + "/receipt")
    await checked(page, "receipt-empty")
    await page.fill("#r", json.dumps(answer["receipt"], ensure_ascii=False))
    await page.click("#receipt-form button[type=submit]")
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "genuine"
    )
    await page.context.close()


async def test_pasted_altered_json_is_not_genuine(browser: Browser, site: Site) -> None:
    answer = await (await site.client.post("/v1/verify", data=json.dumps(ACTIVE_FORM))).json()
    receipt = answer["receipt"]
    receipt["payload"] = receipt["payload"].replace("consistent", "consistenT")
    page = await new_page(browser, DESKTOP)
    await page.goto(site.base + "/receipt")
    await page.fill("#r", json.dumps(receipt))
    await page.click("#receipt-form button[type=submit]")
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "forged"
    )
    await page.context.close()


# ---- without JavaScript: the server's check --------------------------------------------------


async def test_server_checks_the_receipt_without_javascript(browser: Browser, site: Site) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport, javascript=False)
        await page.goto(site.base + "/receipt?r=" + token_of(html))
        await expect(page.locator("#server-check")).to_have_attribute(
            "data-server-verdict", "genuine"
        )
        await expect(page.locator("#server-check")).to_contain_text(
            "在您的浏览器中独立核验需要启用 JavaScript"
        )
        # No axe scan here: axe-core is a script, and this page runs none.
        await screenshot(page, SHOTS, "receipt-server-genuine")
        await page.context.close()


async def test_server_refuses_an_altered_receipt(site: Site) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    resp = await site.client.get("/receipt?r=" + quote(altered(token_of(html))))
    assert re.search(r'data-server-verdict="(\w+)"', await resp.text()).group(1) == "forged"  # type: ignore[union-attr]


async def test_verify_form_works_without_javascript(browser: Browser, site: Site) -> None:
    page = await new_page(browser, PHONE, javascript=False)
    await page.goto(site.base + "/verify")
    await page.fill("#cert_no", ACTIVE)
    await page.fill("#name", NAME)
    await page.click("form.verify-form button[type=submit]")
    await expect(page.locator("#verdict-title")).to_contain_text("一致")
    await page.context.close()


@pytest.mark.parametrize("r", ["", "not-a-receipt", "abc.def.0123456789abcdef", '{"payload": 1}'])
async def test_malformed_receipt_is_400_in_chinese(site: Site, r: str) -> None:
    resp = await site.client.get("/receipt", params={"r": r})
    message = field_error(await resp.text(), "r")
    assert (resp.status, message in MALFORMED_MESSAGES.values()) == (400, True)


async def test_malformed_receipt_page_in_the_browser(browser: Browser, site: Site) -> None:
    page = await new_page(browser, PHONE)
    response = await page.goto(site.base + "/receipt?r=abc")
    assert response is not None and response.status == 400
    await expect(page.locator("#r-error")).to_be_visible()
    await checked(page, "receipt-malformed")
    await page.context.close()


# A browser whose WebCrypto has no Ed25519: importKey refuses the algorithm.
NO_ED25519 = """
(() => {
  const importKey = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = (format, data, algorithm, ...rest) =>
    algorithm && algorithm.name === "Ed25519"
      ? Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"))
      : importKey(format, data, algorithm, ...rest);
})();
"""


async def test_browser_without_ed25519_shows_the_servers_verdict(
    browser: Browser, site: Site
) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    page = await new_page(browser, PHONE)
    await page.add_init_script(NO_ED25519)
    await page.goto(site.base + "/receipt?r=" + token_of(html))
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "unsupported"
    )
    await expect(page.locator("#server-check")).to_have_attribute("data-server-verdict", "genuine")
    await checked(page, "receipt-no-ed25519")
    await page.context.close()


async def test_pasted_receipt_goes_to_the_server_when_the_browser_cannot_check(
    browser: Browser, site: Site
) -> None:
    _, html = await post_form(site, ACTIVE_FORM)
    page = await new_page(browser, DESKTOP)
    await page.add_init_script(NO_ED25519)
    await page.goto(site.base + "/receipt")
    await page.fill("#r", token_of(html))
    await page.click("#receipt-form button[type=submit]")
    await expect(page.locator("#server-check")).to_have_attribute("data-server-verdict", "genuine")
    await page.context.close()


async def test_oversized_form_is_413_page(site: Site) -> None:
    resp = await site.client.post("/verify", data={"cert_no": ACTIVE, "name": "张" * 40_000})
    assert (resp.status, resp.content_type) == (413, "text/html")


async def test_pasted_text_that_is_no_receipt_is_named_in_the_browser(
    browser: Browser, site: Site
) -> None:
    page = await new_page(browser, DESKTOP)
    await page.goto(site.base + "/receipt")
    await page.fill("#r", "这不是回执")
    await page.click("#receipt-form button[type=submit]")
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "malformed"
    )
    await expect(page.locator("#browser-check")).to_contain_text(MALFORMED_MESSAGES["shape"])
    await page.context.close()


async def test_receipt_of_another_key_is_not_genuine_in_the_browser(
    browser: Browser, site: Site
) -> None:
    other = ReceiptSigner(Signer.load(generate_keypair()[0]))
    forged = other.sign(receipt_payload("consistent", ACTIVE, 1, status="active"))
    page = await new_page(browser, DESKTOP)
    await page.goto(site.base + "/receipt?r=" + encode_token(forged))
    await expect(page.locator("[data-receipt-checker]")).to_have_attribute(
        "data-browser-verdict", "forged"
    )
    await expect(page.locator("#browser-check")).to_contain_text(other.kid)
    await page.context.close()
