"""National search: query-string validation, SQL over the records table, keyset cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from national_hub.errors import BadRequest, InvalidParameter
from national_hub.ingest.names import query_key
from national_hub.query.aliases import AliasTable
from national_hub.store import reads
from national_hub.store.reads import Fetcher
from schemas.checksums import CREDIT_CODE_CHARS, credit_code_valid
from schemas.errors import SchemaError
from schemas.record import ProvinceCode
from schemas.timestamps import format_utc
from schemas.vocab import ALL_SCOPES, CATEGORY_LABELS, STATUS_LABELS, Category, Status

MIN_NAME_CHARS = 2
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def invalid_fields(exc: ValidationError) -> BadRequest:
    """A 400 naming every field pydantic rejected."""
    schema = SchemaError.from_validation_error(exc)
    return BadRequest(schema.message, schema.details, code="invalid_parameter")


# ---------------------------------------------------------------------------------------------
# Vocabulary input: the public types codes or the Chinese labels printed on certificates.

_CATEGORY_BY_TEXT: dict[str, Category] = {
    **{c.value: c for c in Category},
    **{label: c for c, label in CATEGORY_LABELS.items()},
    # Certificates print "临床类别", "中医类别"; 中西医结合 and 民族医 register under 中医.
    **{label + "类别": c for c, label in CATEGORY_LABELS.items()},
    "中西医结合": Category.TCM,
    "民族医": Category.TCM,
}
_STATUS_BY_TEXT: dict[str, Status] = {
    **{s.value: s for s in Status},
    **{label: s for s, label in STATUS_LABELS.items()},
}


def parse_category(text: str) -> Category:
    """Category from its code or Chinese label; PydanticCustomError if unknown."""
    category = _CATEGORY_BY_TEXT.get(text.strip())
    if category is None:
        raise PydanticCustomError(
            "category_unknown",
            "unknown category {value}; use clinical, tcm, dental, public_health or 临床, 中医, "
            "口腔, 公共卫生",
            {"value": repr(text)},
        )
    return category


def parse_status(text: str) -> Status:
    """Status from its code or Chinese label; PydanticCustomError if unknown."""
    status = _STATUS_BY_TEXT.get(text.strip())
    if status is None:
        raise PydanticCustomError(
            "status_unknown",
            "unknown status {value}; use one of {codes}",
            {"value": repr(text), "codes": ", ".join(s.value for s in Status)},
        )
    return status


def parse_scope(text: str) -> str:
    """A scope's official name; "内科" is accepted for "内科专业"."""
    scope = text.strip()
    if scope not in ALL_SCOPES and scope + "专业" in ALL_SCOPES:
        scope += "专业"
    if scope not in ALL_SCOPES:
        raise PydanticCustomError("scope_unknown", "unknown scope {value}", {"value": repr(text)})
    return scope


def as_org_code(text: str) -> str | None:
    """The text as a valid 18-character credit code (upper-cased), or None if it is not one."""
    code = text.strip().upper()
    if len(code) == 18 and CREDIT_CODE_CHARS.issuperset(code) and credit_code_valid(code):
        return code
    return None


# ---------------------------------------------------------------------------------------------
# Parameters


class SearchParams(BaseModel):
    """GET /v1/physicians query parameters, validated; `after` is the decoded cursor position."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str | None = Field(default=None, max_length=100)
    province: ProvinceCode | None = None
    institution: str | None = Field(default=None, max_length=200)
    category: Category | None = None
    scope: str | None = None
    status: Status | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # HTML forms send every field, empty ones as "": that means "no filter", not "match ''".
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        # Blank input is left to _blank_is_absent: before-validators' order is not a contract.
        return parse_category(value) if isinstance(value, str) and value.strip() else value

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return parse_status(value) if isinstance(value, str) and value.strip() else value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str | None) -> str | None:
        return None if value is None else parse_scope(value)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> SearchParams:
        """Validate a query string; InvalidParameter (400) naming the field on any problem."""
        try:
            params = cls.model_validate(dict(query))
        except ValidationError as exc:
            raise invalid_fields(exc) from None
        if params.name is not None and len(query_key(params.name)[1]) < MIN_NAME_CHARS:
            raise InvalidParameter.for_field(
                "name",
                f"name needs at least {MIN_NAME_CHARS} characters, not counting spaces and dots",
            )
        if params.name is None and params.institution is None:
            raise InvalidParameter.for_field(
                "name",
                f"give name (at least {MIN_NAME_CHARS} characters, Chinese or pinyin) "
                "or institution; the registry is not listed unfiltered",
            )
        # Decode now so a bad cursor fails validation, not the query.
        params.after()
        return params

    def fingerprint(self) -> str:
        """Hash of everything that selects and orders rows: a cursor is only valid for it."""
        name = query_key(self.name) if self.name is not None else None
        institution = self.institution
        if institution is not None:
            institution = as_org_code(institution) or institution
        key = [name, institution, self.province, self.category, self.scope, self.status]
        return hashlib.sha256(orjson.dumps(key)).hexdigest()

    def after(self) -> tuple[int, str] | None:
        """The (rank, cert_no) the cursor points after; 400 naming cursor if tampered with."""
        return None if self.cursor is None else decode_cursor(self.cursor, self.fingerprint())


# ---------------------------------------------------------------------------------------------
# Cursors: base64url of [rank, cert_no, check]. The check binds the position to the query, so an
# edited cursor, or one replayed against other filters, is refused instead of silently skipping.


def _cursor_check(fingerprint: str, rank: int, cert_no: str) -> str:
    return hashlib.sha256(f"{fingerprint}|{rank}|{cert_no}".encode()).hexdigest()[:16]


def encode_cursor(rank: int, cert_no: str, fingerprint: str) -> str:
    """The opaque cursor for the page after (rank, cert_no) of the query with fingerprint."""
    raw = orjson.dumps([rank, cert_no, _cursor_check(fingerprint, rank, cert_no)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[int, str]:
    """The (rank, cert_no) in cursor; 400 naming cursor unless it was issued for this query."""
    bad = InvalidParameter.for_field(
        "cursor", "cursor is malformed, altered or belongs to another query"
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or type(value[0]) is not int
        or not isinstance(value[1], str)
        or value[2] != _cursor_check(fingerprint, value[0], value[1])
    ):
        raise bad
    return value[0], value[1]


# ---------------------------------------------------------------------------------------------
# SQL


class _Sql:
    """SQL fragments with their positional args, kept in the order they appear in the text."""

    __slots__ = ("rank_args", "ranks", "where", "where_args")

    def __init__(self) -> None:
        self.ranks: list[tuple[str, int]] = []  # (expression 0..n-1, n)
        self.rank_args: list[Any] = []
        self.where: list[str] = []
        self.where_args: list[Any] = []


def _name_filter(sql: _Sql, name: str) -> None:
    column, key = query_key(name)
    if column == "name_norm":
        sql.where.append("name_norm = ?")
        sql.where_args.append(key)
        sql.ranks.append(("0", 1))
        return
    # Toneless pinyin: the whole key ranks first, a prefix ("zhangw") after it.
    sql.where.append("starts_with(name_pinyin, ?)")
    sql.where_args.append(key)
    sql.ranks.append(("CASE WHEN name_pinyin = ? THEN 0 ELSE 1 END", 2))
    sql.rank_args.append(key)


def institution_names(institution: str, aliases: AliasTable) -> list[str]:
    """The names an institution query stands for: as typed, plus the abbreviation's full name."""
    names = [institution]
    entry = aliases.resolve(institution)
    if entry is not None and entry.full_name != institution:
        names.append(entry.full_name)
    return names


def institution_codes_query(
    params: SearchParams, aliases: AliasTable
) -> tuple[str, list[Any]] | None:
    """SQL for the credit codes an institution name holds as a primary institution, or None.

    Practice sites are stored as codes only, so a search by name reaches them through the codes
    that name has anywhere in the registry. Run first, its answer goes to build_search as
    constants: a subquery there makes DuckDB evaluate the site lists far more slowly.
    """
    if params.institution is None or as_org_code(params.institution) is not None:
        return None
    names = institution_names(params.institution, aliases)
    marks = ", ".join("?" * len(names))
    return f"SELECT DISTINCT org_code FROM records WHERE institution_name IN ({marks})", names


def _institution_filter(
    sql: _Sql, institution: str, aliases: AliasTable, name_codes: Sequence[str]
) -> None:
    code = as_org_code(institution)
    if code is not None:
        # A credit code: the primary institution ranks before a filed practice site.
        sql.where.append("(org_code = ? OR list_contains(site_org_codes, ?))")
        sql.where_args += [code, code]
        sql.ranks.append(("CASE WHEN org_code = ? THEN 0 ELSE 1 END", 2))
        sql.rank_args.append(code)
        return
    names = institution_names(institution, aliases)
    entry = aliases.resolve(institution)
    codes = sorted({*name_codes, *([entry.org_code] if entry and entry.org_code else [])})
    exact = f"institution_name IN ({', '.join('?' * len(names))})"
    exact_args: list[Any] = [*names]
    if codes:
        exact += (
            f" OR org_code IN ({', '.join('?' * len(codes))})"
            " OR list_has_any(site_org_codes, ?::VARCHAR[])"
        )
        exact_args += [*codes, codes]
    exact = f"({exact})"
    if len(institution) < MIN_NAME_CHARS:
        sql.where.append(exact)
        sql.where_args += exact_args
        sql.ranks.append(("0", 1))
        return
    # Substring fallback for partial names (重庆医科大学附属), ranked after exact matches.
    sql.where.append(f"({exact} OR contains(institution_name, ?))")
    sql.where_args += [*exact_args, institution]
    sql.ranks.append((f"CASE WHEN {exact} THEN 0 ELSE 1 END", 2))
    sql.rank_args += exact_args


def build_search(
    params: SearchParams, aliases: AliasTable, name_codes: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """SQL and args selecting one page of (cert_no, hit_rank), in order: limit + 1 rows.

    The extra row tells whether another page follows. Only keys are selected: ordering millions
    of matches with the record JSON attached is several times slower, so run_search fetches the
    page's rows by cert_no afterwards. name_codes: the answer of institution_codes_query.
    """
    sql = _Sql()
    if params.name is not None:
        _name_filter(sql, params.name)
    if params.institution is not None:
        _institution_filter(sql, params.institution, aliases, name_codes)
    for column, value in (
        ("province", params.province),
        ("category", params.category),
        ("status", params.status),
    ):
        if value is not None:
            sql.where.append(f"{column} = ?")
            sql.where_args.append(str(value))
    if params.scope is not None:
        sql.where.append("list_contains(scopes, ?)")
        sql.where_args.append(params.scope)
    # Mixed-radix rank: the name's rank dominates the institution's, so the total order is
    # (rank, cert_no) whatever filters are combined.
    rank = "0"
    for expr, n in sql.ranks:
        rank = f"({rank}) * {n} + ({expr})"
    args: list[Any] = [*sql.rank_args, *sql.where_args]
    where = " AND ".join(sql.where)
    text = (
        "SELECT cert_no, hit_rank FROM ("
        f"SELECT cert_no, {rank} AS hit_rank FROM records WHERE {where}"
        ") AS hits"
    )
    after = params.after()
    if after is not None:
        text += " WHERE hit_rank > ? OR (hit_rank = ? AND cert_no > ?)"
        args += [after[0], after[0], after[1]]
    text += " ORDER BY hit_rank, cert_no LIMIT ?"
    args.append(params.limit + 1)
    return text, args


def public_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as served: the published record without person_ref, plus province and sync facts."""
    record = orjson.loads(row["record"])
    record.pop("person_ref", None)
    record["province"] = row["province"]
    record["record_version"] = row["record_version"]
    record["synced_at"] = format_utc(datetime.fromtimestamp(row["synced_at_ms"] / 1000, UTC))
    # Same shape as the lookup (api.public_record): where a transferred registration went.
    moved_to = row.get("superseded_by_province")
    record["superseded_by"] = (
        {"province": moved_to, "cert_no": row.get("superseded_by_cert_no")} if moved_to else None
    )
    return record


def page(
    keys: list[dict[str, Any]], params: SearchParams
) -> tuple[list[dict[str, Any]], str | None]:
    """Split the limit + 1 keys build_search selected into (the page's keys, next_cursor)."""
    if len(keys) <= params.limit:
        return keys, None
    keys = keys[: params.limit]
    last = keys[-1]
    return keys, encode_cursor(int(last["hit_rank"]), last["cert_no"], params.fingerprint())


async def run_search(
    store: Fetcher, params: SearchParams, aliases: AliasTable
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rows (RECORD_COLUMNS, for public_item) and the next cursor, None on the last."""
    name_codes: list[str] = []
    codes_query = institution_codes_query(params, aliases)
    if codes_query is not None:
        name_codes = [row["org_code"] for row in await store.fetch(*codes_query)]
    keys, next_cursor = page(await store.fetch(*build_search(params, aliases, name_codes)), params)
    if not keys:
        return [], next_cursor
    certs = [key["cert_no"] for key in keys]
    rows = await reads.records(store, certs)
    by_cert = {row["cert_no"]: row for row in rows}
    return [by_cert[c] for c in certs if c in by_cert], next_cursor
