"""Turning raw Kafka messages into verified events, heartbeats or dead letters, and batches."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson
import pyarrow as pa

from national_hub.config import HubSettings
from national_hub.names import normalise_name, pinyin_key
from schemas.errors import SchemaError
from schemas.events import Heartbeat, RegisteredEvent, parse_event, parse_heartbeat
from schemas.signing import Verifier
from schemas.wire import decode_signature

# Reason codes: the `reason` label of regsync_hub_events_rejected_total and the first word of a
# dead letter's reason text, so ops can group them.
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
    """A message the hub refused, kept with its raw bytes and why."""

    topic: str
    partition: int
    offset: int
    key: str | None
    code: str
    detail: str
    raw: bytes
    province: str | None
    is_heartbeat: bool = False

    def __post_init__(self) -> None:
        # Done here so no way of building a dead letter can keep an ID number in its bytes.
        self.raw, redacted = redact_id_numbers(self.raw)
        if redacted:
            self.detail += " (id_number redacted from the stored bytes)"

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


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", errors="replace")


def _describe_key(key: bytes | None) -> str:
    """'message key "…"' or 'no message key', for a wrong_key reason."""
    return "no message key" if key is None else f"message key {_key_text(key)!r}"


class _Repeated(Exception):
    """A header that must appear once appears more than once."""


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> bytes | None:
    """The value of the header `name`; _Repeated if there are several."""
    found = [v for k, v in headers if k == name]
    if len(found) > 1:
        # Otherwise which of two signatures is checked would depend on header order.
        raise _Repeated(name)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class DecoderSpec:
    """What a Decoder needs, as plain data so it can be sent to a worker process."""

    topic_prefix: str
    heartbeats_topic: str
    # (province code, public key PEM) of every configured province.
    keys: tuple[tuple[str, str], ...]

    @classmethod
    def from_settings(cls, settings: HubSettings) -> DecoderSpec:
        """The spec of a hub's settings."""
        return cls(
            topic_prefix=settings.kafka.topic_prefix,
            heartbeats_topic=settings.kafka.heartbeats_topic,
            keys=tuple((code, p.verifier.public_pem) for code, p in settings.provinces.items()),
        )


class Decoder:
    """Validates and authenticates messages for one hub configuration; thread-safe."""

    def __init__(self, spec: DecoderSpec) -> None:
        self._events_prefix = f"{spec.topic_prefix}.events."
        self._heartbeats_topic = spec.heartbeats_topic
        self._verifiers: Mapping[str, Verifier] = {
            code: Verifier.load(pem) for code, pem in spec.keys
        }
        self._kid_owner = {v.kid: code for code, v in self._verifiers.items()}

    def topic_province(self, topic: str) -> str | None:
        """The province code of a `<prefix>.events.<NN>` topic, else None."""
        if topic.startswith(self._events_prefix):
            code = topic[len(self._events_prefix) :]
            if len(code) == 2 and code.isdigit():
                return code
        return None

    def decode_many(self, messages: Iterable[RawMessage]) -> list[Decoded]:
        """Decode messages in order; never raises for bad input."""
        return [self.decode(m) for m in messages]

    def decode(self, msg: RawMessage) -> Decoded:
        """Decode one message into an event, a heartbeat or a dead letter."""
        if msg.topic == self._heartbeats_topic:
            return self._heartbeat(msg)
        return self._event(msg)

    def _dead(
        self, msg: RawMessage, code: str, detail: str, province: str | None, hb: bool = False
    ) -> DeadLetter:
        return DeadLetter(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=_key_text(msg.key),
            code=code,
            detail=detail,
            raw=msg.value or b"",
            province=province,
            is_heartbeat=hb,
        )

    def _check_signature(
        self, msg: RawMessage, province: str, hb: bool = False
    ) -> DeadLetter | None:
        """None when the message is signed by the province's configured key; else why not."""
        headers = msg.headers or ()
        verifier = self._verifiers[province]
        try:
            kid_raw = _header(headers, "kid")
            sig_raw = _header(headers, "sig")
        except _Repeated as exc:
            code = KID_MISMATCH if str(exc) == "kid" else BAD_SIGNATURE
            return self._dead(msg, code, f"more than one {exc} header", province, hb)
        if sig_raw is None:
            return self._dead(msg, MISSING_SIGNATURE, "no sig header", province, hb)
        if kid_raw is None:
            return self._dead(msg, MISSING_KID, "no kid header", province, hb)
        kid = kid_raw.decode("ascii", errors="replace")
        if kid != verifier.kid:
            owner = self._kid_owner.get(kid)
            whose = f"province {owner}'s key" if owner else "a key unknown to the hub"
            return self._dead(
                msg,
                KID_MISMATCH,
                f"signed with key {kid} ({whose}), not province {province}'s key {verifier.kid}",
                province,
                hb,
            )
        sig = decode_signature(sig_raw)
        if sig is None:
            return self._dead(
                msg, BAD_SIGNATURE, "sig header is not a base64 64-byte signature", province, hb
            )
        if not verifier.verify(msg.value or b"", sig):
            return self._dead(
                msg,
                BAD_SIGNATURE,
                f"signature does not verify against province {province}'s key {verifier.kid}",
                province,
                hb,
            )
        return None

    def _parse_failure(
        self, msg: RawMessage, exc: SchemaError, province: str | None, hb: bool
    ) -> DeadLetter:
        """A dead letter for JSON that did not parse or fit the schema."""
        # pydantic reports unparseable JSON as an error at the root: that is malformed input,
        # not a schema violation, and ops fix the two differently.
        if exc.message.startswith("Invalid JSON") or any(
            d.get("message", "").startswith("Invalid JSON") for d in exc.details
        ):
            return self._dead(msg, MALFORMED, exc.message, province, hb)
        return self._dead(msg, SCHEMA, exc.message, province, hb)

    def _event(self, msg: RawMessage) -> Decoded:
        """Decode a message of a province events topic."""
        topic_province = self.topic_province(msg.topic)
        if topic_province is None:
            return self._dead(msg, UNKNOWN_TOPIC, "not a province events topic", None)
        raw = msg.value
        if not raw:
            return self._dead(msg, MALFORMED, "empty message value", topic_province)
        try:
            event = parse_event(raw)
        except SchemaError as exc:
            return self._parse_failure(msg, exc, topic_province, False)
        province = event.province
        if province not in self._verifiers:
            return self._dead(
                msg,
                UNKNOWN_PROVINCE,
                f"province {province} is not in the federation file",
                topic_province,
            )
        if province != topic_province:
            return self._dead(
                msg,
                WRONG_TOPIC,
                f"event of province {province} on topic {msg.topic} (province {topic_province})",
                topic_province,
            )
        bad = self._check_signature(msg, province)
        if bad is not None:
            return bad
        if msg.key != event.cert_no.encode():
            return self._dead(
                msg,
                WRONG_KEY,
                f"{_describe_key(msg.key)}, not its cert_no {event.cert_no}",
                province,
            )
        # Parsed again only to cut out the record exactly as published, keys sorted.
        record_json = orjson.dumps(orjson.loads(raw)["record"], option=orjson.OPT_SORT_KEYS)
        rec = event.record
        inst = rec.primary_institution
        tf = event.details.transfer_from if isinstance(event, RegisteredEvent) else None
        return EventMsg(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=_key_text(msg.key),
            province=province,
            seq=event.seq,
            type=event.type,
            cert_no=event.cert_no,
            record_version=event.record_version,
            committed_at=event.committed_at,
            event_id=str(event.event_id),
            transfer_from=(tf.province, tf.cert_no) if tf is not None else None,
            record_json=record_json.decode("utf-8"),
            fields=(
                rec.status.value,
                rec.name,
                normalise_name(rec.name),
                pinyin_key(rec.name),
                rec.gender.value,
                rec.level.value,
                rec.category.value,
                list(rec.scopes),
                inst.org_code,
                inst.name,
                inst.region_code,
                [site.org_code for site in rec.practice_sites],
                rec.person_ref,
            ),
            raw=raw,
        )

    def _heartbeat(self, msg: RawMessage) -> Decoded:
        """Decode a message of the heartbeats topic."""
        raw = msg.value
        # Only a configured province names a rejection: a key is any bytes a sender chose,
        # and it becomes a metric label and a log line.
        key_text = _key_text(msg.key)
        key_province = key_text if key_text in self._verifiers else None
        if not raw:
            return self._dead(msg, MALFORMED, "empty message value", key_province, True)
        try:
            hb = parse_heartbeat(raw)
        except SchemaError as exc:
            return self._parse_failure(msg, exc, key_province, True)
        if hb.province not in self._verifiers:
            return self._dead(
                msg,
                UNKNOWN_PROVINCE,
                f"province {hb.province} is not in the federation file",
                hb.province,
                True,
            )
        bad = self._check_signature(msg, hb.province, True)
        if bad is not None:
            return bad
        if msg.key != hb.province.encode():
            return self._dead(
                msg,
                WRONG_KEY,
                f"{_describe_key(msg.key)}, not its province {hb.province}",
                hb.province,
                True,
            )
        return HeartbeatMsg(
            topic=msg.topic, partition=msg.partition, offset=msg.offset, heartbeat=hb
        )


# ---- worker processes --------------------------------------------------------------------------

_worker_decoder: Decoder | None = None
# How often a decode worker checks that the hub that started it still runs.
PARENT_CHECK_INTERVAL = 1.0


def worker_init(spec: DecoderSpec, hub_pid: int) -> None:
    """Initializer of a decode worker process."""
    global _worker_decoder
    # Ctrl-C and `kill -TERM` reach the whole process group; the hub itself decides when its
    # workers stop (and they exit on their own if it dies), so they must not die mid-batch
    # or print tracebacks into the hub's log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker_decoder = Decoder(spec)
    # hub_pid comes from the hub itself: it may already be gone by the time this runs.
    threading.Thread(target=_exit_with_parent, args=(hub_pid,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once the hub that started it is gone (e.g. SIGKILLed).

    The pool's queues keep a worker blocked forever otherwise: it holds both ends of them,
    so it never sees the hub's side close.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    os._exit(0)


def worker_ready() -> bool:
    """A no-op run in each worker at start, so spawning and imports happen before a backlog."""
    return _worker_decoder is not None


def worker_decode(raws: list[Raw]) -> DecodedPart:
    """Decode in a worker process; bytes are not sent back (the caller still has them)."""
    assert _worker_decoder is not None, "worker_init was not run"
    items = _worker_decoder.decode_many(raws)
    for d in items:
        if isinstance(d, EventMsg):
            d.raw = b""
    return to_part(items)
