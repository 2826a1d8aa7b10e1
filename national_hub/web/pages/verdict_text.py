"""The verdict of POST /verify in words (pure): the title and summary, each compared field with
its word and icon (never colour alone), the notes of verify_certificate in plain Chinese, and
the explanation of a number not found."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from national_hub.query.receipts import VERDICT_LABELS
from national_hub.web.pages.explain_text import ExplainText, Link, explain_text
from national_hub.web.pages.labels import (
    CATEGORY_CHOICES,
    category_label,
    province_label,
    status_label,
)
from national_hub.web.pages.verify_form import FIELD_LABELS


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
