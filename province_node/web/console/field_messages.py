"""The API's per-field refusals in Chinese a registrar can act on (pure).

The API names each bad field as {"field": "primary_institution.org_code", "message": "credit
code check character is wrong"} (province_node.requests, schemas.record, pydantic's own
messages). `chinese(field, message, body)` turns one into a sentence for the form, by two
tables meant to be extended (the lifecycle pages add their fields and messages):

- LABELS: a field path (or its last segment) → what the form calls the field;
- RULES: (field pattern, message pattern) → a sentence; the first rule that matches wins, so
  specific rules come before general ones. A sentence is a template (str.format with the
  message's named groups and `label`) or a function of the match and the request body (the
  ID-number check character says which character the number should end in).

A message no rule knows becomes "<label>填写有误，请核对。": never English on the page (the
English stays in the page's 技术信息). `conflict(code, message)` does the same for a 409
(which names no field): the field it concerns and its sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.checksums import credit_code_check_char, resident_id_check_char
from schemas.vocab import CATEGORY_LABELS, STATUS_LABELS, Category, Status

# What the forms call each field of a request body; a path not listed falls back to its last
# segment ("transfer_from.cert_no" → "cert_no" would be wrong, hence the full paths first).
LABELS: dict[str, str] = {
    "cert_no": "执业证书编码",
    "name": "姓名",
    "gender": "性别",
    "id_number": "身份证号码",
    "level": "执业级别",
    "category": "执业类别",
    "scopes": "执业范围",
    "primary_institution": "主要执业机构",
    "primary_institution.org_code": "主要执业机构的统一社会信用代码",
    "primary_institution.name": "主要执业机构名称",
    "primary_institution.region_code": "主要执业机构所在地区划代码",
    "issuing_authority": "发证机关",
    "issuing_authority.name": "发证机关名称",
    "issuing_authority.region_code": "发证机关所在地区划代码",
    "registered_on": "注册日期",
    "transfer_from": "转出省份和原执业证书编码",
    "transfer_from.province": "转出省份",
    "transfer_from.cert_no": "原执业证书编码",
    "org_code": "统一社会信用代码",
    "region_code": "行政区划代码",
    "province": "省份",
    # The lifecycle actions' forms (action_forms: fields named by the step body's paths).
    "changes": "变更内容",
    "institution": "备案的执业机构",
    "institution.name": "备案机构名称",
    "start_date": "开始日期",
    "end_date": "结束日期",
    "result": "考核结果",
    "assessed_on": "考核日期",
    "reason": "理由",
    "until": "暂停至",
    "decision_no": "行政处罚决定书文号",
    "to_province": "转往省份",
}


def label(field: str) -> str:
    """What the form calls a field (its path, else its last segment, else the path itself)."""
    return LABELS.get(field) or LABELS.get(field.rsplit(".", 1)[-1]) or field


def value_at(body: Mapping[str, Any] | None, field: str) -> Any:
    """The value at a dotted path of a request body, or None."""
    node: Any = body
    for part in field.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


Sentence = str | Callable[[re.Match[str], Any], str]


@dataclass(frozen=True, slots=True)
class Rule:
    """One refusal: which fields (regex on the path), which message (regex), what to say."""

    field: re.Pattern[str]
    message: re.Pattern[str]
    sentence: Sentence


def _rule(field: str, message: str, sentence: Sentence) -> Rule:
    return Rule(re.compile(field), re.compile(message), sentence)


def _id_checksum(_: re.Match[str], value: Any) -> str:
    expected = ""
    if isinstance(value, str) and len(value) == 18 and value[:17].isdigit():
        expected = f"（按 GB 11643 计算应为 {resident_id_check_char(value[:17])}）"
    return f"身份证号码校验位不正确{expected}，请核对最后一位。"


def _credit_checksum(_: re.Match[str], value: Any) -> str:
    expected = ""
    if isinstance(value, str) and len(value) == 18:
        try:
            expected = f"（按 GB 32100 计算应为 {credit_code_check_char(value[:17].upper())}）"
        except ValueError:
            expected = ""
    return f"统一社会信用代码校验位不正确{expected}，请核对最后一位。"


def _scope_category(match: re.Match[str], _: Any) -> str:
    category = CATEGORY_LABELS.get(Category(match["category"]), match["category"])
    return f"“{match['scope']}”不属于{category}类别的执业范围，请在该类别的范围中选择。"


_PARITY = {"odd": "奇数", "even": "偶数"}
_SEX = {"male": "男", "female": "女"}


def _gender(match: re.Match[str], _: Any) -> str:
    return (
        f"性别与身份证号码不符：身份证号码第 17 位为{_PARITY[match['parity']]}，"
        f"应为{_SEX[match['expected']]}。请核对性别或身份证号码。"
    )


ANY = r".*"
REGION = r"(^|\.)region_code$"
ORG = r"(^|\.)org_code$"
CERT = r"(^|\.)cert_no$"
DATES = r"(^|\.)(registered_on|start_date|end_date|assessed_on|until)$"
# Fields the forms offer as a list to choose from.
CHOICES = r"(^|\.)(gender|level|category|province|result|to_province)$"

# First match wins: field-specific rules, then the general ones (missing, too long, choices).
RULES: list[Rule] = [
    # The lifecycle actions' own refusals.
    _rule(r"^changes$", r"at least one of", "请至少填写一项要变更的内容。"),
    _rule(r"^until$", r"must be after today", "暂停至的日期须晚于今天（北京时间）。"),
    _rule(
        r"^until$",
        r"must be at most (?P<years>\d+) years after today",
        "暂停期限最长 {years} 年，请核对暂停至的日期。",
    ),
    _rule(r"^end_date$", r"before start_date|before the start", "结束日期不能早于开始日期。"),
    _rule(r"^to_province$", r"must be another province", "不能转出至本省，请选择其他省份。"),
    _rule(r"^id_number$", r"must be 18 characters", "身份证号码应为 18 位，请核对位数。"),
    _rule(
        r"^id_number$",
        r"17 digits followed by",
        "身份证号码应为 17 位数字加最后一位数字或 X。",
    ),
    _rule(
        r"^id_number$",
        r"impossible birth date",
        "身份证号码中的出生日期（第 7–14 位）不是有效日期，请核对。",
    ),
    _rule(r"^id_number$", r"check character is wrong", _id_checksum),
    _rule(ORG, r"credit code must be 18", "统一社会信用代码应为 18 位，请核对位数。"),
    _rule(
        ORG,
        r"may only contain",
        "统一社会信用代码只能含数字和大写字母（不含 I、O、Z、S、V），请核对。",
    ),
    _rule(ORG, r"check character is wrong", _credit_checksum),
    _rule(REGION, r"must be 6 digits", "{label}应为 6 位数字（GB/T 2260 行政区划代码）。"),
    _rule(CERT, r"must be 15 digits", "{label}应为 15 位数字。"),
    _rule(
        r"^transfer_from\.province$",
        r"must be another province",
        "转出省份不能是本省：本省内的注册请直接办理首次注册或重新注册。",
    ),
    _rule(ANY, r"unknown province code", "请从列表中选择{label}。"),
    _rule(r"^gender$", r"17th digit is (?P<parity>odd|even), meaning (?P<expected>\w+)", _gender),
    _rule(r"scopes$", r"at least one scope", "请至少选择一项执业范围。"),
    _rule(
        r"scopes$",
        r"at most (?P<max>\d+) scopes are allowed, got (?P<count>\d+)",
        "执业范围最多选择 {max} 项，您选择了 {count} 项。",
    ),
    _rule(
        r"scopes$",
        r"scope (?P<scope>\S+) is not registrable under category (?P<category>\w+)",
        _scope_category,
    ),
    _rule(r"scopes", r"unknown scope", "执业范围不在规定的专业目录中，请从列表中选择。"),
    _rule(r"scopes$", r"listed twice", "同一执业范围只能选择一次。"),
    _rule(ANY, r"date written YYYY-MM-DD", "{label}请按“年-月-日”填写，例如 2020-03-15。"),
    _rule(
        DATES,
        r"must not be before (?P<earliest>[\d-]+)",
        "{label}不能早于 {earliest}（《执业医师法》施行之日）。",
    ),
    _rule(DATES, r"must not be in the future", "{label}不能晚于今天。"),
    _rule(ANY, r"^Input should be a valid date", "{label}不是有效的日期，请核对。"),
    _rule(ANY, r"control characters", "{label}中含有控制字符，请删除后重新填写。"),
    _rule(ANY, r"must not contain < or >", "{label}中不能含有 < 或 >。"),
    _rule(ANY, r"invisible, format", "{label}中含有不可见字符，请删除后重新填写。"),
    _rule(ANY, r"combining marks", "{label}中含有过多的组合符号，请核对。"),
    _rule(
        r"^Idempotency-Key$",
        r"already used for a different request",
        "这张表单已提交过不同的内容，未执行任何操作。请核对后再次提交。",
    ),
    _rule(CHOICES, r"^Field required$", "请选择{label}。"),
    _rule(ANY, r"^Field required$", "请填写{label}。"),
    _rule(ANY, r"at least 1 character", "请填写{label}。"),
    _rule(ANY, r"at most (?P<max>\d+) characters?", "{label}最多 {max} 个字。"),
    _rule(ANY, r"^Input should be ", "请从列表中选择{label}。"),
    _rule(ANY, r"^Extra inputs are not permitted$", "表单中有多余的项目「{label}」。"),
]


def chinese(field: str, message: str, body: Mapping[str, Any] | None = None) -> str:
    """The Chinese sentence of one refused field (body: the request, for the values)."""
    name = label(field)
    for rule in RULES:
        if not rule.field.search(field):
            continue
        match = rule.message.search(message)
        if match is None:
            continue
        if isinstance(rule.sentence, str):
            return rule.sentence.format(label=name, **match.groupdict())
        return rule.sentence(match, value_at(body, field))
    return f"{name}填写有误，请核对。"


# -- 409: refusals of the registry's state, which name no field ------------------------------

_ALREADY = re.compile(r"certificate (?P<cert>\d+) is already registered here \(status (?P<s>\w+)")
_OTHER_PERSON = re.compile(r"certificate (?P<cert>\d+) belongs to another person")
_HOLDS = re.compile(r"already holds registration (?P<held>\d+) in province \w+ \(status (?P<s>\w+)")


def _status(raw: str) -> str:
    try:
        return STATUS_LABELS[Status(raw)]
    except ValueError:
        return raw


def conflict(code: str, message: str) -> tuple[str, str]:
    """The field a 409 concerns and its Chinese sentence (the form's top when no field)."""
    if match := _HOLDS.search(message):
        held = match["held"]
        return (
            "id_number",
            f"此身份证号码在本省已持有注册 {held}（{_status(match['s'])}）：一人在一省只能持有"
            f"一个注册。请对 {held} 办理变更、注销或转出，而不是新注册。",
        )
    if match := _ALREADY.search(message):
        return (
            "cert_no",
            f"执业证书编码 {match['cert']} 在本省已有注册（{_status(match['s'])}）：只有已注销"
            f"的注册可以重新注册，已转出的注册可以办理转入。",
        )
    if match := _OTHER_PERSON.search(message):
        return (
            "cert_no",
            f"执业证书编码 {match['cert']} 属于另一人（身份证号码不同）：重新注册必须是同一人。",
        )
    return ("", "当前登记状态不允许此操作，请查看该注册的记录。")


# -- a whole refusal in one sentence (an import's rejected row) --------------------------------

# The importer's own reasons for a row it could not read (province_node.importer).
_ROW_REASONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"(?P<n>\d+) cells but the header has (?P<w>\d+)"),
        "此行有 {n} 列，表头只有 {w} 列。",
    ),
    (re.compile(r"not valid UTF-8"), "此行不是有效的 UTF-8 文本，请以 UTF-8 编码另存文件。"),
    (re.compile(r"malformed JSON"), "此行不是有效的 JSON。"),
    (re.compile(r"one JSON object"), "此行应为一个 JSON 对象。"),
]


def refusal(
    message: str, details: list[dict[str, str]], body: Mapping[str, Any] | None = None
) -> str:
    """One sentence for a whole refusal: each refused field's sentence, else the 409's, else
    the importer's reason for a row it could not read."""
    if details:
        sentences = [chinese(d.get("field", ""), d.get("message", ""), body) for d in details]
        return "".join(dict.fromkeys(sentences))
    for pattern, sentence in _ROW_REASONS:
        if match := pattern.search(message):
            return sentence.format(**match.groupdict())
    return conflict("", message)[1]


def csv_header(missing: list[str], unknown: list[str]) -> str | None:
    """What is wrong with an import file's header, or None when nothing is."""
    parts = []
    if missing:
        parts.append("缺少列 " + "、".join(missing))
    if unknown:
        parts.append("有无法识别的列 " + "、".join(unknown))
    if not parts:
        return None
    return "文件第一行（表头）" + "；".join(parts) + "。请使用下方说明的表头。"
