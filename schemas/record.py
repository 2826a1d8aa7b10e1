"""The public registration record and the field types it and the request models share."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.checksums import (
    CREDIT_CODE_CHARS,
    credit_code_valid,
    resident_id_birth_date,
    resident_id_check_char,
)
from schemas.vocab import (
    ALL_SCOPES,
    CATEGORY_LABELS,
    MAX_SCOPES,
    PROVINCES,
    SCOPES_BY_CATEGORY,
    Category,
    Gender,
    Level,
    Status,
)

_DIGITS = frozenset("0123456789")
_LOWER_HEX = frozenset("0123456789abcdef")
# C0 and C1 controls plus DEL: never part of a name, and they corrupt logs and CSV exports.
_CONTROL_CHARS = frozenset(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))


def _cert_no(value: str) -> str:
    if len(value) != 15 or not _DIGITS.issuperset(value):
        raise PydanticCustomError("cert_no_format", "must be 15 digits")
    return value


def _region_code(value: str) -> str:
    if len(value) != 6 or not _DIGITS.issuperset(value):
        raise PydanticCustomError("region_code_format", "must be 6 digits")
    return value


def _province_code(value: str) -> str:
    if value not in PROVINCES:
        raise PydanticCustomError(
            "province_unknown", "unknown province code {code}", {"code": repr(value)}
        )
    return value


def _org_code(value: str) -> str:
    # Institutions' codes are printed in upper case; accepting lower case spares registrars
    # a pointless rejection while keeping one stored form.
    value = value.upper()
    if len(value) != 18:
        raise PydanticCustomError("credit_code_length", "credit code must be 18 characters")
    if not CREDIT_CODE_CHARS.issuperset(value):
        raise PydanticCustomError(
            "credit_code_alphabet",
            "credit code may only contain digits and the letters ABCDEFGHJKLMNPQRTUWXY",
        )
    if not credit_code_valid(value):
        raise PydanticCustomError("credit_code_checksum", "credit code check character is wrong")
    return value


def _id_number(value: str) -> str:
    value = value.upper()
    if len(value) != 18:
        raise PydanticCustomError("id_number_length", "resident ID number must be 18 characters")
    if not _DIGITS.issuperset(value[:17]) or not (value[17] == "X" or value[17] in _DIGITS):
        raise PydanticCustomError(
            "id_number_format", "resident ID number must be 17 digits followed by a digit or X"
        )
    if resident_id_birth_date(value) is None:
        raise PydanticCustomError(
            "id_number_birth_date", "resident ID number has an impossible birth date"
        )
    if resident_id_check_char(value[:17]) != value[17]:
        raise PydanticCustomError(
            "id_number_checksum", "resident ID number check character is wrong"
        )
    return value


def _person_ref(value: str) -> str:
    if len(value) != 64 or not _LOWER_HEX.issuperset(value):
        raise PydanticCustomError("person_ref_format", "must be 64 lower-case hex characters")
    return value


def _no_control_chars(value: str) -> str:
    # isprintable() is a fast C scan that passes almost every real value; only on failure do we
    # look closer, because full-width spaces are "unprintable" yet harmless.
    if not value.isprintable() and not _CONTROL_CHARS.isdisjoint(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return value


# Unicode categories never part of a name: controls (Cc), format characters (Cf: zero-width
# space and joiners, soft hyphen, BOM, and every bidi control such as U+202E RIGHT-TO-LEFT
# OVERRIDE), lone surrogates (Cs) and line/paragraph separators (Zl, Zp). Each is invisible or
# reorders what a reader sees, so 王<U+200B>五 looks like 王五 yet is not found by it. Private-use
# (Co) and not-yet-assigned (Cn) code points stay allowed: registries encode 生僻字 there.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Combining marks one base character may carry: two covers decomposed Vietnamese (ê + ̃) and
# pinyin with tones; more is "zalgo" text that overprints its neighbours.
MAX_COMBINING_MARKS = 2
# Markup: no person's name holds ASCII angle brackets (Chinese names use none; book-title marks
# are 《》), and an institution's official name uses full-width punctuation.
_MARKUP_CHARS = frozenset("<>")


# What nearly every name consists of (CJK ideographs and 〇, ASCII letters and digits, the middle
# dot, brackets, space, hyphen, full stop): none of it is refused below, so one C-level match
# settles most values and only the rest are looked at character by character.
_PLAIN_NAME = re.compile(
    "[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
    "0-9A-Za-z\u00b7()\uff08\uff09 .\\-]*"
)


def _name_chars(value: str) -> str:
    """Refuse invisible, format and bidi characters, markup and stacked combining marks."""
    if _PLAIN_NAME.fullmatch(value):
        return value
    if not _CONTROL_CHARS.isdisjoint(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    if not _MARKUP_CHARS.isdisjoint(value):
        raise PydanticCustomError("markup_characters", "must not contain < or >")
    marks = 0
    for ch in value:
        category = unicodedata.category(ch)
        if category in _INVISIBLE_CATEGORIES:
            raise PydanticCustomError(
                "invisible_characters",
                "must not contain invisible, format or text-direction characters (found U+{code})",
                {"code": f"{ord(ch):04X}"},
            )
        marks = marks + 1 if category[0] == "M" else 0
        if marks > MAX_COMBINING_MARKS:
            raise PydanticCustomError(
                "combining_marks",
                "must not stack more than {max} combining marks on one character",
                {"max": MAX_COMBINING_MARKS},
            )
    return value


CertNo = Annotated[
    str,
    AfterValidator(_cert_no),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{15}$", "description": "执业证书编码"}),
]
RegionCode = Annotated[
    str,
    AfterValidator(_region_code),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{6}$", "description": "GB/T 2260"}),
]
ProvinceCode = Annotated[
    str,
    AfterValidator(_province_code),
    WithJsonSchema({"type": "string", "enum": sorted(PROVINCES)}),
]
OrgCode = Annotated[
    str,
    AfterValidator(_org_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$",
            "description": "统一社会信用代码, GB 32100 check character",
        }
    ),
]
IdNumber = Annotated[
    str,
    AfterValidator(_id_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{17}[0-9Xx]$",
            "description": "居民身份证号码, GB 11643 check character",
        }
    ),
]
PersonRef = Annotated[
    str,
    AfterValidator(_person_ref),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "HMAC-SHA256(federation secret, ID number), hex",
        }
    ),
]
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(_name_chars),
]
OrgName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_name_chars),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control_chars),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_control_chars),
]
Scope = Annotated[str, Field(json_schema_extra={"enum": sorted(ALL_SCOPES)})]
Scopes = Annotated[
    tuple[Scope, ...], Field(json_schema_extra={"minItems": 1, "maxItems": MAX_SCOPES})
]


def validate_scopes(category: Category | None, scopes: Sequence[str]) -> tuple[str, ...]:
    """Check 1..3 distinct scopes, all registrable under category (any category if None)."""
    if not scopes:
        raise PydanticCustomError("scopes_empty", "at least one scope is required")
    if len(scopes) > MAX_SCOPES:
        raise PydanticCustomError(
            "scopes_too_many",
            "at most {max} scopes are allowed, got {count}",
            {"max": MAX_SCOPES, "count": len(scopes)},
        )
    allowed = ALL_SCOPES if category is None else SCOPES_BY_CATEGORY[category]
    seen: set[str] = set()
    for scope in scopes:
        if scope not in allowed:
            if category is None or scope not in ALL_SCOPES:
                raise PydanticCustomError(
                    "scope_unknown", "unknown scope {scope}", {"scope": repr(scope)}
                )
            raise PydanticCustomError(
                "scope_not_in_category",
                "scope {scope} is not registrable under category {category} ({label})",
                {"scope": scope, "category": category.value, "label": CATEGORY_LABELS[category]},
            )
        if scope in seen:
            raise PydanticCustomError(
                "scope_duplicate", "scope {scope} is listed twice", {"scope": scope}
            )
        seen.add(scope)
    return tuple(scopes)


def end_not_before_start(end: date | None, info: ValidationInfo) -> date | None:
    """Field validator for end_date: it may not precede start_date."""
    start = info.data.get("start_date")
    if end is not None and start is not None and end < start:
        raise PydanticCustomError(
            "end_before_start",
            "end_date {end} is before start_date {start}",
            {"end": end.isoformat(), "start": start.isoformat()},
        )
    return end


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Institution(BaseModel):
    """A medical institution identified by its unified social credit code."""

    model_config = _FROZEN

    org_code: OrgCode
    name: OrgName
    region_code: RegionCode


class PracticeSite(BaseModel):
    """An additional institution filed for multi-site practice (多机构执业备案)."""

    model_config = _FROZEN

    org_code: OrgCode
    name: OrgName
    region_code: RegionCode
    start_date: date
    end_date: date | None = None

    _end_after_start = field_validator("end_date")(end_not_before_start)


class IssuingAuthority(BaseModel):
    """The health commission that granted the registration (发证机关)."""

    model_config = _FROZEN

    name: OrgName
    region_code: RegionCode


class ProvinceCert(BaseModel):
    """A certificate as known in one province: where a transferred registration came from."""

    model_config = _FROZEN

    province: ProvinceCode
    cert_no: CertNo


class ChangeSet(BaseModel):
    """Requested or applied changes of a 变更注册; at least one field is set."""

    model_config = _FROZEN

    primary_institution: Institution | None = None
    category: Category | None = None
    scopes: Scopes | None = None
    level: Level | None = None

    @field_validator("scopes")
    @classmethod
    def _scopes(
        cls, scopes: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        # Without a new category the scopes are checked against the record's current one by
        # whoever applies the change; here we can only say they exist.
        if scopes is None:
            return None
        return validate_scopes(info.data.get("category"), scopes)

    @model_validator(mode="after")
    def _not_empty(self) -> ChangeSet:
        if (
            self.primary_institution is None
            and self.category is None
            and self.scopes is None
            and self.level is None
        ):
            raise PydanticCustomError(
                "changes_empty",
                "at least one of primary_institution, category, scopes, level must be set",
            )
        return self


class PendingChange(ChangeSet):
    """A change accepted and awaiting decision; the record shows status changing meanwhile."""

    requested_at: date | None = None


class Transfer(BaseModel):
    """Cross-province link: where a record came from and/or where it went."""

    model_config = _FROZEN

    from_province: ProvinceCode | None = None
    from_cert_no: CertNo | None = None
    to_province: ProvinceCode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Transfer:
        if (self.from_province is None) != (self.from_cert_no is None):
            raise PydanticCustomError(
                "transfer_incomplete", "from_province and from_cert_no must be set together"
            )
        if self.from_province is None and self.to_province is None:
            raise PydanticCustomError(
                "transfer_empty", "set from_province/from_cert_no, to_province, or both"
            )
        return self


class Record(BaseModel):
    """The full public state of one registration, as carried in every event."""

    model_config = _FROZEN

    cert_no: CertNo
    name: PersonName
    gender: Gender
    level: Level
    category: Category
    scopes: Scopes
    primary_institution: Institution
    practice_sites: tuple[PracticeSite, ...] = ()
    status: Status
    status_reason: Reason | None = None
    issuing_authority: IssuingAuthority
    registered_on: date
    last_assessed_on: date | None = None
    next_assessment_due: date | None = None
    suspended_until: date | None = None
    pending_change: PendingChange | None = None
    transfer: Transfer | None = None
    person_ref: PersonRef

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, scopes: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # An invalid category is already reported on its own field; check what we can.
        return validate_scopes(info.data.get("category"), scopes)

    @field_validator("pending_change")
    @classmethod
    def _pending_scopes(
        cls, change: PendingChange | None, info: ValidationInfo
    ) -> PendingChange | None:
        # Scopes changed without a category change must fit the record's current category.
        if change is not None and change.scopes is not None and change.category is None:
            category = info.data.get("category")
            if category is not None:
                validate_scopes(category, change.scopes)
        return change
