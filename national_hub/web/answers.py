"""The hub's answer models: what each route returns, and what its OpenAPI document says.

Handlers build these models (so a handler that drifts from the document fails the type check)
and send them with `national_hub.web.params.answer_response`. The explanation models are the
Explainer's own product and live with it in national_hub.sync.explain.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from national_hub.notify.kinds import NotificationKind
from national_hub.query.verify import FieldResult, Verdict
from national_hub.store.reads import STATS_GROUPS
from national_hub.sync.anomalies import (
    CERT_CLAIMED_TWICE,
    PERSON_IN_TWO,
    PERSON_TWICE_IN_ONE,
    UNCONFIRMED_TRANSFER,
)
from national_hub.sync.explain import (
    Evidence,
    Explanation,
    Rejection,
    TransferClaim,
    TransferTarget,
)
from schemas.openapi import Answer, ErrorBody, Seq, absent, inline_enum
from schemas.record import CertNo, OrgCode, ProvinceCert, ProvinceCode, Record
from schemas.timestamps import UtcDatetime
from schemas.vocab import Category, EventType, Status, SyncState

__all__ = [
    "Anomalies",
    "DeadLetters",
    "Evidence",
    "ExplainedError",
    "Explanation",
    "Health",
    "History",
    "HubKey",
    "IngestControl",
    "IngestState",
    "LagHistory",
    "PublicRecord",
    "Ready",
    "Rejection",
    "Roster",
    "SearchPage",
    "SnapshotControl",
    "SnapshotState",
    "Stats",
    "SyncStatus",
    "TransferClaim",
    "TransferTarget",
    "VerifyAnswer",
]

SyncStateField = Annotated[SyncState, inline_enum(SyncState)]


# -- answers ---------------------------------------------------------------------------------------

# The published record as the hub serves it: the record without person_ref, plus where from.
PublicRecord = create_model(  # type: ignore[call-overload]
    "PublicRecord",
    __base__=Answer,
    __doc__="A registration as published nationally: no person_ref, no ID number.",
    **{n: (f.annotation, f) for n, f in Record.model_fields.items() if n != "person_ref"},
    province=(ProvinceCode, ...),
    synced_at=(UtcDatetime, ...),
    record_version=(Annotated[int, Field(ge=1)], ...),
    superseded_by=(ProvinceCert | None, ...),
)


class RosterItem(PublicRecord):
    """A physician of an institution: its primary staff or one with a filed practice site."""

    relation: Literal["primary", "practice_site"]


class Freshness(Answer):
    """How far behind one province the hub is."""

    lag_seconds: float | None
    status: SyncStateField


class SearchPage(Answer):
    """One page of a national search, with every province's freshness."""

    items: list[PublicRecord]
    next_cursor: str | None
    freshness: dict[str, Freshness]


class Roster(Answer):
    """One page of an institution's physicians."""

    org_code: OrgCode
    items: list[RosterItem]
    next_cursor: str | None
    freshness: dict[str, Freshness]


class ExplainedError(ErrorBody):
    """An error with the explanation of why the record or token is not visible."""

    explanation: Explanation | None = Field(
        default=None, description="present whenever the cert_no or token was well-formed"
    )


class HistoryItem(Answer):
    """One event as the hub applied it."""

    type: EventType
    seq: Annotated[int, Field(ge=1)]
    record_version: Annotated[int, Field(ge=1)]
    committed_at: UtcDatetime
    applied_at: UtcDatetime
    province: ProvinceCode


class History(Answer):
    """A record's applied events, oldest first."""

    cert_no: CertNo
    items: list[HistoryItem]


class Receipt(Answer):
    """The exact signed JSON text, its base64 Ed25519 signature and the key id."""

    payload: str
    signature: str
    kid: str


class VerifyAnswer(Answer):
    """The verdict on a presented certificate, field by field, with a signed receipt."""

    verdict: Verdict
    cert_no: CertNo
    province: ProvinceCode | None
    record_version: Annotated[int, Field(ge=1)] | None
    status: Status | None
    fields: dict[str, FieldResult]
    notes: list[str]
    explanation: Explanation | None
    receipt: Receipt


class HubKeyEntry(Answer):
    """One receipt key: the current one, or a retired one that still checks old receipts."""

    kid: str
    public_key: str
    status: Literal["current", "next", "retired"]
    not_before: str | None
    retired_at: str | None


class HubKey(Answer):
    """The key set receipts are checked against: the current key at the top (CONTRACT §5),
    every key, current and retired, in keys; a receipt's kid picks its key."""

    kid: str
    public_key: str
    keys: list[HubKeyEntry]


class StatsItem(Answer):
    """One group's count; only the grouped-by members are present."""

    province: ProvinceCode | None = Field(default=None, exclude_if=absent)
    category: Category | None = Field(default=None, exclude_if=absent)
    status: Status | None = Field(default=None, exclude_if=absent)
    count: Seq


class Stats(Answer):
    """Record counts, grouped as asked."""

    group_by: list[Literal[STATS_GROUPS]]  # type: ignore[valid-type]
    total: Seq
    items: list[StatsItem]


class ProvinceSync(Answer):
    """One province's sync state."""

    province: ProvinceCode
    name: str
    status: SyncStateField
    reason: str
    lag_seconds: float | None
    applied_seq: Seq
    province_committed_seq: Seq | None
    province_published_seq: Seq | None
    outbox_backlog: Seq | None
    consumer_lag_messages: Seq
    last_heartbeat_at: UtcDatetime | None
    dead_letters: Seq
    clock_offset_seconds: float | None = Field(
        default=None, description="the province's clock minus the hub's, from heartbeats"
    )


class SyncStatus(Answer):
    """Every province's sync state."""

    generated_at: UtcDatetime
    provinces: list[ProvinceSync]


class LagSample(Answer):
    """One sampled lag (null while unknown)."""

    t: UtcDatetime
    lag_seconds: float | None


class LagHistory(Answer):
    """Every province's lag, sampled every interval_seconds, oldest first."""

    generated_at: UtcDatetime
    interval_seconds: float
    provinces: dict[str, list[LagSample]]


class AnomalyRecord(Answer):
    """A registration in force of the person behind a person_ref."""

    province: ProvinceCode
    cert_no: CertNo
    name: str
    status: Status


class PersonInTwoProvinces(Answer):
    """One person_ref with a registration in force in more than one province."""

    kind: Literal[PERSON_IN_TWO]  # type: ignore[valid-type]
    person_ref: str
    records: list[AnomalyRecord]


class PersonTwiceInOneProvince(Answer):
    """One person_ref with more than one registration in force in one province."""

    kind: Literal[PERSON_TWICE_IN_ONE]  # type: ignore[valid-type]
    person_ref: str
    records: list[AnomalyRecord]


class UnconfirmedTransfer(Answer):
    """A transfer-in the old province has not confirmed by a transfer out to the new one."""

    kind: Literal[UNCONFIRMED_TRANSFER]  # type: ignore[valid-type]
    old: ProvinceCert = Field(description="the registration the transfer-in names")
    new: ProvinceCert = Field(description="the registration that claims to come from it")
    old_status: Status | None = Field(description="the old record's status; null: not at the hub")
    old_transferred_to: ProvinceCode | None = Field(
        description="where the old record went, if it was transferred out (to another province)"
    )
    claimed_at: UtcDatetime
    reason: str


class CertClaimedTwice(Answer):
    """A cert_no a second province sent without a transfer (dead-lettered as cert_conflict)."""

    kind: Literal[CERT_CLAIMED_TWICE]  # type: ignore[valid-type]
    cert_no: str
    held_by: str | None
    claimed_by: str | None
    events_rejected: Seq
    first_rejected_at: UtcDatetime
    last_rejected_at: UtcDatetime
    reason: str


Anomaly = PersonInTwoProvinces | PersonTwiceInOneProvince | CertClaimedTwice | UnconfirmedTransfer


class Anomalies(Answer):
    """Cross-province anomalies, at most `limit` of each kind."""

    generated_at: UtcDatetime
    items: list[Annotated[Anomaly, Field(discriminator="kind")]]
    counts: dict[str, Seq]


class DeadLetter(Answer):
    """A message the hub refused, and why."""

    topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    received_at: UtcDatetime
    province: str | None = Field(description="null when no province signed it")
    authenticated: bool = Field(
        description="signed by the key of the province whose topic it came on; if not, anyone"
        " who can write to Kafka may have sent it"
    )
    size: Seq = Field(description="bytes of the whole message (the hub keeps the first 4 KiB)")
    sha256: str = Field(description="hex SHA-256 of the whole message (ID numbers redacted)")


class DeadLetters(Answer):
    """Dead letters, newest first."""

    items: list[DeadLetter]


class IngestControl(BaseModel):
    """Pause or resume applying events."""

    model_config = ConfigDict(frozen=True, extra="allow")

    paused: bool


class SnapshotControl(BaseModel):
    """The new snapshot's file name; the hub writes it in `snapshots/` beside its DuckDB file."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str


class SnapshotState(Answer):
    """The latest snapshot this hub process took or is taking (national_hub.snapshot)."""

    out: str = Field(description="the snapshot's path on the hub's machine")
    phase: Literal[
        "waiting", "copying", "verifying", "hashing", "writing", "checking", "done", "failed"
    ]
    done_bytes: int
    total_bytes: int
    error: str | None
    seconds: float | None = Field(description="from start to done or failed")
    records: int | None = Field(description="records in the snapshot, once done")
    offsets: dict[str, int] | None = Field(
        description="the store's next offset per topic:partition in the snapshot, once done"
    )


class IngestState(Answer):
    """Whether applying events is paused, and whether the consumer follows."""

    paused: bool
    in_effect: bool
    ready: bool
    last_error: str | None


class Health(Answer):
    """Liveness."""

    status: Literal["ok"]


class Ready(Answer):
    """Readiness: the store is open and ingest holds its partitions."""

    status: Literal["ready"]
    partitions: Seq


# -- employer monitoring (CONTRACT §7) ---------------------------------------------------------

DeliveryState = Literal["pending", "retrying", "delivered", "dead", "cancelled"]

# A notification's record: the record after the event as published (no person_ref).
NotifiedRecord = create_model(  # type: ignore[call-overload]
    "NotifiedRecord",
    __base__=Answer,
    __doc__="The registration after the event, as published nationally: no person_ref.",
    **{n: (f.annotation, f) for n, f in Record.model_fields.items() if n != "person_ref"},
)


class CertNos(BaseModel):
    """Certificates to watch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cert_nos: list[str] = Field(max_length=50_000, description="certificate numbers (15 digits)")


class RosterSwitch(BaseModel):
    """Watch (or stop watching) everyone whose primary institution or filed site is yours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool


class WebhookUrl(BaseModel):
    """Where to deliver notifications."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=2048, description="https:// (or, for intranets, http://) URL")


class Enrolled(Answer):
    """What an enrolment did with each number."""

    added: list[CertNo]
    already: list[CertNo]
    unknown: list[CertNo] = Field(description="well-formed but not in the national registry")
    invalid: list[str] = Field(description="not a certificate number (15 digits)")


class CsvReject(Answer):
    """A CSV row that was not read, and why."""

    line: Annotated[int, Field(ge=1)]
    reason: str


class EnrolledCsv(Enrolled):
    """What a CSV enrolment did, and the rows it could not read."""

    rejects: list[CsvReject]


class WatchedCert(Answer):
    """A watched certificate."""

    cert_no: CertNo
    enrolled_at: UtcDatetime


class WatchList(Answer):
    """One page of the institution's watch list."""

    items: list[WatchedCert]
    next_cursor: str | None
    count: Annotated[int, Field(ge=0)]
    roster: bool = Field(description="whether the institution also watches its roster")


class RosterState(Answer):
    """Whether the institution watches its roster."""

    enabled: bool


class Webhook(Answer):
    """A live webhook."""

    id: str
    url: str
    created_at: UtcDatetime


class WebhookCreated(Webhook):
    """A new webhook and its signing secret (shown this once)."""

    secret: str


class Webhooks(Answer):
    """The institution's live webhooks."""

    items: list[Webhook]


class DeliveryAttempt(Answer):
    """One call of the webhook."""

    at: UtcDatetime
    status: int | None = Field(description="the HTTP status, null when none came")
    error: str | None
    duration_ms: float


class Delivery(Answer):
    """One notification's delivery to one webhook."""

    id: Annotated[int, Field(ge=1)]
    notification_id: str
    cert_no: CertNo
    state: DeliveryState
    attempts: Annotated[int, Field(ge=0)]
    next_attempt_at: UtcDatetime | None = Field(description="when pending or retrying")
    last_status: int | None
    last_error: str | None
    delivered_at: UtcDatetime | None
    created_at: UtcDatetime
    log: list[DeliveryAttempt]


class Deliveries(Answer):
    """One page of a webhook's delivery log."""

    webhook: str
    items: list[Delivery]
    next_cursor: str | None


class Redelivery(Answer):
    """A delivery put back in line."""

    id: Annotated[int, Field(ge=1)]
    state: Literal["pending"]


class Notification(Answer):
    """A change to a watched registration."""

    id: str = Field(description="the same for the same event and institution: de-duplicate on it")
    event_id: str
    kind: NotificationKind
    cert_no: CertNo
    province: ProvinceCode
    summary: str = Field(description="the change in plain Chinese")
    record: NotifiedRecord
    committed_at: UtcDatetime = Field(description="when the province committed the change")
    created_at: UtcDatetime


class Feed(Answer):
    """Notifications after a cursor, in order."""

    items: list[Notification]
    next_cursor: str = Field(description="pass as ?after= for the next ones")
