"""Request bodies of the operator API (CONTRACT §4), validated into frozen models."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from province_node.errors import InvalidRequest
from schemas.errors import SchemaError
from schemas.record import (
    CertNo,
    ChangeSet,
    IdNumber,
    Institution,
    IssuingAuthority,
    OrgCode,
    PersonName,
    ProvinceCert,
    ProvinceCode,
    Reason,
    Scopes,
    ShortText,
    end_not_before_start,
    validate_scopes,
)
from schemas.timestamps import utc_now
from schemas.vocab import CancelReason, Category, EventType, Gender, Level

# The CSV form of a registration request (`province-node import`, `generate --out x.csv`):
# one column per field, institutions flattened, scopes joined by ";".
CSV_COLUMNS = (
    "cert_no",
    "name",
    "gender",
    "id_number",
    "level",
    "category",
    "scopes",
    "primary_org_code",
    "primary_org_name",
    "primary_region_code",
    "issuing_authority_name",
    "issuing_authority_region_code",
    "registered_on",
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Registrars work in China Standard Time; a change requested at 07:00 Beijing time is dated that
# day, not the previous UTC day.
_CST = timedelta(hours=8)

# Plausible dates. No practice registration (医师执业注册) is older than the 执业医师法, in force
# since 1999-05-01, and neither is a 定期考核 under it.
EARLIEST_DATE = date(1999, 5, 1)
# A registration or an assessment has happened: its date is at most one day after the node's
# today in China Standard Time, a day's grace for a node or registrar clock a little off around
# midnight. A year like 9999 or 2206 is a typo, and would overflow date arithmetic further on.
FUTURE_GRACE = timedelta(days=1)
# A suspension ends after today, and within 5 years: a penalty suspends for at most a year
# (医师法 2022), and practice suspended for 2 years is itself a ground for cancellation; the
# margin is for suspensions pending proceedings, and what lies beyond it is a typo.
MAX_SUSPENSION_YEARS = 5


def today_cst() -> date:
    """Today's date in China Standard Time."""
    return (utc_now() + _CST).date()


def _today(info: ValidationInfo) -> date:
    # parse_registration and parse_step pass the day they validate against; model_validate
    # called without that context (tools, benchmarks) checks against the node's today.
    context = info.context
    if isinstance(context, dict) and isinstance(context.get("today"), date):
        return context["today"]
    return today_cst()


def _iso_date(value: Any) -> Any:
    # pydantic's lax date parsing also takes timestamps and datetimes; the contract says
    # "YYYY-MM-DD", and a registrar's 20200315 should be refused, not read as 1970-01-01.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _has_happened(value: date, info: ValidationInfo) -> date:
    if value < EARLIEST_DATE:
        raise PydanticCustomError(
            "date_too_early",
            "must not be before {earliest}, when the 执业医师法 came into force",
            {"earliest": EARLIEST_DATE.isoformat()},
        )
    today = _today(info)
    if value > today + FUTURE_GRACE:
        raise PydanticCustomError(
            "date_in_future",
            "must not be in the future (today is {today} in China Standard Time)",
            {"today": today.isoformat()},
        )
    return value


def _suspension_end(value: date, info: ValidationInfo) -> date:
    today = _today(info)
    if value <= today:
        raise PydanticCustomError(
            "suspension_over",
            "must be after today ({today} in China Standard Time): a suspension that is over "
            "suspends nothing",
            {"today": today.isoformat()},
        )
    try:
        latest = today.replace(year=today.year + MAX_SUSPENSION_YEARS)
    except ValueError:  # 29 February
        latest = today.replace(year=today.year + MAX_SUSPENSION_YEARS, day=28)
    if value > latest:
        raise PydanticCustomError(
            "suspension_too_long",
            "must be at most {years} years after today ({today} in China Standard Time)",
            {"years": MAX_SUSPENSION_YEARS, "today": today.isoformat()},
        )
    return value


# The date of something done: a registration, an assessment (EARLIEST_DATE..today + grace).
PastDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_has_happened)]
# The last day of a suspension: after today, within MAX_SUSPENSION_YEARS.
SuspensionEnd = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_suspension_end)]

_FORBID = ConfigDict(frozen=True, extra="forbid")


class RegistrationRequest(BaseModel):
    """POST /v1/registrations: a first registration, re-registration or transfer-in."""

    model_config = _FORBID

    cert_no: CertNo
    name: PersonName
    # id_number comes before gender so the gender check can see the validated ID number.
    id_number: IdNumber
    gender: Gender
    level: Level
    category: Category
    scopes: Scopes
    primary_institution: Institution
    issuing_authority: IssuingAuthority
    registered_on: PastDate
    transfer_from: ProvinceCert | None = None

    @field_validator("gender")
    @classmethod
    def _gender_matches_id(cls, gender: Gender, info: ValidationInfo) -> Gender:
        id_number = info.data.get("id_number")
        if id_number is None:
            return gender
        # id_number is already validated, so its 17th character is a digit: odd means male.
        odd = int(id_number[16]) % 2 == 1
        if gender is not (Gender.MALE if odd else Gender.FEMALE):
            raise PydanticCustomError(
                "gender_mismatch",
                "does not match the ID number (its 17th digit is {parity}, meaning {expected})",
                {"parity": "odd" if odd else "even", "expected": "male" if odd else "female"},
            )
        return gender

    @field_validator("scopes")
    @classmethod
    def _scopes_in_category(cls, scopes: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return validate_scopes(info.data.get("category"), scopes)


class _Step(BaseModel):
    model_config = _FORBID


class ChangeRequested(_Step):
    """变更注册 accepted: the record shows changing until decided."""

    type: Literal["change_requested"]
    changes: ChangeSet


class Changed(_Step):
    """Approve the pending change (no changes) or change directly (changes given)."""

    type: Literal["changed"]
    changes: ChangeSet | None = None


class ChangeRejected(_Step):
    """The pending change is refused."""

    type: Literal["change_rejected"]
    reason: Reason


class SiteFiled(_Step):
    """多机构执业备案: file an additional practice site."""

    type: Literal["site_filed"]
    institution: Institution
    start_date: IsoDate
    end_date: IsoDate | None = None

    _end_after_start = field_validator("end_date")(end_not_before_start)


class SiteWithdrawn(_Step):
    """Withdraw a filed practice site."""

    type: Literal["site_withdrawn"]
    org_code: OrgCode


class Assessed(_Step):
    """定期考核 result; a fail suspends."""

    type: Literal["assessed"]
    result: Literal["pass", "fail"]
    assessed_on: PastDate


class Suspended(_Step):
    """暂停执业 until a date."""

    type: Literal["suspended"]
    reason: Reason
    until: SuspensionEnd


class Reinstated(_Step):
    """Resume practice after a suspension."""

    type: Literal["reinstated"]


class Cancelled(_Step):
    """注销注册 on a legal ground."""

    type: Literal["cancelled"]
    reason: CancelReason


class Revoked(_Step):
    """吊销 by an administrative decision."""

    type: Literal["revoked"]
    reason: Reason
    decision_no: ShortText


class TransferredOut(_Step):
    """The physician moves to another province."""

    type: Literal["transferred_out"]
    to_province: ProvinceCode


StepRequest = Annotated[
    ChangeRequested
    | Changed
    | ChangeRejected
    | SiteFiled
    | SiteWithdrawn
    | Assessed
    | Suspended
    | Reinstated
    | Cancelled
    | Revoked
    | TransferredOut,
    Field(discriminator="type"),
]

_STEP_ADAPTER: TypeAdapter[StepRequest] = TypeAdapter(StepRequest)


def parse_registration(body: Any, *, today: date | None = None) -> RegistrationRequest:
    """Validate a registration body or raise InvalidRequest naming each bad field.

    Dates are checked against `today` (default: today in China Standard Time).
    """
    if not isinstance(body, dict):
        raise InvalidRequest.for_field("body", "must be a JSON object")
    context = {"today": today or today_cst()}
    try:
        return RegistrationRequest.model_validate(body, context=context)
    except ValidationError as exc:
        raise InvalidRequest.from_schema_error(SchemaError.from_validation_error(exc)) from None


def parse_step(body: Any, *, today: date | None = None) -> StepRequest:
    """Validate a lifecycle step body or raise InvalidRequest naming each bad field.

    Dates are checked against `today` (default: today in China Standard Time).
    """
    if not isinstance(body, dict):
        raise InvalidRequest.for_field("body", "must be a JSON object")
    if body.get("type") == EventType.REGISTERED:
        raise InvalidRequest.for_field(
            "type", "registrations are made with POST /v1/registrations, not as a step"
        )
    context = {"today": today or today_cst()}
    try:
        return _STEP_ADAPTER.validate_python(body, context=context)
    except ValidationError as exc:
        raise InvalidRequest.from_schema_error(SchemaError.from_validation_error(exc)) from None


def step_details(step: StepRequest) -> dict[str, Any]:
    """The step's fields other than type: the event's details before wire validation."""
    return step.model_dump(mode="json", exclude={"type"})
