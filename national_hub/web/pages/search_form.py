"""The search form (pure): the values to show again, and each refused field's message in
Chinese. The validation itself is the API's (national_hub.query.search.SearchParams)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

# The form's fields, in the order of GET /v1/physicians' parameters.
FIELDS = ("name", "province", "institution", "category", "scope", "status")
# What the next page keeps besides the form's fields: a page size set in the address
# (/?name=…&limit=50) stays the same from page to page.
_KEPT = (*FIELDS, "limit")

_MESSAGES = {
    "province": "请从列表中选择省份。",
    "institution": "执业机构最多 200 个字，请填写机构全称、常用简称或统一社会信用代码。",
    "category": "请从列表中选择执业类别。",
    "scope": "请从列表中选择执业范围。",
    "status": "请从列表中选择注册状态。",
    "cursor": "翻页链接已失效或不属于本次查询，请重新查询。",
    "limit": "每页条数应在 1 到 100 之间。",
}
NEED_NAME_OR_INSTITUTION = (
    "请填写姓名（至少 2 个字，或至少 2 个拼音字母）或执业机构，两者至少填一项。"
)
NAME_TOO_SHORT = "姓名至少需要 2 个字（拼音至少 2 个字母），空格和间隔号“·”不计。"
NAME_TOO_LONG = "姓名最多 100 个字。"


def form_values(query: Mapping[str, str]) -> dict[str, str]:
    """The form's fields as typed (blank when absent), to show them again."""
    return {name: query.get(name, "") for name in FIELDS}


def submitted(query: Mapping[str, str]) -> bool:
    """Whether the form was sent (it always sends name and institution, perhaps blank); a
    bare address, or one preset by a link (/?province=44), shows the empty form instead."""
    return "name" in query or "institution" in query or "cursor" in query


def field_errors(details: Sequence[Mapping[str, Any]], query: Mapping[str, str]) -> dict[str, str]:
    """{field: message in Chinese} of a refused search (the 400's details name the fields)."""
    errors: dict[str, str] = {}
    for detail in details:
        field = str(detail.get("field", ""))
        if field == "name":
            name = query.get("name", "").strip()
            if not name and not query.get("institution", "").strip():
                errors["name"] = NEED_NAME_OR_INSTITUTION
            elif len(name) > 100:
                errors["name"] = NAME_TOO_LONG
            else:
                errors["name"] = NAME_TOO_SHORT
        elif field in _MESSAGES:
            errors[field] = _MESSAGES[field]
        else:
            errors.setdefault("form", "查询条件无法识别，请检查后重新提交。")
    return errors or {"form": "查询条件无法识别，请检查后重新提交。"}


def page_href(query: Mapping[str, str], cursor: str) -> str:
    """The address of the next page: the same filled-in fields and page size, and the cursor."""
    kept = {name: query[name] for name in _KEPT if query.get(name, "").strip()}
    return "/?" + urlencode({**kept, "cursor": cursor})
