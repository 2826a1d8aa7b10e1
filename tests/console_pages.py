"""What a registrar does on the province node's console pages, for every browser test of the
console (the in-process ones under tests/province_node/web/console/ and the end-to-end ones
under tests/e2e/): signing in through the form, filling the register form from an API body."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page


async def sign_in(page: Page, node_url: str, token: str) -> None:
    """Sign in through /login with a token; returns once the next page has loaded."""
    await page.goto(f"{node_url}/login")
    await page.fill("#token", token)
    async with page.expect_navigation():
        await page.click("button[type=submit]")


async def fill_register_form(page: Page, body: dict[str, Any]) -> None:
    """Fill /register's form with a POST /v1/registrations body (first registration; its first
    scope ticked)."""
    institution = body["primary_institution"]
    for name, value in (
        ("cert_no", body["cert_no"]),
        ("name", body["name"]),
        ("id_number", body["id_number"]),
        ("org_code", institution["org_code"]),
        ("org_name", institution["name"]),
        ("org_region_code", institution["region_code"]),
        ("authority_name", body["issuing_authority"]["name"]),
        ("authority_region_code", body["issuing_authority"]["region_code"]),
        ("registered_on", body["registered_on"]),
    ):
        await page.fill(f"#{name}", value)
    await page.select_option("#gender", body["gender"])
    await page.select_option("#level", body["level"])
    await page.select_option("#category", body["category"])
    await page.check(f"input[name=scopes][value={body['scopes'][0]}]:visible")
