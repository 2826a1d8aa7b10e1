"""The province node's OpenAPI 3.1 document (CONTRACT §4), built from the request models and
the answer models below, and the registrar console's routes as they declare themselves
(province_node.web.console: its pages, forms and scripts' answers, tag console);
`python -m province_node.openapi` rewrites docs/openapi/province-node.json.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Annotated, Any

from pydantic import Field

from province_node.idempotency import HEADER as IDEMPOTENCY_HEADER
from province_node.idempotency import MAX_KEY_LENGTH
from province_node.requests import RegistrationRequest, StepRequest
from schemas.openapi import (
    Answer,
    Named,
    Operation,
    Param,
    Response,
    Seq,
    bearer_scheme,
    build_document,
    error_responses,
    regenerate,
    service_operations,
)
from schemas.record import CertNo, IdNumber, ProvinceCode, Record
from schemas.sync_token import SyncTokenText
from schemas.timestamps import UtcDatetime
from schemas.vocab import Status

NAME = "province-node"
BEARER = "bearer"


# -- answers ---------------------------------------------------------------------------------------


class WriteAnswer(Answer):
    """A committed write: the record after it and the token to wait for at the hub."""

    record: Record
    sync_token: SyncTokenText


class RecordView(Answer):
    """A local record; id_number only for the registrar and viewer roles."""

    record: Record
    record_version: Annotated[int, Field(ge=1)]
    sync_token: SyncTokenText
    id_number: IdNumber | None = None


class SearchPage(Answer):
    """One page of a local search; next_cursor resumes after it (null on the last page)."""

    items: list[RecordView]
    next_cursor: str | None


class KafkaState(Answer):
    """Whether the relay reaches Kafka, and its last error and success."""

    connected: bool
    last_error: str | None
    last_success_at: UtcDatetime | None


class NodeSyncStatus(Answer):
    """Outbox position and Kafka reachability of the node."""

    province: ProvinceCode
    committed_seq: Seq
    published_seq: Seq
    outbox_backlog: Seq
    oldest_unpublished_at: UtcDatetime | None
    kafka: KafkaState


class SyncRecord(Answer):
    """Whether the latest event of one record has reached Kafka, and where."""

    exists: bool
    latest_seq: Seq | None
    record_version: Seq | None
    committed_at: UtcDatetime | None
    published: bool
    published_at: UtcDatetime | None
    partition: Seq | None
    offset: Seq | None


class Health(Answer):
    """Liveness."""

    status: str
    province: ProvinceCode


# -- operations ------------------------------------------------------------------------------------

_ERRORS = {
    400: "The request cannot be read: malformed JSON or a malformed Idempotency-Key header.",
    401: "No token, a malformed Authorization header, or an unknown token.",
    403: "The token's role may not do this.",
    404: "No registration with this cert_no in this province.",
    409: "The step is not allowed from the record's current state, or the cert_no exists.",
    413: "The request body exceeds the node's limit.",
    422: "Well-formed JSON with bad values; the details name each field.",
    429: "Too many failed authentications from this client, or the write queue is full.",
    503: "The registry cannot serve right now (e.g. another process holds the write lock).",
}
_WRITE_HEADERS = {"X-Sync-Token": "the same sync_token as in the body"}


def _errors(*statuses: int) -> list[Response]:
    return error_responses(_ERRORS, statuses)


_CERT_NO = Param("cert_no", "path", CertNo, "执业证书编码, 15 digits")
_IDEMPOTENCY = Param(
    IDEMPOTENCY_HEADER,
    "header",
    Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH, pattern="^[\\x21-\\x7e]+$")],
    "A retry with the same key returns the first answer and commits nothing new (24 h, per role).",
)
_READ_ERRORS = (401, 429, 503)


def operations() -> list[Operation]:
    """Every route of the node's app, as documented."""
    return [
        Operation(
            "POST",
            "/v1/registrations",
            "post_registration",
            "First registration, re-registration or transfer-in",
            [
                Response(
                    201,
                    "Committed",
                    WriteAnswer,
                    headers={**_WRITE_HEADERS, "Location": "the new registration's URL"},
                ),
                *_errors(400, 401, 403, 409, 413, 422, 429, 503),
            ],
            params=[_IDEMPOTENCY],
            body=RegistrationRequest,
            security=[BEARER],
            tags=["registrations"],
        ),
        Operation(
            "GET",
            "/v1/registrations",
            "search_registrations",
            "Local search by name, institution and status",
            [Response(200, "One page of records", SearchPage), *_errors(400, 401, 422, 429, 503)],
            params=[
                Param("name", "query", str, "the physician's name, exactly"),
                Param("institution", "query", str, "primary institution: credit code or name"),
                Param("status", "query", Status, "registration status"),
                Param("limit", "query", Annotated[int, Field(ge=1, le=100)], "page size"),
                Param("cursor", "query", str, "next_cursor of the previous page"),
            ],
            security=[BEARER],
            tags=["registrations"],
        ),
        Operation(
            "GET",
            "/v1/registrations/{cert_no}",
            "get_registration",
            "The local record, with the ID number for registrar and viewer",
            [
                Response(200, "The record", RecordView, headers=_WRITE_HEADERS),
                *_errors(400, 401, 404, 429, 503),
            ],
            params=[_CERT_NO],
            security=[BEARER],
            tags=["registrations"],
        ),
        Operation(
            "POST",
            "/v1/registrations/{cert_no}/events",
            "post_event",
            "One lifecycle step",
            [
                Response(200, "Committed", WriteAnswer, headers=_WRITE_HEADERS),
                *_errors(400, 401, 403, 404, 409, 413, 422, 429, 503),
            ],
            params=[_CERT_NO, _IDEMPOTENCY],
            body=Named("StepRequest", StepRequest),
            security=[BEARER],
            tags=["registrations"],
        ),
        Operation(
            "GET",
            "/v1/sync/status",
            "sync_status",
            "Outbox position and Kafka reachability",
            [Response(200, "The node's sync state", NodeSyncStatus), *_errors(*_READ_ERRORS)],
            security=[BEARER],
            tags=["sync"],
        ),
        Operation(
            "GET",
            "/v1/sync/records/{cert_no}",
            "sync_record",
            "Whether the latest event of a record reached Kafka (exists: false if unknown)",
            [
                Response(200, "The record's publication state", SyncRecord),
                *_errors(400, *_READ_ERRORS),
            ],
            params=[_CERT_NO],
            security=[BEARER],
            tags=["sync"],
        ),
        *service_operations(Health, ["operations"]),
        *_console_operations(),
    ]


# The console is imported inside these two, not at the top: its routes import this module's
# answer models (health_rules: NodeSyncStatus), so a top-level import would be circular.


def _console_operations() -> list[Operation]:
    from province_node.web.console.setup import console_operations

    return console_operations()


def _console_schemes() -> dict[str, Any]:
    from province_node.web.console.operations import SESSION_SCHEME, session_scheme

    return {SESSION_SCHEME: session_scheme()}


@cache
def document() -> dict[str, Any]:
    """The node's OpenAPI document."""
    return build_document(
        title="regsync province node",
        version="1",
        description=(
            "A province's registry of physician practice registrations: writes commit with an "
            "event in a transactional outbox that a relay publishes to Kafka. Errors are "
            '{"error": {"code", "message", "details"}}. The registrar console (tag console) is '
            "served beside the API: its pages, forms and errors are HTML (Chinese), a "
            "signed-in operator's requests carry the session cookie."
        ),
        operations=operations(),
        security_schemes={
            BEARER: bearer_scheme(
                "A token of role registrar (writes and reads), viewer (reads) or hub (reads "
                "without ID numbers, sync state)."
            ),
            **_console_schemes(),
        },
    )


if __name__ == "__main__":
    sys.exit(regenerate(NAME, document, sys.argv[1:]))
