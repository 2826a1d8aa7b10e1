"""The verify form (pure): the fields as typed, the body POST /v1/verify would get, and each
refused field's message in Chinese. The validation itself is the API's (VerifyRequest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import MultiMapping
from pydantic import ValidationError

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
