"""GET /v1/suggest?name=… or ?institution=…: what the search form suggests while a person
types (names with counts, institutions with counts, a known abbreviation's full name first).

Cheap by construction (national_hub.index.suggest): one token of the rate limit, no heavy
slot; the page's script waits for a pause in typing and hides the list on any refusal.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from national_hub.errors import InvalidParameter
from national_hub.index import suggest
from national_hub.index.suggest import Suggestion
from national_hub.ingest.names import query_key
from national_hub.web.appkeys import ALIASES, INDEX
from national_hub.web.pages.page_route import PageRoute
from national_hub.web.params import answer_response
from schemas.openapi import Answer, Operation, Param, Response, error_responses

LIMIT = 8
MAX_NAME_CHARS = 50
MAX_INSTITUTION_CHARS = 200


class SuggestItem(Answer):
    """One suggestion."""

    kind: Literal["name", "institution"]
    text: str
    count: int = Field(description=f"shown records carrying it (at most {suggest.COUNT_CAP})")
    capped: bool = Field(description="there are more than `count`")


class Suggestions(Answer):
    """Suggestions for what was typed, best first."""

    items: list[SuggestItem]


def _item(s: Suggestion) -> SuggestItem:
    kind: Literal["name", "institution"] = "name" if s.kind == "name" else "institution"
    return SuggestItem(kind=kind, text=s.text, count=s.count, capped=s.capped)


def _typed(request: web.Request, name: str, most: int) -> str | None:
    raw = request.query.get(name)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if len(text) > most:
        raise InvalidParameter.for_field(name, f"at most {most} characters")
    return text


async def suggest_route(request: web.Request) -> web.Response:
    """Suggestions for ?name= or ?institution= (one of them); 400 naming name otherwise."""
    name = _typed(request, "name", MAX_NAME_CHARS)
    institution = _typed(request, "institution", MAX_INSTITUTION_CHARS)
    index = request.app[INDEX]
    found: list[Suggestion] = []
    if name is not None:
        column, key = query_key(name)
        if key:
            found = await index.suggest(
                lambda con: suggest.name_suggestions(con, column, key, LIMIT)
            )
    elif institution is not None:
        entry = request.app[ALIASES].resolve(institution)
        # An abbreviation (重医附一院) suggests its full name first: what the search will match.
        full = entry.full_name if entry is not None and entry.full_name != institution else None
        found = await index.suggest(
            lambda con: suggest.institution_suggestions(con, institution, LIMIT, first=full)
        )
    else:
        raise InvalidParameter.for_field("name", "give name or institution (what was typed)")
    return answer_response(Suggestions(items=[_item(s) for s in found]))


ROUTES = (
    PageRoute(
        Operation(
            "GET",
            "/v1/suggest",
            "suggest",
            "Suggestions while typing a name or an institution, with counts",
            [
                Response(200, "Suggestions, best first", Suggestions),
                *error_responses(
                    {
                        400: "Neither name nor institution, or too long; the details name it.",
                        429: "Over the per-client rate limit (a suggestion takes 1 token).",
                        503: "Overloaded: retry after Retry-After.",
                    },
                    [400, 429, 503],
                ),
            ],
            params=[
                Param("name", "query", str, "a name typed so far (汉字 or toneless pinyin)"),
                Param(
                    "institution", "query", str, "an institution typed so far (name, abbreviation)"
                ),
            ],
            tags=("pages",),
        ),
        suggest_route,
        # It reads the serving index: it waits its turn (cheap, but not free).
        admitted=True,
    ),
)
