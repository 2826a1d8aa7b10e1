"""GET /: the find page: by certificate number, name, ID number, institution; status filter,
paging, exact matches straight to the record, Chinese messages for bad input."""

from __future__ import annotations

from html import unescape

import pytest
from aiohttp import ClientResponse
from consolekit import field_errors, sign_in
from nodekit import Node, cert_no, id_number, registration

from province_node.web.console import find_routes


async def _registered(node: Node, *indexes: int, **overrides: object) -> None:
    for index in indexes:
        code, body, _ = await node.register(registration(index, **overrides))
        assert code == 201, body


async def test_the_find_page_needs_a_session(node: Node) -> None:
    resp = await node.client.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/login?next=/")


async def test_a_viewer_sees_the_empty_search_form(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/")
    html = await resp.text()
    assert (resp.status, 'name="q"' in html, "查找结果" in html) == (200, True, False)


async def test_an_exact_certificate_number_goes_to_its_page(node: Node) -> None:
    await _registered(node, 1)
    await sign_in(node, "viewer")
    resp = await node.client.get(f"/?kind=cert_no&q={cert_no(1)}", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, f"/registrations/{cert_no(1)}")


async def _posted(node: Node, csrf: str, **fields: str) -> ClientResponse:
    """The search form sent, as the page posts it."""
    return await node.client.post("/", data={"csrf": csrf, **fields}, allow_redirects=False)


def _hrefs(html: str) -> list[str]:
    return [unescape(part.split('"')[0]) for part in html.split('href="')[1:]]


async def test_an_exact_id_number_goes_to_its_registration(node: Node) -> None:
    await _registered(node, 2)
    csrf = await sign_in(node, "viewer")
    resp = await _posted(node, csrf, kind="id_number", q=id_number(2))
    assert resp.headers["Location"] == f"/registrations/{cert_no(2)}"


async def test_an_id_numbers_registrations_are_listed_with_the_number_in_no_link(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More rows than a page: every one is listed, and no next-page link repeats the number.
    monkeypatch.setattr(find_routes, "PAGE_SIZE", 1)
    await _registered(node, 2)
    await node.step(cert_no(2), {"type": "cancelled", "reason": "voluntary"})
    await _registered(node, 3, id_number=id_number(2))
    csrf = await sign_in(node, "viewer")
    resp = await _posted(node, csrf, kind="id_number", q=id_number(2))
    html = await resp.text()
    listed = (cert_no(2) in html, cert_no(3) in html)
    assert (resp.status, listed, [h for h in _hrefs(html) if id_number(2) in h]) == (
        200,
        (True, True),
        [],
    )


async def test_an_id_number_in_the_address_is_not_searched(node: Node) -> None:
    await _registered(node, 2)
    await sign_in(node, "viewer")
    resp = await node.client.get(f"/?kind=id_number&q={id_number(2)}", allow_redirects=False)
    html = await resp.text()
    assert (resp.status, "网址" in field_errors(html)["q"], id_number(2) in html) == (
        422,
        True,
        False,
    )


async def test_signing_in_from_an_id_number_address_comes_back_without_it(node: Node) -> None:
    resp = await node.client.get(f"/?kind=id_number&q={id_number(2)}", allow_redirects=False)
    location = resp.headers["Location"]
    assert (location.startswith("/login?next="), id_number(2) in location) == (True, False)


async def test_an_id_number_typed_as_a_name_stays_out_of_the_address(node: Node) -> None:
    csrf = await sign_in(node, "viewer")
    resp = await _posted(node, csrf, kind="name", q=id_number(2))
    assert (resp.status, "Location" in resp.headers) == (200, False)


async def test_a_posted_name_search_goes_to_its_address(node: Node) -> None:
    csrf = await sign_in(node, "viewer")
    resp = await _posted(node, csrf, kind="name", q="王", status="active")
    assert resp.headers["Location"] == "/?q=%E7%8E%8B&kind=name&status=active"


async def test_a_posted_search_without_csrf_is_refused(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.post("/", data={"kind": "name", "q": "王"}, allow_redirects=False)
    assert resp.status == 403


async def test_name_results_show_the_id_number_masked(node: Node) -> None:
    await _registered(node, 3, 4)
    await sign_in(node, "viewer")
    html = await (await node.client.get("/?kind=name&q=王小明")).text()
    masked = id_number(3)[:6] + "********" + id_number(3)[-4:]
    assert (masked in html, id_number(3) in html) == (True, False)


async def test_the_status_filter_keeps_only_that_status(node: Node) -> None:
    await _registered(node, 5, 6)
    await node.step(cert_no(6), {"type": "cancelled", "reason": "voluntary"})
    await sign_in(node, "viewer")
    html = await (await node.client.get("/?kind=name&q=王小明&status=cancelled")).text()
    assert (cert_no(6) in html, cert_no(5) in html) == (True, False)


async def test_a_second_page_follows_the_first_without_repeating(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(find_routes, "PAGE_SIZE", 2)
    await _registered(node, 7, 8, 9)
    await sign_in(node, "viewer")
    first = await (await node.client.get("/?kind=name&q=王")).text()
    link = unescape(first.split('class="button button-secondary" href="')[1].split('"')[0])
    second = await (await node.client.get(link)).text()
    assert (cert_no(9) in second, cert_no(7) in second) == (True, False)


async def test_an_unknown_certificate_number_says_nothing_was_found(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get(f"/?kind=cert_no&q={cert_no(99)}")
    assert (resp.status, "没有找到" in await resp.text()) == (200, True)


async def test_an_empty_search_is_named_next_to_the_field(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/?kind=name&q=+")
    assert (resp.status, field_errors(await resp.text())) == (422, {"q": "请输入要查找的内容。"})


async def test_a_short_certificate_number_is_named_next_to_the_field(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/?kind=cert_no&q=123")
    assert (resp.status, list(field_errors(await resp.text()))) == (422, ["q"])


async def test_an_id_number_with_a_wrong_check_character_is_explained(node: Node) -> None:
    csrf = await sign_in(node, "viewer")
    wrong = id_number(1)[:17] + ("0" if id_number(1)[17] != "0" else "1")
    resp = await _posted(node, csrf, kind="id_number", q=wrong)
    assert "校验位" in field_errors(await resp.text())["q"]


async def test_an_unknown_kind_is_a_422_not_a_500(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/?kind=passport&q=x")
    assert (resp.status, list(field_errors(await resp.text()))) == (422, ["kind"])


async def test_a_forged_cursor_is_a_400_page(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/?kind=name&q=王&cursor=bm9wZQ")
    assert (resp.status, list(field_errors(await resp.text()))) == (400, ["cursor"])
