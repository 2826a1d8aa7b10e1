"""Wire models, vocabularies, canonical form and signing shared by province nodes and the hub."""

from schemas.canonical import canonical_bytes
from schemas.errors import KeyFileError, RegsyncError, SchemaError
from schemas.events import (
    DETAILS_BY_TYPE,
    EVENT_ADAPTER,
    EVENT_MODEL_BY_TYPE,
    ChangeSet,
    Event,
    EventBase,
    Heartbeat,
    parse_event,
    parse_heartbeat,
)
from schemas.person_ref import load_secret, person_ref
from schemas.record import (
    Institution,
    IssuingAuthority,
    PendingChange,
    PracticeSite,
    ProvinceCert,
    Record,
    Transfer,
    validate_scopes,
)
from schemas.signing import Signer, Verifier, generate_keypair, key_id, write_keypair
from schemas.timestamps import UtcDatetime, format_utc, utc_now
from schemas.vocab import (
    ALL_SCOPES,
    PROVINCES,
    SCOPES_BY_CATEGORY,
    CancelReason,
    Category,
    EventType,
    Gender,
    Level,
    Status,
)

__all__ = [
    "ALL_SCOPES",
    "DETAILS_BY_TYPE",
    "EVENT_ADAPTER",
    "EVENT_MODEL_BY_TYPE",
    "PROVINCES",
    "SCOPES_BY_CATEGORY",
    "CancelReason",
    "Category",
    "ChangeSet",
    "Event",
    "EventBase",
    "EventType",
    "Gender",
    "Heartbeat",
    "Institution",
    "IssuingAuthority",
    "KeyFileError",
    "Level",
    "PendingChange",
    "PracticeSite",
    "ProvinceCert",
    "Record",
    "RegsyncError",
    "SchemaError",
    "Signer",
    "Status",
    "Transfer",
    "UtcDatetime",
    "Verifier",
    "canonical_bytes",
    "format_utc",
    "generate_keypair",
    "key_id",
    "load_secret",
    "parse_event",
    "parse_heartbeat",
    "person_ref",
    "utc_now",
    "validate_scopes",
    "write_keypair",
]
