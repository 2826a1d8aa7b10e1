"""The public record as a FHIR R4 Practitioner resource."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from national_hub.ingest.names import has_han
from schemas.timestamps import format_utc
from schemas.vocab import (
    CATEGORY_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    Category,
    Level,
    Status,
)

CERT_NO_SYSTEM = "urn:regsync:cert-no"
ORG_CODE_SYSTEM = "urn:regsync:org-code"
REGION_CODE_SYSTEM = "urn:regsync:region-code"
LEVEL_SYSTEM = "urn:regsync:level"
CATEGORY_SYSTEM = "urn:regsync:category"
SCOPE_SYSTEM = "urn:regsync:scope"
STATUS_SYSTEM = "urn:regsync:status"
EXT_PRIMARY_INSTITUTION = "urn:regsync:fhir:extension:primary-institution"
EXT_PRACTICE_SITE = "urn:regsync:fhir:extension:practice-site"
EXT_REGISTRATION_STATUS = "urn:regsync:fhir:extension:registration-status"

# 复姓: two-character surnames. A name starting with one of these splits after two characters.
COMPOUND_SURNAMES = frozenset(
    """
    欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 闾丘 端木
    百里 呼延 南宫 西门 万俟 澹台 公冶 宗政 濮阳 太叔 申屠 公羊 赫连 第五 拓跋 独孤 司空 司寇
    闻人 东郭 左丘 梁丘 乐正 微生 羊舌 鲜于 仲孙 漆雕 壤驷 公良 谷梁 巫马 亓官 段干 子车 颛孙
    公西 公叔 南门 东门 西乡 呼衍 单于
    """.split()
)

_MIDDLE_DOTS = frozenset("\u00b7\u2022\u2027\u30fb\uff65\u16eb\u2219\u22c5.")


def split_han_name(name: str) -> tuple[str, str] | None:
    """Split a Han name into (family, given); None when it should be carried as text only."""
    name = name.strip()
    # Minority names with a middle dot (买买提·艾力) have no surname in the Han sense, and
    # non-Han names follow rules we cannot guess: text only is the honest rendering.
    if len(name) < 2 or not _MIDDLE_DOTS.isdisjoint(name) or " " in name:
        return None
    if not all(has_han(ch) for ch in name):
        return None
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def _human_name(name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"use": "official", "text": name}
    split = split_han_name(name)
    if split is not None:
        entry["family"], given = split
        entry["given"] = [given]
    return entry


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _org_reference(org: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "identifier": {"system": ORG_CODE_SYSTEM, "value": org["org_code"]},
        "display": org["name"],
    }


def _qualifications(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    cert_identifier = [{"system": CERT_NO_SYSTEM, "value": record["cert_no"]}]
    authority = record["issuing_authority"]
    issuer = {
        "identifier": {"system": REGION_CODE_SYSTEM, "value": authority["region_code"]},
        "display": authority["name"],
    }
    period = {"start": record["registered_on"]}
    level, category = Level(record["level"]), Category(record["category"])
    concepts = [
        _concept(LEVEL_SYSTEM, level.value, LEVEL_LABELS[level]),
        _concept(CATEGORY_SYSTEM, category.value, CATEGORY_LABELS[category]),
        # Scopes are already the official Chinese names; the code and the display coincide.
        *(_concept(SCOPE_SYSTEM, scope, scope) for scope in record["scopes"]),
    ]
    return [
        {"identifier": cert_identifier, "code": code, "period": period, "issuer": issuer}
        for code in concepts
    ]


def _extensions(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = Status(record["status"])
    extensions: list[dict[str, Any]] = [
        {
            "url": EXT_PRIMARY_INSTITUTION,
            "valueReference": _org_reference(record["primary_institution"]),
        },
        {
            "url": EXT_REGISTRATION_STATUS,
            "valueCoding": {
                "system": STATUS_SYSTEM,
                "code": status.value,
                "display": STATUS_LABELS[status],
            },
        },
    ]
    for site in record.get("practice_sites") or ():
        period = {"start": site["start_date"]}
        if site.get("end_date"):
            period["end"] = site["end_date"]
        extensions.append(
            {
                "url": EXT_PRACTICE_SITE,
                "extension": [
                    {"url": "institution", "valueReference": _org_reference(site)},
                    {"url": "period", "valuePeriod": period},
                ],
            }
        )
    return extensions


def to_practitioner(
    record: Mapping[str, Any], province: str, record_version: int, synced_at: datetime | str
) -> dict[str, Any]:
    """Render a published record (JSON form) as a FHIR R4 Practitioner; person_ref is dropped."""
    last_updated = synced_at if isinstance(synced_at, str) else format_utc(synced_at)
    cert_no = record["cert_no"]
    return {
        "resourceType": "Practitioner",
        "id": cert_no,
        "meta": {
            "versionId": str(record_version),
            "lastUpdated": last_updated,
            "source": f"urn:regsync:province:{province}",
        },
        "extension": _extensions(record),
        "identifier": [{"use": "official", "system": CERT_NO_SYSTEM, "value": cert_no}],
        "active": record["status"] == Status.ACTIVE.value,
        "name": [_human_name(record["name"])],
        "gender": record["gender"],
        "qualification": _qualifications(record),
    }
