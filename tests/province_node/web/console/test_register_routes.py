"""GET/POST /register and POST /register/check: the register form over HTTP."""

from __future__ import annotations

from aiohttp import ClientResponse
from consolekit import field_errors, registration_form, sign_in
from nodekit import Node, cert_no, id_number

from schemas.checksums import resident_id_check_char

KEY = "idempotency_key"


def _wrong_check(number: str) -> str:
    good = number[17]
    return number[:17] + ("1" if good != "1" else "2")


async def _post(
    node: Node, csrf: str, fields: list[tuple[str, str]], key: str = "k-1"
) -> ClientResponse:
    return await node.client.post(
        "/register",
        data=[("csrf", csrf), (KEY, key), *fields],
        allow_redirects=False,
    )


async def test_the_form_is_a_registrars_page(node: Node) -> None:
    await sign_in(node, "registrar")
    resp = await node.client.get("/register")
    html = await resp.text()
    assert (resp.status, 'name="id_number"' in html, f'name="{KEY}"' in html) == (200, True, True)


async def test_the_form_reads_no_field_from_the_address(node: Node) -> None:
    await sign_in(node, "registrar")
    resp = await node.client.get(f"/register?kind=transfer&id_number={id_number(1)}&name=王小明")
    html = await resp.text()
    assert (id_number(1) in html, "王小明" in html) == (False, False)


async def test_a_viewer_gets_the_403_page(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/register")
    assert (resp.status, "只读账号不能办理此业务" in await resp.text()) == (403, True)


async def test_a_good_form_answers_303_to_the_new_record(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await _post(node, csrf, registration_form(1))
    assert (resp.status, resp.headers["Location"]) == (
        303,
        f"/registrations/{cert_no(1)}?done=registered",
    )


async def test_a_good_form_makes_the_record(node: Node) -> None:
    csrf = await sign_in(node)
    await _post(node, csrf, registration_form(1))
    status, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(1)}")
    assert (status, body["record"]["name"]) == (200, "王小明")


async def test_a_wrong_id_checksum_is_named_in_chinese_beside_the_field(node: Node) -> None:
    csrf = await sign_in(node)
    wrong = _wrong_check(id_number(1))
    resp = await _post(node, csrf, registration_form(1, id_number=wrong))
    expected = resident_id_check_char(wrong[:17])
    assert (resp.status, field_errors(await resp.text())) == (
        422,
        {
            "id_number": f"身份证号码校验位不正确（按 GB 11643 计算应为 {expected}），"
            "请核对最后一位。"
        },
    )


async def test_a_refused_form_keeps_the_entered_values(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await _post(node, csrf, registration_form(1, id_number="123", name="张三丰"))
    assert 'value="张三丰"' in await resp.text()


async def test_more_than_three_scopes_are_named_beside_the_scopes(node: Node) -> None:
    csrf = await sign_in(node)
    fields = registration_form(1, scopes="内科专业;外科专业;儿科专业;急救医学专业")
    resp = await _post(node, csrf, fields)
    errors = field_errors(await resp.text())
    assert errors == {"scopes": "执业范围最多选择 3 项，您选择了 4 项。"}


async def test_an_existing_cert_no_is_a_409_beside_the_cert_no(node: Node) -> None:
    csrf = await sign_in(node)
    await _post(node, csrf, registration_form(1), key="first")
    resp = await _post(node, csrf, registration_form(1), key="second")
    errors = field_errors(await resp.text())
    assert (resp.status, list(errors)) == (409, ["cert_no"])


async def test_the_refusals_english_is_marked_as_english_under_technical_details(
    node: Node,
) -> None:
    csrf = await sign_in(node)
    await _post(node, csrf, registration_form(1), key="first")
    html = await (await _post(node, csrf, registration_form(1), key="second")).text()
    details = html.split('<details class="technical">')[1].split("</details>")[0]
    assert '<li lang="en">' in details


async def test_a_person_holding_a_registration_is_a_409_beside_the_id_number(node: Node) -> None:
    csrf = await sign_in(node)
    await _post(node, csrf, registration_form(1), key="first")
    again = registration_form(1, cert_no=cert_no(2))
    resp = await _post(node, csrf, again, key="second")
    errors = field_errors(await resp.text())
    assert (resp.status, list(errors)) == (409, ["id_number"])


async def test_the_same_idempotency_key_twice_makes_one_record(node: Node) -> None:
    csrf = await sign_in(node)
    first = await _post(node, csrf, registration_form(1), key="same")
    second = await _post(node, csrf, registration_form(1), key="same")
    _status, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(1)}")
    assert (first.status, second.status, body["record_version"]) == (
        303,
        303,
        1,
    )


async def test_a_form_without_csrf_is_refused(node: Node) -> None:
    await sign_in(node)
    resp = await node.client.post(
        "/register", data=[(KEY, "k"), *registration_form(1)], allow_redirects=False
    )
    assert resp.status == 403


async def test_a_transfer_in_needs_the_province_it_came_from(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await _post(node, csrf, registration_form(1, kind="transfer"))
    errors = field_errors(await resp.text())
    assert errors.get("from_province") == "请选择转出省份。"


async def test_a_transfer_in_is_registered(node: Node) -> None:
    csrf = await sign_in(node)
    fields = registration_form(1, kind="transfer", from_province="51", from_cert_no="51" + "0" * 13)
    resp = await _post(node, csrf, fields)
    _status, body, _ = await node.call("GET", f"/v1/registrations/{cert_no(1)}")
    assert (resp.status, body["record"]["transfer"]["from_province"]) == (
        303,
        "51",
    )


async def test_the_live_check_names_a_wrong_id_checksum(node: Node) -> None:
    csrf = await sign_in(node)
    wrong = _wrong_check(id_number(1))
    resp = await node.client.post(
        "/register/check",
        data=[("field", "id_number"), ("id_number", wrong)],
        headers={"X-CSRF-Token": csrf},
    )
    body = await resp.json()
    assert body["message"].startswith("身份证号码校验位不正确")


async def test_the_live_check_says_nothing_of_an_empty_field(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await node.client.post(
        "/register/check", data=[("field", "org_code")], headers={"X-CSRF-Token": csrf}
    )
    assert (await resp.json())["message"] is None


async def test_the_live_check_names_a_known_region(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await node.client.post(
        "/register/check",
        data=[("field", "org_region_code"), ("org_region_code", "500103")],
        headers={"X-CSRF-Token": csrf},
    )
    assert (await resp.json())["note"] == "500103：渝中区"


async def test_the_live_check_needs_the_csrf_header(node: Node) -> None:
    await sign_in(node)
    resp = await node.client.post("/register/check", data=[("field", "id_number")])
    assert resp.status == 403
