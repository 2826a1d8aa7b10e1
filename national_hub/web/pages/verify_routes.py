"""GET /verify (the form) and POST /verify (the verdict page): CONTRACT §5a.

The verdict is the API's own: the form's fields are read by POST /v1/verify's model
(VerifyRequest) and compared by verify_certificate, whose answer carries the signed receipt.
This module only shows that answer: the verdict and each field in words and icons, the notes
(a pending change 变更中 explains a differing institution), the explanation when not found, and
the receipt ready to print with its QR code (receipt_routes.receipt_view).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiMapping
from pydantic import ValidationError

from national_hub.query.receipts import VERDICT_LABELS
from national_hub.query.verify import VerifyRequest, verify_certificate
from national_hub.web.answers import VerifyAnswer
from national_hub.web.appkeys import ALIASES, EXPLAINER, INDEX, RECEIPTS
from national_hub.web.pages.explain_text import ExplainText, Link, explain_text
from national_hub.web.pages.labels import (
    CATEGORY_CHOICES,
    PROVINCE_CHOICES,
    SCOPE_GROUPS,
    category_label,
    province_label,
    status_label,
)
from national_hub.web.pages.page_route import (
    OVERLOADED,
    RATE_LIMITED,
    PageRoute,
    html_response,
)
from national_hub.web.pages.receipt_routes import receipt_view
from national_hub.web.pages.render import render_page
from national_hub.web.params import answer_body
from schemas.openapi import PARSER_400, Operation
from schemas.vocab import MAX_SCOPES

# The form's fields: the names and meanings of POST /v1/verify's body.
TEXT_FIELDS = ("cert_no", "name", "institution", "category", "province")
FIELD_LABELS = {
    "cert_no": "执业证书编码",
    "name": "姓名",
    "institution": "主要执业机构",
    "category": "执业类别",
    "scopes": "执业范围",
    "province": "省份",
    "status": "注册状态",
}
FORM_CHOICES: dict[str, Any] = {
    "provinces": PROVINCE_CHOICES,
    "categories": CATEGORY_CHOICES,
    "scope_groups": SCOPE_GROUPS,
    "max_scopes": MAX_SCOPES,
}


# ---------------------------------------------------------------------------------------------
# The form (pure)


def form_values(form: MultiMapping[Any]) -> dict[str, Any]:
    """The fields as typed, to show them again (scopes: every box ticked); a file sent in a
    field's place is no text and shows as blank."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    values: dict[str, Any] = {name: text(form.get(name, "")) for name in TEXT_FIELDS}
    values["scopes"] = [text(s) for s in form.getall("scopes", [])]
    return values


def request_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """The body POST /v1/verify would get: a field left blank is a field not presented."""
    data: dict[str, Any] = {
        name: values[name]
        for name in TEXT_FIELDS
        if str(values[name]).strip() or name in ("cert_no", "name")
    }
    # cert_no and name are always sent: blank, they are refused by name below.
    scopes = [s for s in values["scopes"] if s.strip()]
    if scopes:
        data["scopes"] = scopes
    return data


def _message(field: str, kind: str, values: Mapping[str, Any]) -> str:
    blank = not str(values.get(field, "")).strip() if field != "scopes" else False
    if field == "cert_no":
        if blank:
            return "请填写执业证书编码（证书上的 15 位数字）。"
        return "执业证书编码应为 15 位数字，请逐位对照证书填写。"
    if field == "name":
        if blank:
            return "请填写姓名。"
        if kind == "string_too_long":
            return "姓名最多 50 个字。"
        return "姓名中有无法识别的字符，请按证书上的姓名填写。"
    if field == "institution":
        if kind == "string_too_long":
            return "主要执业机构最多 200 个字。"
        return "主要执业机构中有无法识别的字符，请填写机构全称、常用简称或统一社会信用代码。"
    if field == "category":
        return "请从列表中选择执业类别。"
    if field == "scopes":
        if kind == "too_long":
            return f"执业范围最多选择 {MAX_SCOPES} 项（证书上最多登记 {MAX_SCOPES} 个执业范围）。"
        return "请从列表中选择执业范围。"
    if field == "province":
        return "请从列表中选择省份。"
    return "提交的内容无法识别，请检查后重新提交。"


def field_errors(exc: ValidationError, values: Mapping[str, Any]) -> dict[str, str]:
    """{field: message in Chinese} of a refused form; "form" when no field is named."""
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in err["loc"]]
        field = loc[0] if loc and loc[0] in FIELD_LABELS else "form"
        errors.setdefault(field, _message(field, str(err["type"]), values))
    return errors


# ---------------------------------------------------------------------------------------------
# The verdict (pure)


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One compared field: what was presented, and whether the registry agrees."""

    name: str
    label: str
    presented: str
    result: str
    result_label: str
    icon: str


@dataclass(frozen=True, slots=True)
class VerdictView:
    """The verdict page's words: title and summary, the rows, the notes, the explanation."""

    verdict: str
    title: str
    summary: str
    icon: str
    cert_no: str
    rows: tuple[FieldRow, ...]
    notes: tuple[str, ...]
    explanation: ExplainText | None


_VERDICT_WORDS = {
    "consistent": ("✓", "您填写的各项信息与全国执业注册记录一致。"),
    "mismatch": ("✗", "您填写的信息与全国执业注册记录不一致，不一致的项目已在下表中标出。"),
    "not_found": ("?", "全国平台没有查到该执业证书编码的注册记录，原因见下方说明。"),
}
_RESULT_WORDS = {"match": ("一致", "✓"), "mismatch": ("不一致", "✗")}

_PENDING = re.compile(r"^(institution|category|scopes) match(?:es)? a pending change$")
_STATUS = re.compile(r"^registration status is (\w+)")
_MOVED = re.compile(r"^the registration moved to province (\d+) as certificate (\d+)$")
_STATUS_MEANING = {
    "changing": "正在办理变更注册（变更中），注册仍然有效。",
    "suspended": "暂停执业期间不得从事医师执业活动。",
    "cancelled": "该注册已注销，不得再以此证书从事医师执业活动。",
    "revoked": "该医师执业证书已被吊销，不得从事医师执业活动。",
    "transferred_out": "该注册已转出到其他省份，以转入省份的新注册为准。",
}


def note_text(note: str) -> str:
    """A note of verify_certificate (English, for API clients) in plain Chinese."""
    if found := _PENDING.match(note):
        label = FIELD_LABELS[found.group(1)]
        return (
            f"您填写的{label}与该医师正在办理的变更（变更中）一致：变更申请尚在审批，"
            f"批准后注册记录中的{label}即会更新。"
        )
    if found := _STATUS.match(note):
        code = found.group(1)
        meaning = _STATUS_MEANING.get(code, "")
        return f"该注册当前的状态为“{status_label(code)}”。{meaning}"
    if found := _MOVED.match(note):
        return (
            f"该注册已转至{province_label(found.group(1))}，新的执业证书编码为 {found.group(2)}。"
        )
    return note


def _presented(name: str, values: Mapping[str, Any]) -> str:
    if name == "scopes":
        return "、".join(s for s in values["scopes"] if s.strip()) or "—"
    if name == "status":
        return "（证书应处于有效状态）"
    text = str(values.get(name, "")).strip()
    if name == "category" and text:
        return category_label(text) if text in {c for c, _ in CATEGORY_CHOICES} else text
    if name == "province" and text:
        return province_label(text)
    return text or "—"


def verdict_view(answer: Mapping[str, Any], values: Mapping[str, Any]) -> VerdictView:
    """The answer of verify_certificate in words, for the person who filled in `values`."""
    verdict = str(answer["verdict"])
    icon, summary = _VERDICT_WORDS[verdict]
    rows = tuple(
        FieldRow(
            name=name,
            label=FIELD_LABELS.get(name, name),
            presented=_presented(name, values),
            result=result,
            result_label=_RESULT_WORDS[result][0],
            icon=_RESULT_WORDS[result][1],
        )
        for name, result in answer["fields"].items()
    )
    explanation = None
    if answer.get("explanation"):
        explanation = explain_text(answer["explanation"], str(answer["cert_no"]))
        if explanation.waiting:
            # The physician page waits and shows the record by itself; this page is the answer
            # to a POST, and reloading it would ask the person to send the form again.
            explanation = dataclasses.replace(
                explanation,
                waiting=False,
                link=Link(
                    "打开该执业证书编码的页面，同步完成后自动显示",
                    f"/physicians/{answer['cert_no']}",
                ),
            )
    return VerdictView(
        verdict=verdict,
        title=VERDICT_LABELS[verdict],
        summary=summary,
        icon=icon,
        cert_no=str(answer["cert_no"]),
        rows=rows,
        notes=tuple(note_text(n) for n in answer.get("notes") or ()),
        explanation=explanation,
    )


# ---------------------------------------------------------------------------------------------
# Handlers


def _context(values: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, Any]:
    return {
        **FORM_CHOICES,
        "nav": "verify",
        "form": values,
        "errors": errors,
        "result": None,
        "receipt": None,
    }


async def verify_form(request: web.Request) -> web.Response:
    """The form, blank."""
    values = form_values(MultiDict())
    return render_page(request, "verify.html", _context(values, {}))


async def verify_page(request: web.Request) -> web.Response:
    """The verdict page of a sent form, or the form with each refused field's message (400)."""
    values = form_values(await request.post())
    try:
        body = VerifyRequest.model_validate(request_data(values))
    except ValidationError as exc:
        return render_page(
            request, "verify.html", _context(values, field_errors(exc, values)), status=400
        )
    app = request.app

    async def explain(cert_no: str) -> dict[str, Any]:
        return answer_body(await app[EXPLAINER].cert(cert_no, body.province))

    answer = await verify_certificate(body, app[INDEX], app[ALIASES], app[RECEIPTS], explain)
    # Validated as the API's answer is, so the page shows what POST /v1/verify would return.
    checked = answer_body(VerifyAnswer(**answer))
    context = _context(values, {})
    context["result"] = verdict_view(checked, values)
    context["receipt"] = receipt_view(
        answer["receipt"],
        app[RECEIPTS].hub_key_document()["public_key"],
        str(request.url.origin()),
    )
    return render_page(request, "verify.html", context)


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/verify",
            "page_verify_form",
            "The certificate verification form (HTML)",
            [html_response(200, "The form")],
            tags=("pages",),
        ),
        verify_form,
        # A constant page.
        admitted=False,
    ),
    PageRoute(
        Operation(
            "POST",
            "/verify",
            "page_verify",
            "The verdict page (HTML) of a form-encoded certificate: the fields of POST /v1/verify "
            "(cert_no, name, institution, category, scopes, province; scopes repeated, at most "
            f"{MAX_SCOPES}), the per-field view, the explanation when not found, the signed "
            "receipt with its QR code",
            [
                html_response(200, "The verdict page"),
                html_response(400, "The form with each refused field's message", PARSER_400),
                html_response(413, "The form is larger than the hub takes"),
                RATE_LIMITED,
                OVERLOADED,
            ],
            tags=("pages",),
        ),
        verify_page,
        # It reads the serving index and may ask nodes (the explanation): it waits its turn
        # like POST /v1/verify.
        admitted=True,
    ),
)
