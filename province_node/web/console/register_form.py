"""The register form (pure): its fields and choices, the API body it stands for, and the API's
refusals placed beside the form's fields in Chinese.

The form's names are flat (`org_code`, `from_province`); the API's body is CONTRACT §4's
POST /v1/registrations. FIELD_PATHS ties the two, both ways: a form becomes a body here, and a
refusal of `primary_institution.org_code` is shown beside `org_code`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from province_node.data.regions import REGIONS
from province_node.web.console import field_messages
from schemas.errors import Details
from schemas.vocab import (
    CATEGORY_LABELS,
    GENDER_LABELS,
    LEVEL_LABELS,
    OTHER_SCOPE,
    PROVINCES,
    SCOPES_BY_CATEGORY,
    Category,
    province_label,
)

# Form field → the API body's path. The transfer fields count only when 转入 is chosen.
FIELD_PATHS: dict[str, str] = {
    "cert_no": "cert_no",
    "name": "name",
    "gender": "gender",
    "id_number": "id_number",
    "level": "level",
    "category": "category",
    "scopes": "scopes",
    "org_code": "primary_institution.org_code",
    "org_name": "primary_institution.name",
    "org_region_code": "primary_institution.region_code",
    "authority_name": "issuing_authority.name",
    "authority_region_code": "issuing_authority.region_code",
    "registered_on": "registered_on",
    "from_province": "transfer_from.province",
    "from_cert_no": "transfer_from.cert_no",
}
_FIELD_OF_PATH = {path: name for name, path in FIELD_PATHS.items()}
# A refusal of a whole object (it is missing) is shown beside its first field.
_FIELD_OF_PATH.update(
    {
        "primary_institution": "org_code",
        "issuing_authority": "authority_name",
        "transfer_from": "from_province",
    }
)
TEXT_FIELDS = tuple(name for name in FIELD_PATHS if name != "scopes")
# Inside the form's 主要执业机构 and 发证机关 groups a field needs no more than these words (the
# messages, read away from the group, name it in full: field_messages.LABELS).
_SHORT_LABELS = {
    "org_code": "统一社会信用代码",
    "org_name": "机构名称",
    "org_region_code": "所在地行政区划代码",
    "authority_name": "机关名称",
    "authority_region_code": "所在地行政区划代码",
}


def form_label(name: str) -> str:
    """What the form writes beside a field."""
    return _SHORT_LABELS.get(name) or field_messages.label(FIELD_PATHS[name])


# 首次注册 (also re-registration after cancellation) or 转入 from another province.
KIND_NEW = "new"
KIND_TRANSFER = "transfer"

GENDERS = [(g.value, label) for g, label in GENDER_LABELS.items()]
LEVELS = [(v.value, label) for v, label in LEVEL_LABELS.items()]
CATEGORIES = [(c.value, label) for c, label in CATEGORY_LABELS.items()]


def scopes_of(category: Category) -> list[str]:
    """The scopes registrable under a category, in a stable order, the open "other" last."""
    return [*sorted(SCOPES_BY_CATEGORY[category] - {OTHER_SCOPE}), OTHER_SCOPE]


# For the form's scope checkboxes: each category's scopes (a scope in two categories, 全科医学,
# appears in both groups; the script shows only the chosen category's group).
SCOPE_GROUPS = [(c.value, label, scopes_of(c)) for c, label in CATEGORY_LABELS.items()]


def other_provinces(own: str) -> list[tuple[str, str]]:
    """The provinces a physician may transfer in from: every one but this."""
    return [(code, province_label(code)) for code in PROVINCES if code != own]


def _regions() -> dict[str, str]:
    table = {}
    for line in REGIONS.splitlines():
        code, _, name = line.partition(" ")
        table[code] = name
    return table


REGION_NAMES = _regions()


def region_note(code: str) -> tuple[bool, str] | None:
    """A region code as the registrar should see it: (known, sentence); None when the code is not
    six digits yet (the parse says what is wrong with it). A code not in the table is not refused
    (the API takes any six digits; a province-level or new code may be missing), only flagged."""
    if len(code) != 6 or not code.isdigit():
        return None
    if code in REGION_NAMES:
        return True, f"{code}：{REGION_NAMES[code]}"
    province = PROVINCES.get(code[:2])
    if province and code.endswith("0000"):
        return True, f"{code}：{province}"
    return False, f"区划代码 {code} 不在本系统的 GB/T 2260 代码表中，请核对后再提交。"


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def entered(form: Any) -> dict[str, Any]:
    """The values to draw the form with again: every text field and the chosen scopes."""
    values: dict[str, Any] = {name: _text(form, name) for name in TEXT_FIELDS}
    values["kind"] = KIND_TRANSFER if _text(form, "kind") == KIND_TRANSFER else KIND_NEW
    values["scopes"] = [s for s in form.getall("scopes", []) if isinstance(s, str)]
    return values


def body_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The POST /v1/registrations body of a form's values; empty fields are absent (the parse
    names them as missing)."""
    body: dict[str, Any] = {}
    for name, path in FIELD_PATHS.items():
        if name.startswith("from_") and values.get("kind") != KIND_TRANSFER:
            continue
        value = values.get(name)
        if name == "scopes":
            body["scopes"] = list(value or [])
            continue
        if not value:
            continue
        node = body
        *parents, leaf = path.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    if values.get("kind") == KIND_TRANSFER and "transfer_from" not in body:
        body["transfer_from"] = {}
    for name in ("primary_institution", "issuing_authority"):
        body.setdefault(name, {})
    return body


def form_field(path: str) -> str:
    """The form field beside which a refusal of this API path is shown ("" for the form's top)."""
    if path in _FIELD_OF_PATH:
        return _FIELD_OF_PATH[path]
    # scopes.0 (one scope refused): beside the scope checkboxes.
    head = path.split(".", 1)[0]
    return _FIELD_OF_PATH.get(head, "")


def field_errors(details: Details, body: Mapping[str, Any]) -> dict[str, str]:
    """Each refused field's Chinese sentence, keyed by the form field (the first per field)."""
    errors: dict[str, str] = {}
    for detail in details:
        path = detail.get("field", "")
        name = form_field(path)
        errors.setdefault(name, field_messages.chinese(path, detail.get("message", ""), body))
    return errors


def ordered(errors: Mapping[str, str], fields: Sequence[str] = tuple(FIELD_PATHS)) -> list[str]:
    """The refused fields in the form's order (the summary at the top lists them so)."""
    return [name for name in fields if name in errors]
