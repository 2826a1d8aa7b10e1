"""The ingest path's message types: reason codes, events, heartbeats, dead letters, batches."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import orjson
import pyarrow as pa

from schemas.events import Heartbeat


class RejectReason(StrEnum):
    """Why the hub refused a message.

    The `reason` label of regsync_hub_events_rejected_total and the first word of a dead
    letter's reason text, so ops can group them.
    """

    MALFORMED = "malformed"
    SCHEMA = "schema"
    UNKNOWN_PROVINCE = "unknown_province"
    WRONG_TOPIC = "wrong_topic"
    MISSING_SIGNATURE = "missing_signature"
    MISSING_KID = "missing_kid"
    KID_MISMATCH = "kid_mismatch"
    BAD_SIGNATURE = "bad_signature"
    CERT_CONFLICT = "cert_conflict"
    UNKNOWN_TOPIC = "unknown_topic"
    WRONG_KEY = "wrong_key"
    # An events topic of a province not in the federation file, or a heartbeat whose key names
    # none: there is no key to check the bytes against.
    UNKNOWN_SENDER = "unknown_sender"
    OVERSIZED = "oversized"
    # Signed with a province's previous key, committed after that key's overlap window ended
    # ([[province.previous_keys]] not_after): the key is no longer trusted.
    KEY_RETIRED = "key_retired"
    # Heartbeats signed by the province but not taken (national_hub.store.heartbeats).
    STALE_HEARTBEAT = "stale_heartbeat"
    FUTURE_HEARTBEAT = "future_heartbeat"


# Reasons that mean nobody (of the federation) signed the bytes: they say nothing about the
# province whose topic they came on (messages.DeadLetter.authenticated is False).
# KEY_RETIRED is not one: the signature verified against a key the federation file lists for
# the topic's province ([[province.previous_keys]]), so the message is the province's (most
# often a node still signing with its old key after the window), and its refusal is explained
# (/v1/sync/explain: rejected, key_retired) and counted per province like the others.
UNAUTHENTICATED = frozenset(
    {
        RejectReason.MISSING_SIGNATURE,
        RejectReason.MISSING_KID,
        RejectReason.KID_MISMATCH,
        RejectReason.BAD_SIGNATURE,
        RejectReason.UNKNOWN_TOPIC,
        RejectReason.UNKNOWN_SENDER,
    }
)
# What a dead letter keeps of the message bytes: a prefix, besides the size and a hash of all.
KEPT_BYTES = 4096


# A refused message's bytes are kept for ops, but an ID number must never reach the hub's file.
_ID_KEY = "id_number"
_REDACTED = "[redacted]"
# For bytes that are not JSON: the value after an "id_number" key, quoted or bare.
_ID_VALUE = re.compile(rb'("id_number"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)')


def _redact_value(value: Any) -> bool:
    """Replace every `id_number` value at any depth, in place; True if there was one."""
    found = False
    if isinstance(value, dict):
        for k, v in value.items():
            if k == _ID_KEY:
                value[k] = _REDACTED
                found = True
            elif _redact_value(v):
                found = True
    elif isinstance(value, list):
        for v in value:
            if _redact_value(v):
                found = True
    return found


def redact_id_numbers(raw: bytes) -> tuple[bytes, bool]:
    """The bytes with every `id_number` value replaced by "[redacted]", and whether any was."""
    # Without the key (literally, or behind a JSON escape) there is nothing to parse for.
    if b"id_number" not in raw and b"\\u" not in raw:
        return raw, False
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        if b"id_number" not in raw:
            return raw, False
        out, n = _ID_VALUE.subn(rb'\1"[redacted]"', raw)
        return out, n > 0
    if not _redact_value(doc):
        return raw, False
    return orjson.dumps(doc), True


class RawMessage(Protocol):
    """What the decoder reads of a consumed message (aiokafka's ConsumerRecord fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Raw(NamedTuple):
    """A consumed message reduced to what decoding needs; cheap to send to a worker process."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(slots=True)
class EventMsg:
    """A parsed event whose signature checked out, flattened to what the store writes."""

    topic: str
    partition: int
    offset: int
    key: str | None
    province: str
    seq: int
    type: str
    cert_no: str
    record_version: int
    committed_at: datetime
    event_id: str
    # (province, cert_no) a transfer-in came from.
    transfer_from: tuple[str, str] | None
    # The province a transferred_out record went to (its record's transfer.to_province).
    transfer_to: str | None
    # The record exactly as published, keys sorted (it still holds person_ref).
    record_json: str
    # The record's columns in RECORD_FIELDS order, computed where decoding runs (in parallel).
    fields: tuple[Any, ...]
    # The message bytes; left empty by worker processes and re-attached by the consumer.
    raw: bytes = b""


# Record columns carried in EventMsg.fields, in this order.
RECORD_FIELDS = (
    "status",
    "name",
    "name_norm",
    "name_pinyin",
    "gender",
    "level",
    "category",
    "scopes",
    "org_code",
    "institution_name",
    "region_code",
    "site_org_codes",
    "person_ref",
)


@dataclass(slots=True)
class HeartbeatMsg:
    """A parsed, signature-checked heartbeat."""

    topic: str
    partition: int
    offset: int
    heartbeat: Heartbeat


@dataclass(slots=True)
class DeadLetter:
    """A message the hub refused, and why: the first KEPT_BYTES of it, its size and hash.

    `authenticated`: signed by the key of the province whose topic (or heartbeat key) it came
    on. Bytes nobody signed are anyone's who can write to Kafka: they carry no province
    (`province` is None), and no public answer shows or counts them.
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    code: RejectReason
    detail: str
    raw: bytes
    province: str | None
    is_heartbeat: bool = False
    authenticated: bool = True
    # The event's seq, when its signed bytes said one (explains a sync token's refusal).
    seq: int | None = None
    size: int = field(init=False, default=0)
    sha256: str = field(init=False, default="")

    def __post_init__(self) -> None:
        # Done here so no way of building a dead letter can keep an ID number in its bytes,
        # nor more than a prefix of what a Kafka writer chose to send.
        self.size = len(self.raw)
        whole, redacted = redact_id_numbers(self.raw)
        if redacted:
            self.detail += " (id_number redacted from the stored bytes)"
        self.sha256 = hashlib.sha256(whole).hexdigest()
        self.raw = whole[:KEPT_BYTES]

    @property
    def reason(self) -> str:
        """Reason text as stored and served: '<code>: <detail>'."""
        return f"{self.code}: {self.detail}"


Decoded = EventMsg | HeartbeatMsg | DeadLetter


_TS = pa.timestamp("us", tz="UTC")
_STR_LIST = pa.list_(pa.string())
_FIELD_TYPES = {"scopes": _STR_LIST, "site_org_codes": _STR_LIST}

# Events in columnar form: built where decoding runs, so the single writer only moves Arrow
# columns around instead of touching every value in Python.
EVENT_SCHEMA = pa.schema(
    [
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("key", pa.string()),
        ("province", pa.string()),
        ("seq", pa.int64()),
        ("type", pa.string()),
        ("cert_no", pa.string()),
        ("record_version", pa.int32()),
        ("committed_at", _TS),
        ("event_id", pa.string()),
        ("tf_province", pa.string()),
        ("tf_cert_no", pa.string()),
        ("tf_to", pa.string()),
        ("record", pa.string()),
        *((name, _FIELD_TYPES.get(name, pa.string())) for name in RECORD_FIELDS),
    ]
)


def events_to_arrow(events: Sequence[EventMsg]) -> pa.RecordBatch:
    """Events as one Arrow record batch of EVENT_SCHEMA."""
    columns: list[list[Any]] = [
        [e.topic for e in events],
        [e.partition for e in events],
        [e.offset for e in events],
        [e.key for e in events],
        [e.province for e in events],
        [e.seq for e in events],
        [e.type for e in events],
        [e.cert_no for e in events],
        [e.record_version for e in events],
        [e.committed_at for e in events],
        [e.event_id for e in events],
        [e.transfer_from[0] if e.transfer_from else None for e in events],
        [e.transfer_from[1] if e.transfer_from else None for e in events],
        [e.transfer_to for e in events],
        [e.record_json for e in events],
    ]
    columns.extend(list(col) for col in zip(*(e.fields for e in events), strict=True))
    if not events:
        columns.extend([] for _ in RECORD_FIELDS)
    return pa.RecordBatch.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )


@dataclass(slots=True)
class DecodedPart:
    """A run of decoded messages: events as columns, the rest as objects, and offsets."""

    events: pa.RecordBatch
    # Index, in the decoded input, of each event row: lets the caller re-attach the bytes.
    event_positions: list[int]
    heartbeats: list[HeartbeatMsg]
    dead: list[DeadLetter]
    offsets: dict[tuple[str, int], int]


def to_part(items: Sequence[Decoded]) -> DecodedPart:
    """Split decoded messages into a DecodedPart."""
    events: list[EventMsg] = []
    positions: list[int] = []
    heartbeats: list[HeartbeatMsg] = []
    dead: list[DeadLetter] = []
    offsets: dict[tuple[str, int], int] = {}
    for i, item in enumerate(items):
        if isinstance(item, EventMsg):
            events.append(item)
            positions.append(i)
        elif isinstance(item, HeartbeatMsg):
            heartbeats.append(item)
        else:
            dead.append(item)
        tp = (item.topic, item.partition)
        if offsets.get(tp, -1) <= item.offset:
            offsets[tp] = item.offset + 1
    return DecodedPart(events_to_arrow(events), positions, heartbeats, dead, offsets)


@dataclass(slots=True)
class Batch:
    """What one store transaction applies: events in consumption order, the rest, offsets."""

    events: list[pa.RecordBatch] = field(default_factory=list)
    # The message bytes of each event row, in row order (kept for a conflict's dead letter).
    raws: list[bytes] = field(default_factory=list)
    heartbeats: list[HeartbeatMsg] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # (topic, partition) -> next offset to read once this batch is stored.
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    size: int = 0

    def __len__(self) -> int:
        return self.size

    def add(self, part: DecodedPart, raws: Sequence[bytes]) -> None:
        """Append a decoded part; raws[i] is the bytes of the part's i-th event row."""
        if part.events.num_rows:
            self.events.append(part.events)
            self.raws.extend(raws)
        self.heartbeats.extend(part.heartbeats)
        self.dead.extend(part.dead)
        for tp, nxt in part.offsets.items():
            if self.offsets.get(tp, -1) < nxt:
                self.offsets[tp] = nxt
        self.size += part.events.num_rows + len(part.heartbeats) + len(part.dead)

    def extend(self, items: Sequence[Decoded]) -> None:
        """Append decoded messages (decoded in this process, bytes included)."""
        self.add(to_part(items), [i.raw for i in items if isinstance(i, EventMsg)])

    def cert_nos(self) -> set[str]:
        """The certificates this batch's events are keyed by."""
        certs: set[str] = set()
        for rb in self.events:
            certs.update(rb.column("cert_no").to_pylist())
        return certs

    def since(self, stored: Mapping[tuple[str, int], int]) -> Batch:
        """This batch without the messages below `stored`, a sink's next offset per partition.

        The hub has two exactly-once sinks (the DuckDB store and the serving index) and reads
        each partition from the lower of their offsets, so after a crash between their two
        commits the sink ahead is handed messages it holds already; the ingestor filters
        only while that is so (a row-by-row filter is not free).
        """

        def keep(topic: str, partition: int, offset: int) -> bool:
            return offset >= stored.get((topic, partition), 0)

        out = Batch(
            heartbeats=[h for h in self.heartbeats if keep(h.topic, h.partition, h.offset)],
            dead=[d for d in self.dead if keep(d.topic, d.partition, d.offset)],
            offsets=dict(self.offsets),
        )
        row = 0
        for rb in self.events:
            mask = [
                keep(t, p, o)
                for t, p, o in zip(
                    rb.column("topic").to_pylist(),
                    rb.column("partition").to_pylist(),
                    rb.column("offset").to_pylist(),
                    strict=True,
                )
            ]
            kept = rb.filter(pa.array(mask, pa.bool_()))
            if kept.num_rows:
                out.events.append(kept)
                raws = self.raws[row : row + len(mask)]
                out.raws.extend(r for r, k in zip(raws, mask, strict=True) if k)
            row += len(mask)
        out.size = sum(rb.num_rows for rb in out.events) + len(out.heartbeats) + len(out.dead)
        return out
