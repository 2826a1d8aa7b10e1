"""Valid sample records and events of every type, for tests and demos."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from schemas.checksums import credit_code_check_char
from schemas.events import EVENT_ADAPTER, Event
from schemas.person_ref import person_ref
from schemas.record import (
    ChangeSet,
    Institution,
    IssuingAuthority,
    PendingChange,
    PracticeSite,
    Record,
    Transfer,
)
from schemas.vocab import (
    CANCEL_REASON_LABELS,
    CancelReason,
    Category,
    EventType,
    Gender,
    Level,
    Status,
)

SAMPLE_SECRET = b"regsync-sample-federation-secret"
SAMPLE_ID_NUMBER = "11010519491231002X"
SAMPLE_CERT_NO = "110500000012345"
# Fixed so samples are identical across runs: tests compare bytes and signatures.
SAMPLE_COMMITTED_AT = datetime(2026, 11, 22, 4, 10, 0, 123000, tzinfo=UTC)
_EVENT_ID_NAMESPACE = UUID("6f1d3c1e-8a55-4c1e-9a57-0b6c2f3e9d10")


def credit_code(first17: str) -> str:
    """Complete a 17-character credit code body with its GB 32100 check character."""
    return first17 + credit_code_check_char(first17)


PRIMARY_INSTITUTION = Institution(
    org_code=credit_code("12500000450400012"),
    name="重庆医科大学附属第一医院",
    region_code="500103",
)
SECOND_INSTITUTION = Institution(
    org_code=credit_code("12500103450400233"),
    name="重庆市渝中区人民医院",
    region_code="500103",
)
ISSUING_AUTHORITY = IssuingAuthority(name="重庆市渝中区卫生健康委员会", region_code="500103")


def sample_record(**overrides: Any) -> Record:
    """Return a valid active clinical record; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "cert_no": SAMPLE_CERT_NO,
        "name": "王小明",
        "gender": Gender.MALE,
        "level": Level.PHYSICIAN,
        "category": Category.CLINICAL,
        "scopes": ("内科专业",),
        "primary_institution": PRIMARY_INSTITUTION,
        "practice_sites": (),
        "status": Status.ACTIVE,
        "status_reason": None,
        "issuing_authority": ISSUING_AUTHORITY,
        "registered_on": date(2020, 3, 15),
        "last_assessed_on": date(2023, 3, 10),
        "next_assessment_due": date(2026, 3, 10),
        "suspended_until": None,
        "pending_change": None,
        "transfer": None,
        "person_ref": person_ref(SAMPLE_SECRET, SAMPLE_ID_NUMBER),
    }
    fields.update(overrides)
    return Record(**fields)


def _other_province(province: str) -> str:
    return "11" if province != "11" else "50"


def _details_and_record(kind: EventType, province: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (details, record overrides) that make a plausible event of the given type."""
    site = SECOND_INSTITUTION
    if kind is EventType.REGISTERED:
        return {}, {}
    if kind is EventType.CHANGE_REQUESTED:
        return (
            {"changes": ChangeSet(primary_institution=site)},
            {
                "status": Status.CHANGING,
                "pending_change": PendingChange(
                    primary_institution=site, requested_at=date(2026, 11, 20)
                ),
            },
        )
    if kind is EventType.CHANGED:
        return {"changes": None}, {"primary_institution": site}
    if kind is EventType.CHANGE_REJECTED:
        return {"reason": "申请材料不全"}, {}
    if kind is EventType.SITE_FILED:
        filed = PracticeSite(
            org_code=site.org_code,
            name=site.name,
            region_code=site.region_code,
            start_date=date(2026, 1, 1),
        )
        return (
            {"institution": site, "start_date": date(2026, 1, 1), "end_date": None},
            {"practice_sites": (filed,)},
        )
    if kind is EventType.SITE_WITHDRAWN:
        return {"org_code": site.org_code}, {}
    if kind is EventType.ASSESSED:
        return (
            {"result": "pass", "assessed_on": date(2026, 3, 1)},
            {"last_assessed_on": date(2026, 3, 1), "next_assessment_due": date(2029, 3, 1)},
        )
    if kind is EventType.SUSPENDED:
        return (
            {"reason": "违反诊疗规范", "until": date(2027, 5, 1)},
            {
                "status": Status.SUSPENDED,
                "status_reason": "违反诊疗规范",
                "suspended_until": date(2027, 5, 1),
            },
        )
    if kind is EventType.REINSTATED:
        return {}, {}
    if kind is EventType.CANCELLED:
        return (
            {"reason": CancelReason.VOLUNTARY},
            {
                "status": Status.CANCELLED,
                "status_reason": CANCEL_REASON_LABELS[CancelReason.VOLUNTARY],
            },
        )
    if kind is EventType.REVOKED:
        return (
            {"reason": "出具虚假医学证明文件", "decision_no": "渝卫医罚〔2026〕12号"},
            {"status": Status.REVOKED, "status_reason": "出具虚假医学证明文件"},
        )
    if kind is EventType.TRANSFERRED_OUT:
        to = _other_province(province)
        return (
            {"to_province": to},
            {"status": Status.TRANSFERRED_OUT, "transfer": Transfer(to_province=to)},
        )
    raise AssertionError(f"unhandled event type {kind}")


def sample_event(
    type: EventType | str,
    seq: int = 1,
    province: str = "50",
    **kw: Any,
) -> Event:
    """Return a valid event of the given type; keyword arguments replace envelope fields."""
    kind = EventType(type)
    details, record_overrides = _details_and_record(kind, province)
    cert_no = kw.pop("cert_no", f"{province}0500000012345")
    fields: dict[str, Any] = {
        "schema_version": 1,
        "event_id": uuid5(_EVENT_ID_NAMESPACE, f"{province}:{seq}:{kind.value}"),
        "province": province,
        "seq": seq,
        "type": kind.value,
        "cert_no": cert_no,
        "record_version": seq,
        "committed_at": SAMPLE_COMMITTED_AT + timedelta(seconds=seq),
        "actor": "registrar",
        "details": details,
    }
    fields.update(kw)
    if "record" not in fields:
        fields["record"] = sample_record(cert_no=cert_no, **record_overrides)
    return EVENT_ADAPTER.validate_python(fields)


def suspension_until(days: int = 180) -> str:
    """An ISO date `days` from today, for a suspension's `until` (nodes refuse past dates)."""
    return (date.today() + timedelta(days=days)).isoformat()
