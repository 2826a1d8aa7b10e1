"""Events on the province topics, their per-type details, and the node heartbeat."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from schemas.errors import SchemaError
from schemas.record import (
    CertNo,
    ChangeSet,
    Institution,
    OrgCode,
    ProvinceCert,
    ProvinceCode,
    Reason,
    Record,
    ShortText,
    end_not_before_start,
)
from schemas.timestamps import UtcDatetime
from schemas.vocab import CancelReason, EventType

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# Strict so a JSON "12" or true is refused rather than silently turned into a sequence number.
# Bounded by the hub's columns (BIGINT seq, INTEGER record_version): a larger number could
# never be stored, so it is a schema error rather than a stuck partition.
Seq = Annotated[int, Field(ge=1, le=2**63 - 1, strict=True)]
RecordVersion = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
Count = Annotated[int, Field(ge=0, strict=True)]


class RegisteredDetails(BaseModel):
    """First registration, re-registration, or transfer-in (then transfer_from is set)."""

    model_config = _FROZEN

    transfer_from: ProvinceCert | None = None


class ChangeRequestedDetails(BaseModel):
    """A change application accepted; the record is now changing."""

    model_config = _FROZEN

    changes: ChangeSet


class ChangedDetails(BaseModel):
    """A change applied: the pending one approved (changes absent) or a direct change."""

    model_config = _FROZEN

    changes: ChangeSet | None = None


class ChangeRejectedDetails(BaseModel):
    """The pending change was refused."""

    model_config = _FROZEN

    reason: Reason


class SiteFiledDetails(BaseModel):
    """An additional practice site filed."""

    model_config = _FROZEN

    institution: Institution
    start_date: date
    end_date: date | None = None

    _end_after_start = field_validator("end_date")(end_not_before_start)


class SiteWithdrawnDetails(BaseModel):
    """A filed practice site withdrawn."""

    model_config = _FROZEN

    org_code: OrgCode


class AssessedDetails(BaseModel):
    """Result of the 3-yearly assessment (定期考核); a fail suspends."""

    model_config = _FROZEN

    result: Literal["pass", "fail"]
    assessed_on: date


class SuspendedDetails(BaseModel):
    """Practice suspended until a date."""

    model_config = _FROZEN

    reason: Reason
    until: date


class ReinstatedDetails(BaseModel):
    """Practice resumed after a suspension."""

    model_config = _FROZEN


class CancelledDetails(BaseModel):
    """Registration cancelled (注销) on a legal ground."""

    model_config = _FROZEN

    reason: CancelReason


class RevokedDetails(BaseModel):
    """Certificate revoked (吊销) by an administrative decision."""

    model_config = _FROZEN

    reason: Reason
    decision_no: ShortText


class TransferredOutDetails(BaseModel):
    """The record moved to another province, which registers it anew."""

    model_config = _FROZEN

    to_province: ProvinceCode


class EventBase(BaseModel):
    """Envelope fields shared by every event type."""

    model_config = _FROZEN

    schema_version: Literal[1] = 1
    event_id: UUID
    province: ProvinceCode
    seq: Seq
    cert_no: CertNo
    record_version: RecordVersion
    committed_at: UtcDatetime
    actor: ShortText
    record: Record

    @field_validator("record")
    @classmethod
    def _same_cert(cls, record: Record, info: ValidationInfo) -> Record:
        cert_no = info.data.get("cert_no")
        if cert_no is not None and record.cert_no != cert_no:
            raise PydanticCustomError(
                "cert_no_mismatch",
                "record.cert_no {inner} differs from the event's cert_no {outer}",
                {"inner": record.cert_no, "outer": cert_no},
            )
        return record


class RegisteredEvent(EventBase):
    """Event of type registered."""

    type: Literal["registered"]
    details: RegisteredDetails


class ChangeRequestedEvent(EventBase):
    """Event of type change_requested."""

    type: Literal["change_requested"]
    details: ChangeRequestedDetails


class ChangedEvent(EventBase):
    """Event of type changed."""

    type: Literal["changed"]
    details: ChangedDetails


class ChangeRejectedEvent(EventBase):
    """Event of type change_rejected."""

    type: Literal["change_rejected"]
    details: ChangeRejectedDetails


class SiteFiledEvent(EventBase):
    """Event of type site_filed."""

    type: Literal["site_filed"]
    details: SiteFiledDetails


class SiteWithdrawnEvent(EventBase):
    """Event of type site_withdrawn."""

    type: Literal["site_withdrawn"]
    details: SiteWithdrawnDetails


class AssessedEvent(EventBase):
    """Event of type assessed."""

    type: Literal["assessed"]
    details: AssessedDetails


class SuspendedEvent(EventBase):
    """Event of type suspended."""

    type: Literal["suspended"]
    details: SuspendedDetails


class ReinstatedEvent(EventBase):
    """Event of type reinstated."""

    type: Literal["reinstated"]
    details: ReinstatedDetails


class CancelledEvent(EventBase):
    """Event of type cancelled."""

    type: Literal["cancelled"]
    details: CancelledDetails


class RevokedEvent(EventBase):
    """Event of type revoked."""

    type: Literal["revoked"]
    details: RevokedDetails


class TransferredOutEvent(EventBase):
    """Event of type transferred_out."""

    type: Literal["transferred_out"]
    details: TransferredOutDetails


Event = Annotated[
    RegisteredEvent
    | ChangeRequestedEvent
    | ChangedEvent
    | ChangeRejectedEvent
    | SiteFiledEvent
    | SiteWithdrawnEvent
    | AssessedEvent
    | SuspendedEvent
    | ReinstatedEvent
    | CancelledEvent
    | RevokedEvent
    | TransferredOutEvent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_MODEL_BY_TYPE: dict[EventType, type[EventBase]] = {
    EventType.REGISTERED: RegisteredEvent,
    EventType.CHANGE_REQUESTED: ChangeRequestedEvent,
    EventType.CHANGED: ChangedEvent,
    EventType.CHANGE_REJECTED: ChangeRejectedEvent,
    EventType.SITE_FILED: SiteFiledEvent,
    EventType.SITE_WITHDRAWN: SiteWithdrawnEvent,
    EventType.ASSESSED: AssessedEvent,
    EventType.SUSPENDED: SuspendedEvent,
    EventType.REINSTATED: ReinstatedEvent,
    EventType.CANCELLED: CancelledEvent,
    EventType.REVOKED: RevokedEvent,
    EventType.TRANSFERRED_OUT: TransferredOutEvent,
}

DETAILS_BY_TYPE: dict[EventType, type[BaseModel]] = {
    EventType.REGISTERED: RegisteredDetails,
    EventType.CHANGE_REQUESTED: ChangeRequestedDetails,
    EventType.CHANGED: ChangedDetails,
    EventType.CHANGE_REJECTED: ChangeRejectedDetails,
    EventType.SITE_FILED: SiteFiledDetails,
    EventType.SITE_WITHDRAWN: SiteWithdrawnDetails,
    EventType.ASSESSED: AssessedDetails,
    EventType.SUSPENDED: SuspendedDetails,
    EventType.REINSTATED: ReinstatedDetails,
    EventType.CANCELLED: CancelledDetails,
    EventType.REVOKED: RevokedDetails,
    EventType.TRANSFERRED_OUT: TransferredOutDetails,
}


class Heartbeat(BaseModel):
    """Liveness and outbox state a node publishes every second on regsync.heartbeats."""

    model_config = _FROZEN

    province: ProvinceCode
    committed_seq: Count
    published_seq: Count
    outbox_backlog: Count
    oldest_unpublished_at: UtcDatetime | None
    sent_at: UtcDatetime


def parse_event(raw: bytes | str) -> Event:
    """Validate one event from its JSON bytes; raise SchemaError naming each bad field."""
    try:
        return EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise SchemaError.from_validation_error(exc) from exc


def parse_heartbeat(raw: bytes | str) -> Heartbeat:
    """Validate one heartbeat from its JSON bytes; raise SchemaError naming each bad field."""
    try:
        return Heartbeat.model_validate_json(raw)
    except ValidationError as exc:
        raise SchemaError.from_validation_error(exc) from exc
