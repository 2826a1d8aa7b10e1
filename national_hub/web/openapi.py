"""The national hub's OpenAPI 3.1 document (CONTRACT §5), built from the request models and the
answer models below; `python -m national_hub.web.openapi` rewrites docs/openapi/national-hub.json.
"""

from __future__ import annotations

import sys
import types
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field

from national_hub.query.search import SearchParams
from national_hub.query.verify import VerifyRequest
from national_hub.store.reads import STATS_GROUPS
from national_hub.web.answers import (
    Anomalies,
    CertNos,
    DeadLetters,
    Deliveries,
    Enrolled,
    EnrolledCsv,
    ExplainedError,
    Explanation,
    Feed,
    Health,
    History,
    HubKey,
    IngestControl,
    IngestState,
    LagHistory,
    PublicRecord,
    Ready,
    Redelivery,
    Roster,
    RosterState,
    RosterSwitch,
    SearchPage,
    SnapshotControl,
    SnapshotState,
    Stats,
    SyncStatus,
    VerifyAnswer,
    WatchList,
    WebhookCreated,
    Webhooks,
    WebhookUrl,
)
from national_hub.web.pages import page_operations
from national_hub.web.sync_routes import STATIC_FILES
from schemas.openapi import (
    HTML,
    Operation,
    Param,
    Response,
    bearer_scheme,
    build_document,
    error_responses,
    regenerate,
    service_operations,
)
from schemas.record import CertNo, OrgCode, ProvinceCode
from schemas.sync_token import PATTERN as SYNC_TOKEN_PATTERN

NAME = "national-hub"
OPS = "ops"


# -- operations ------------------------------------------------------------------------------------

_ERRORS = {
    400: "A parameter or the body is malformed; the details name it.",
    401: "No token or a malformed Authorization header.",
    403: "The token is not the ops token.",
    404: "No such physician at the hub; the explanation says why.",
    409: "The sync token is not applied yet (after `wait`), or was rejected; with explanation.",
    413: "The request body exceeds 64 KiB.",
    422: "A JSON body whose fields do not validate; the details name each field.",
    429: "Over the per-client rate limit (weighed by cost: a lookup takes 1 token, a search 2, "
    "an explanation asking every node or a short pinyin search 10), or too many failed "
    "authentications.",
    503: "The hub cannot answer now: not ready yet (store or sync status not running), or, "
    "for a public read, overloaded (code `overloaded`, with Retry-After): more reads arrived "
    "than it serves at once and lets wait.",
}
_EXPLAINED = {404: ExplainedError, 409: ExplainedError}


def _errors(*statuses: int) -> list[Response]:
    return error_responses(_ERRORS, statuses, _EXPLAINED)


def _optional(annotation: Any) -> Any:
    """The annotation without its `| None`: a query parameter is absent, never null."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return annotation


def _query(model: type[BaseModel], descriptions: dict[str, str]) -> list[Param]:
    """One query parameter per field of a query model, with the field's constraints."""
    params = []
    for name, info in model.model_fields.items():
        annotation = _optional(info.annotation)
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        params.append(Param(name, "query", annotation, descriptions[name]))
    return params


_CERT_NO = Param("cert_no", "path", CertNo, "执业证书编码, 15 digits")
_PROVINCE = Param("province", "query", ProvinceCode, "a province code of the federation")
_LIMIT = Param("limit", "query", Annotated[int, Field(ge=1, le=1000)], "at most this many")
_TOKEN = Annotated[str, Field(pattern=SYNC_TOKEN_PATTERN)]
_SEARCH_DESCRIPTIONS = {
    "name": "Chinese name or toneless pinyin (≥2 characters); width, spaces, middle dot ignored",
    "province": "a province code",
    "institution": "credit code, full name or a known abbreviation",
    "category": "category code or Chinese label",
    "scope": "practice scope (内科 or 内科专业)",
    "status": "status code or Chinese label",
    "limit": "page size, 1 to 100",
    "cursor": "next_cursor of the previous page",
}
_GROUP = f"({'|'.join(STATS_GROUPS)})"
_PUBLIC = ("public",)
_SYNC = ("sync",)
_OPS_TAGS = ("operations",)


INSTITUTION = "institution"
_WATCH_TAGS = ("employer monitoring",)
_WATCH_ERRORS = {
    400: "A parameter or the body is malformed; the details name it.",
    401: "No institution key, a malformed Authorization header, or a key not in force.",
    403: "The webhook or delivery belongs to another institution.",
    404: "No such webhook, delivery, or watched certificate.",
    409: "The watch list would exceed 50,000 certificates, or 10 webhooks.",
    413: "The body is too large (2 MiB of JSON, 4 MiB of CSV).",
    422: "A JSON body whose fields do not validate; the details name each field.",
    429: "Too many failed authentications from this client.",
}
_WATCH_LIMIT = Param("limit", "query", Annotated[int, Field(ge=1, le=1000)], "at most this many")
_SEQ_CURSOR = Annotated[int, Field(ge=0)]


def _watch(
    method: str, path: str, op_id: str, summary: str, ok: Response, *errors: int, **kw: Any
) -> Operation:
    return Operation(
        method,
        path,
        op_id,
        summary,
        [ok, *error_responses(_WATCH_ERRORS, sorted({401, 429, *errors}))],
        security=[INSTITUTION],
        tags=_WATCH_TAGS,
        **kw,
    )


def watch_operations() -> list[Operation]:
    """Employer monitoring (CONTRACT §7): /v1/watch/* with an institution key."""
    cert = Param("cert_no", "path", CertNo, "certificate number", required=True)
    return [
        _watch("POST", "/v1/watch/certificates", "watch_add", "Watch certificates",
               Response(200, "What was done with each number", Enrolled), 400, 409, 413, 422,
               body=CertNos),
        _watch("POST", "/v1/watch/certificates.csv", "watch_csv",
               "Watch the certificates of a CSV upload (text/csv, the number in the first "
               "column); a bad row is reported with its line and reason",
               Response(200, "What was done, and the rows not read", EnrolledCsv), 409, 413),
        _watch("GET", "/v1/watch/certificates", "watch_list", "The watch list, in number order",
               Response(200, "One page", WatchList), 400,
               params=[Param("after", "query", CertNo, "next_cursor of the previous page"),
                       _WATCH_LIMIT]),
        _watch("DELETE", "/v1/watch/certificates/{cert_no}", "watch_remove",
               "Stop watching a certificate", Response(204, "Removed"), 400, 404,
               params=[cert]),
        _watch("PUT", "/v1/watch/roster", "watch_roster",
               "Watch everyone whose primary institution or filed practice site is yours",
               Response(200, "The roster setting", RosterState), 400, 413, 422,
               body=RosterSwitch),
        _watch("POST", "/v1/watch/webhooks", "webhook_create",
               "Deliver notifications to a URL; the signing secret is shown this once",
               Response(201, "The webhook and its secret", WebhookCreated), 400, 409, 413, 422,
               body=WebhookUrl),
        _watch("GET", "/v1/watch/webhooks", "webhook_list", "The live webhooks",
               Response(200, "The webhooks", Webhooks)),
        _watch("DELETE", "/v1/watch/webhooks/{id}", "webhook_delete", "Delete a webhook",
               Response(204, "Deleted"), 403, 404,
               params=[Param("id", "path", str, "the webhook's id", required=True)]),
        _watch("GET", "/v1/watch/deliveries", "delivery_list", "A webhook's delivery log",
               Response(200, "One page", Deliveries), 400, 403, 404,
               params=[Param("webhook", "query", str, "the webhook's id", required=True),
                       Param("after", "query", _SEQ_CURSOR, "next_cursor of the previous page"),
                       _WATCH_LIMIT]),
        _watch("POST", "/v1/watch/deliveries/{id}/redeliver", "delivery_redeliver",
               "Deliver again (a dead delivery included), from now",
               Response(202, "Back in line", Redelivery), 400, 403, 404,
               params=[Param("id", "path", _SEQ_CURSOR, "the delivery's id", required=True)]),
        _watch("GET", "/v1/watch/feed", "watch_feed",
               "Notifications after a cursor, in order; with wait, long-polls",
               Response(200, "Notifications", Feed), 400,
               params=[Param("after", "query", _SEQ_CURSOR, "next_cursor of the previous answer "
                             "(0 or absent: from the first)"),
                       Param("wait", "query", Annotated[int, Field(ge=0, le=30)],
                             "seconds to wait for a notification when there is none"),
                       _WATCH_LIMIT]),
    ]  # fmt: skip


def operations() -> list[Operation]:
    """Every documented route of the hub's app."""
    search = _query(SearchParams, _SEARCH_DESCRIPTIONS)
    return [
        Operation(
            "GET",
            "/v1/physicians",
            "search_physicians",
            "Cross-province search by name and/or institution",
            [Response(200, "One page", SearchPage), *_errors(400, 429, 503)],
            params=search,
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/v1/physicians/{cert_no}",
            "get_physician",
            "The public record; ?min_token=&wait= waits until a sync token is applied",
            [Response(200, "The record", PublicRecord), *_errors(400, 404, 409, 429, 503)],
            params=[
                _CERT_NO,
                Param("min_token", "query", _TOKEN, "a sync token <province>:<seq>"),
                Param(
                    "wait",
                    "query",
                    Annotated[float, Field(ge=0, le=30)],
                    "seconds to wait for min_token",
                ),
            ],
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/v1/physicians/{cert_no}/history",
            "get_history",
            "The events the hub applied, oldest first",
            [Response(200, "The history", History), *_errors(400, 404, 429, 503)],
            params=[_CERT_NO],
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/v1/physicians/{cert_no}/fhir",
            "physician_fhir",
            "The record as a FHIR R4 Practitioner",
            [
                Response(
                    200,
                    "A FHIR R4 Practitioner resource",
                    {
                        "type": "object",
                        "required": ["resourceType", "id", "identifier"],
                        "properties": {"resourceType": {"const": "Practitioner"}},
                    },
                    "application/fhir+json",
                ),
                *_errors(400, 404, 429, 503),
            ],
            params=[_CERT_NO],
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/v1/institutions/{org_code}/physicians",
            "institution_roster",
            "An institution's physicians: primary staff and filed practice sites",
            [Response(200, "One page", Roster), *_errors(400, 429, 503)],
            params=[
                Param("org_code", "path", OrgCode, "统一社会信用代码"),
                *(p for p in search if p.name not in ("institution", "name")),
            ],
            tags=_PUBLIC,
        ),
        Operation(
            "POST",
            "/v1/verify",
            "verify",
            "Compare the fields printed on a certificate; the answer carries a signed receipt",
            [Response(200, "The verdict", VerifyAnswer), *_errors(400, 413, 422, 429, 503)],
            body=VerifyRequest,
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/.well-known/regsync/hub-key",
            "hub_key",
            "The public key receipts are signed with",
            [Response(200, "Key id and PEM", HubKey), *_errors(429)],
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/v1/stats",
            "stats",
            "Record counts, optionally grouped",
            [Response(200, "Counts", Stats), *_errors(400, 429, 503)],
            params=[
                Param(
                    "group_by",
                    "query",
                    Annotated[
                        str,
                        Field(
                            pattern=f"^({'|'.join(STATS_GROUPS)})(,({'|'.join(STATS_GROUPS)}))*$"
                        ),
                    ],
                    "comma-separated subset of province, category, status",
                )
            ],
            tags=_PUBLIC,
        ),
        Operation(
            "GET",
            "/v1/sync/status",
            "sync_status",
            "Every province's sync status, reason, lag and positions",
            [Response(200, "Sync status", SyncStatus), *_errors(429, 503)],
            tags=_SYNC,
        ),
        Operation(
            "GET",
            "/v1/sync/explain",
            "sync_explain",
            "Why a record (cert_no, optional province) or a sync token (token) is or is not "
            "visible",
            [Response(200, "The explanation", Explanation), *_errors(400, 429, 503)],
            params=[
                Param("cert_no", "query", CertNo, "a certificate number (or give token)"),
                _PROVINCE,
                Param("token", "query", _TOKEN, "a sync token <province>:<seq> (or cert_no)"),
            ],
            tags=_SYNC,
        ),
        Operation(
            "GET",
            "/v1/sync/lag-history",
            "lag_history",
            "Every province's lag sampled every 2 s (memory only)",
            [Response(200, "Lag samples", LagHistory), *_errors(400, 503)],
            params=[Param("minutes", "query", Annotated[int, Field(ge=1, le=30)], "how far back")],
            tags=_SYNC,
        ),
        Operation(
            "GET",
            "/v1/sync/dead-letters",
            "get_dead_letters",
            "Messages the hub refused, newest first",
            [Response(200, "Dead letters", DeadLetters), *_errors(400, 401, 403, 429, 503)],
            params=[_LIMIT, _PROVINCE],
            security=[OPS],
            tags=_OPS_TAGS,
        ),
        Operation(
            "GET",
            "/v1/anomalies",
            "anomalies",
            "One person in force in two provinces; a cert_no claimed by two provinces",
            [Response(200, "Anomalies", Anomalies), *_errors(400, 401, 403, 429, 503)],
            params=[_LIMIT],
            security=[OPS],
            tags=_OPS_TAGS,
        ),
        Operation(
            "GET",
            "/v1/ops/ingest",
            "get_ingest",
            "Whether applying events is paused",
            [Response(200, "Ingest state", IngestState), *_errors(401, 403, 429, 503)],
            security=[OPS],
            tags=_OPS_TAGS,
        ),
        Operation(
            "POST",
            "/v1/ops/ingest",
            "set_ingest",
            "Pause or resume applying events; answers once the consumer follows",
            [Response(200, "Ingest state", IngestState), *_errors(400, 401, 403, 413, 429, 503)],
            body=IngestControl,
            security=[OPS],
            tags=_OPS_TAGS,
        ),
        Operation(
            "POST",
            "/v1/ops/snapshot",
            "start_snapshot",
            "Start a snapshot of the store and index (a new file on the hub's machine); "
            "poll GET for its progress",
            [
                Response(202, "Snapshot started", SnapshotState),
                *_errors(400, 401, 403, 409, 413, 429, 503),
            ],
            body=SnapshotControl,
            security=[OPS],
            tags=_OPS_TAGS,
        ),
        Operation(
            "GET",
            "/v1/ops/snapshot",
            "get_snapshot",
            "The latest snapshot's progress, outcome and offsets",
            [Response(200, "Snapshot state", SnapshotState), *_errors(401, 403, 404, 429, 503)],
            security=[OPS],
            tags=_OPS_TAGS,
        ),
        Operation(
            "GET",
            "/dashboard",
            "dashboard",
            "The ops page (its CSS and script are under /static/)",
            [Response(200, "HTML", {"type": "string"}, HTML)],
            tags=_OPS_TAGS,
        ),
        Operation(
            "GET",
            "/static/{name}",
            "static_file",
            "The dashboard's stylesheet or script",
            [
                Response(
                    200,
                    "The file",
                    {"type": "string"},
                    "text/css",
                    alternatives={"text/javascript": {"type": "string"}},
                ),
                *error_responses({404: "No such file."}, [404]),
            ],
            params=[
                Param(
                    "name",
                    "path",
                    Literal[tuple(STATIC_FILES)],
                    "the file's name",
                    required=True,
                )
            ],
            tags=_OPS_TAGS,
        ),
        # The public site's pages, files and suggestions (national_hub.web.pages).
        *page_operations(),
        *watch_operations(),
        *service_operations(Health, _OPS_TAGS),
        Operation(
            "GET",
            "/readyz",
            "readyz",
            "Readiness: the store is open, ingest holds its partitions and no province is "
            "more than hub.tuning.web.ready_max_lag_s behind; 503 while catching up or "
            "draining after SIGTERM (what a load balancer routes on)",
            [Response(200, "Ready", Ready), *_errors(503)],
            tags=_OPS_TAGS,
        ),
    ]


@cache
def document() -> dict[str, Any]:
    """The hub's OpenAPI document."""
    return build_document(
        title="regsync national hub",
        version="1",
        description=(
            "National search, lookup, certificate verification and sync transparency over every "
            "province's registrations. Public routes need no token and are rate limited per "
            'client; ops routes need the ops token. Errors are {"error": {"code", "message", '
            '"details"}}.'
        ),
        operations=operations(),
        security_schemes={
            OPS: bearer_scheme("The ops token (hub.ops_token_sha256 is its sha256)."),
            INSTITUTION: bearer_scheme(
                "An institution key (national-hub institutions add prints it once)."
            ),
        },
    )


if __name__ == "__main__":
    sys.exit(regenerate(NAME, document, sys.argv[1:]))
