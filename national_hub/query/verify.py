"""POST /v1/verify: compare the fields printed on a certificate with the national record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from national_hub.errors import InvalidParameter, UnprocessableBody
from national_hub.ingest.names import normalise_name
from national_hub.query.aliases import AliasTable, alias_key
from national_hub.query.receipts import ReceiptSigner, receipt_payload
from national_hub.query.search import as_org_code, parse_category, parse_scope
from national_hub.store.reads import RecordSource
from schemas.errors import SchemaError
from schemas.record import CertNo, OrgName, PersonName, ProvinceCode
from schemas.vocab import MAX_SCOPES, PROVINCES, STATUS_LABELS, Category, Status

Verdict = Literal["consistent", "mismatch", "not_found"]
FieldResult = Literal["match", "mismatch"]

_PROVINCE_BY_NAME = {name: code for code, name in PROVINCES.items()}


class VerifyRequest(BaseModel):
    """The fields printed on a presented certificate; all but cert_no and name are optional."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cert_no: CertNo
    name: PersonName
    institution: OrgName | None = None
    category: Category | None = None
    scopes: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=MAX_SCOPES)
    province: ProvinceCode | None = None

    @field_validator("cert_no", mode="before")
    @classmethod
    def _strip_cert_no(cls, value: Any) -> Any:
        # Copied from a certificate, the code often arrives with spaces or as a full-width run.
        return normalise_name(value) if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        return parse_category(value) if isinstance(value, str) else value

    @field_validator("scopes", mode="before")
    @classmethod
    def _scopes(cls, value: Any) -> Any:
        if isinstance(value, str):
            # A single scope as printed ("内科专业"), not wrapped in a list.
            value = [value]
        if isinstance(value, list | tuple):
            return [parse_scope(s) if isinstance(s, str) else s for s in value]
        return value

    @field_validator("province", mode="before")
    @classmethod
    def _province(cls, value: Any) -> Any:
        # The certificate prints the authority's province by name (重庆市), clients hold codes.
        if isinstance(value, str):
            value = value.strip()
            return _PROVINCE_BY_NAME.get(value, value)
        return value

    @classmethod
    def from_body(cls, body: bytes) -> VerifyRequest:
        """Parse a JSON body: 400 if it is not a JSON object, 422 naming each bad field."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidParameter.for_field("body", "body must be a JSON object") from None
        if not isinstance(data, dict):
            raise InvalidParameter.for_field("body", "body must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            schema = SchemaError.from_validation_error(exc)
            raise UnprocessableBody(schema.message, schema.details) from None


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing a presented certificate with a stored record."""

    verdict: Verdict
    status: str | None = None
    fields: dict[str, FieldResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _result(ok: bool) -> FieldResult:
    return "match" if ok else "mismatch"


def institution_matches(presented: str, org: Mapping[str, Any], aliases: AliasTable) -> bool:
    """Whether presented (a credit code, full name or abbreviation) designates org."""
    code = as_org_code(presented)
    if code is not None:
        return code == org.get("org_code")
    org_key = alias_key(org.get("name", ""))
    if alias_key(presented) == org_key:
        return True
    entry = aliases.resolve(presented)
    if entry is None:
        return False
    return alias_key(entry.full_name) == org_key or entry.org_code == org.get("org_code")


def _sites_in_force(record: Mapping[str, Any], today: date) -> list[Mapping[str, Any]]:
    sites = record.get("practice_sites") or []
    return [s for s in sites if not s.get("end_date") or date.fromisoformat(s["end_date"]) >= today]


def compare(
    request: VerifyRequest,
    row: Mapping[str, Any] | None,
    aliases: AliasTable,
    today: date | None = None,
) -> Comparison:
    """Compare each presented field with the stored row (record JSON plus province) or None."""
    if row is None:
        return Comparison("not_found")
    record: dict[str, Any] = orjson.loads(row["record"])
    pending: dict[str, Any] = record.get("pending_change") or {}
    fields: dict[str, FieldResult] = {}
    notes: list[str] = []

    fields["name"] = _result(normalise_name(request.name) == normalise_name(record["name"]))

    if request.institution is not None:
        held = [record["primary_institution"], *_sites_in_force(record, today or date.today())]
        fields["institution"] = _result(
            any(institution_matches(request.institution, org, aliases) for org in held)
        )
        new = pending.get("primary_institution")
        if (
            fields["institution"] == "mismatch"
            and new
            and institution_matches(request.institution, new, aliases)
        ):
            notes.append("institution matches a pending change")

    if request.category is not None:
        fields["category"] = _result(request.category.value == record["category"])
        if fields["category"] == "mismatch" and pending.get("category") == request.category.value:
            notes.append("category matches a pending change")

    if request.scopes is not None:
        presented = set(request.scopes)
        fields["scopes"] = _result(presented == set(record["scopes"]))
        if fields["scopes"] == "mismatch" and presented == set(pending.get("scopes") or ()):
            notes.append("scopes match a pending change")

    if request.province is not None:
        fields["province"] = _result(request.province == row["province"])

    status = Status(record["status"])
    # A certificate can match the registry field by field and still not entitle anyone to
    # practise: a signed "consistent" must never vouch for a revoked or cancelled registration.
    if status not in _IN_FORCE:
        fields["status"] = "mismatch"
    if status is not Status.ACTIVE:
        notes.append(f"registration status is {status.value} ({STATUS_LABELS[status]})")
    if row.get("superseded_by_province"):
        notes.append(
            "the registration moved to province "
            f"{row['superseded_by_province']} as certificate {row['superseded_by_cert_no']}"
        )
    verdict: Verdict = "consistent" if all(v == "match" for v in fields.values()) else "mismatch"
    return Comparison(verdict, status.value, fields, notes)


# A pending change (变更中) does not interrupt the registration.
_IN_FORCE = frozenset({Status.ACTIVE, Status.CHANGING})


async def verify_certificate(
    request: VerifyRequest,
    store: RecordSource,
    aliases: AliasTable,
    receipts: ReceiptSigner,
    explain: Callable[[str], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The full answer: verdict, per-field results, notes, explanation if not found, receipt."""
    row = await store.record(request.cert_no)
    outcome = compare(request, row, aliases)
    record_version = None if row is None else int(row["record_version"])
    answer: dict[str, Any] = {
        "verdict": outcome.verdict,
        "cert_no": request.cert_no,
        "province": None if row is None else row["province"],
        "record_version": record_version,
        "status": outcome.status,
        "fields": outcome.fields,
        "notes": outcome.notes,
        "explanation": await explain(request.cert_no) if row is None else None,
    }
    answer["receipt"] = receipts.sign(
        receipt_payload(outcome.verdict, request.cert_no, record_version, status=outcome.status)
    )
    return answer
