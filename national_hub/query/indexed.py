"""National search answered from the serving index (national_hub.index) instead of DuckDB.

The same parameters, rows, order and cursors as run_search in national_hub.query.search:
this module only resolves what the index may not know (name keys, credit codes,
abbreviations, the cursor position) into an IndexQuery, and pages the answer with
search.page. Not used by the routes yet (issue 13 groundwork).
"""

from __future__ import annotations

from typing import Any

from national_hub.index.index import ServingIndex
from national_hub.index.plan import IndexQuery, InstitutionQuery
from national_hub.ingest.names import query_key
from national_hub.query.aliases import AliasTable
from national_hub.query.search import (
    MIN_NAME_CHARS,
    SearchParams,
    as_org_code,
    institution_names,
    page,
)


def institution_query(institution: str, aliases: AliasTable) -> InstitutionQuery:
    """What an institution parameter stands for (build_search's _institution_filter)."""
    code = as_org_code(institution)
    if code is not None:
        return InstitutionQuery(code=code)
    entry = aliases.resolve(institution)
    return InstitutionQuery(
        names=tuple(institution_names(institution, aliases)),
        alias_code=entry.org_code if entry is not None and entry.org_code else None,
        substring=institution if len(institution) >= MIN_NAME_CHARS else None,
    )


def index_query(params: SearchParams, aliases: AliasTable) -> IndexQuery:
    """The IndexQuery of validated search parameters (cursor decoded)."""
    column, key = query_key(params.name) if params.name is not None else (None, None)
    return IndexQuery(
        name_column=column,
        name_key=key,
        institution=(
            institution_query(params.institution, aliases)
            if params.institution is not None
            else None
        ),
        province=str(params.province) if params.province is not None else None,
        category=str(params.category) if params.category is not None else None,
        scope=params.scope,
        status=str(params.status) if params.status is not None else None,
        limit=params.limit,
        after=params.after(),
    )


def page_of(
    keys: list[tuple[str, int]], rows: list[dict[str, Any]], params: SearchParams
) -> tuple[list[dict[str, Any]], str | None]:
    """The page's rows and next cursor from an index answer (search.page does the cursor)."""
    shown, next_cursor = page([{"cert_no": c, "hit_rank": r} for c, r in keys], params)
    return rows[: len(shown)], next_cursor


async def run_indexed_search(
    index: ServingIndex, params: SearchParams, aliases: AliasTable
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rows (for search.public_item) and the next cursor, None on the last."""
    result = await index.search(index_query(params, aliases))
    return page_of(result.keys, result.rows, params)
