"""Turning raw Kafka messages into verified events, heartbeats or dead letters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from national_hub.config import HubSettings
from national_hub.ingest.messages import (
    UNAUTHENTICATED,
    DeadLetter,
    Decoded,
    EventMsg,
    HeartbeatMsg,
    RawMessage,
    RejectReason,
)
from national_hub.ingest.names import normalise_name, pinyin_key
from schemas.errors import SchemaError
from schemas.events import RegisteredEvent, parse_event, parse_heartbeat
from schemas.signing import Verifier
from schemas.timestamps import format_utc
from schemas.topics import events_topic_province
from schemas.vocab import Status
from schemas.wire import decode_signature

# Beyond these sizes a signed message is refused before it is parsed: a record with hundreds of
# practice sites stays far below, and parsing megabytes would stall the whole partition.
MAX_EVENT_BYTES = 256 * 1024
MAX_HEARTBEAT_BYTES = 4 * 1024


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", errors="replace")


def _describe_key(key: bytes | None) -> str:
    """'message key "…"' or 'no message key', for a wrong_key reason."""
    return "no message key" if key is None else f"message key {_key_text(key)!r}"


def _seq_of(raw: bytes | None) -> int | None:
    """The seq of a signed event that did not fit the schema, if it says one."""
    try:
        doc = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return None
    seq = doc.get("seq") if isinstance(doc, dict) else None
    return seq if type(seq) is int and 0 < seq < 2**63 else None


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
    # (province code, public key PEM, end of its overlap window) of every previous key.
    previous_keys: tuple[tuple[str, str, datetime], ...] = ()

    @classmethod
    def from_settings(cls, settings: HubSettings) -> DecoderSpec:
        """The spec of a hub's settings."""
        return cls(
            topic_prefix=settings.kafka.topic_prefix,
            heartbeats_topic=settings.kafka.heartbeats_topic,
            keys=tuple((code, p.verifier.public_pem) for code, p in settings.provinces.items()),
            previous_keys=tuple(
                (code, old.verifier.public_pem, old.not_after)
                for code, p in settings.provinces.items()
                for old in p.previous_keys
            ),
        )


@dataclass(frozen=True, slots=True)
class _Signed:
    """A message's signature checked: by the current key (not_after None) or by a previous
    key, trusted for what was committed up to not_after."""

    kid: str
    not_after: datetime | None = None


class Decoder:
    """Validates and authenticates messages for one hub configuration; thread-safe."""

    def __init__(self, spec: DecoderSpec) -> None:
        self._topic_prefix = spec.topic_prefix
        self._heartbeats_topic = spec.heartbeats_topic
        self._verifiers: Mapping[str, Verifier] = {
            code: Verifier.load(pem) for code, pem in spec.keys
        }
        # province -> kid -> (its previous key, end of its overlap window)
        self._previous: dict[str, dict[str, tuple[Verifier, datetime]]] = {}
        for code, pem, not_after in spec.previous_keys:
            old = Verifier.load(pem)
            self._previous.setdefault(code, {})[old.kid] = (old, not_after)
        self._kid_owner = {v.kid: code for code, v in self._verifiers.items()}
        for code, olds in self._previous.items():
            self._kid_owner.update(dict.fromkeys(olds, code))

    def topic_province(self, topic: str) -> str | None:
        """The province code of a `<prefix>.events.<NN>` topic, else None."""
        return events_topic_province(self._topic_prefix, topic)

    def decode_many(self, messages: Iterable[RawMessage]) -> list[Decoded]:
        """Decode messages in order; never raises for bad input."""
        return [self.decode(m) for m in messages]

    def decode(self, msg: RawMessage) -> Decoded:
        """Decode one message into an event, a heartbeat or a dead letter."""
        if msg.topic == self._heartbeats_topic:
            return self._heartbeat(msg)
        return self._event(msg)

    def _dead(
        self,
        msg: RawMessage,
        code: RejectReason,
        detail: str,
        province: str | None,
        hb: bool = False,
        seq: int | None = None,
    ) -> DeadLetter:
        """A dead letter; one of bytes nobody signed names no province."""
        authenticated = code not in UNAUTHENTICATED
        return DeadLetter(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=_key_text(msg.key),
            code=code,
            detail=detail,
            raw=msg.value or b"",
            province=province if authenticated else None,
            is_heartbeat=hb,
            authenticated=authenticated,
            seq=seq,
        )

    def _check_signature(
        self, msg: RawMessage, province: str, hb: bool = False
    ) -> DeadLetter | _Signed:
        """Which of the province's keys signed the message (its current key, or a previous
        one still to be held to its window); a dead letter saying why not otherwise."""
        headers = msg.headers or ()
        verifier = self._verifiers[province]
        not_after: datetime | None = None
        try:
            kid_raw = _header(headers, "kid")
            sig_raw = _header(headers, "sig")
        except _Repeated as exc:
            code = RejectReason.KID_MISMATCH if str(exc) == "kid" else RejectReason.BAD_SIGNATURE
            return self._dead(msg, code, f"more than one {exc} header", province, hb)
        if sig_raw is None:
            return self._dead(msg, RejectReason.MISSING_SIGNATURE, "no sig header", province, hb)
        if kid_raw is None:
            return self._dead(msg, RejectReason.MISSING_KID, "no kid header", province, hb)
        kid = kid_raw.decode("ascii", errors="replace")
        previous = self._previous.get(province, {}).get(kid)
        if previous is not None:
            verifier, not_after = previous
        elif kid != verifier.kid:
            owner = self._kid_owner.get(kid)
            whose = f"province {owner}'s key" if owner else "a key unknown to the hub"
            # The header is whatever a Kafka writer chose: quoted, and only its start.
            shown = repr(kid[:32]) + ("..." if len(kid) > 32 else "")
            return self._dead(
                msg,
                RejectReason.KID_MISMATCH,
                f"signed with key {shown} ({whose}), not province {province}'s key {verifier.kid}",
                province,
                hb,
            )
        sig = decode_signature(sig_raw)
        if sig is None:
            return self._dead(
                msg,
                RejectReason.BAD_SIGNATURE,
                "sig header is not a base64 64-byte signature",
                province,
                hb,
            )
        if not verifier.verify(msg.value or b"", sig):
            return self._dead(
                msg,
                RejectReason.BAD_SIGNATURE,
                f"signature does not verify against province {province}'s key {verifier.kid}",
                province,
                hb,
            )
        return _Signed(kid, not_after)

    def _retired(
        self,
        msg: RawMessage,
        signed: _Signed,
        at: datetime,
        province: str,
        hb: bool = False,
        seq: int | None = None,
    ) -> DeadLetter | None:
        """A key_retired dead letter when a previous key signed something dated after its
        window; None when the key was trusted then. It names the province (whose key signed
        it) and, for an event, its seq, so the refusal explains the sync token.

        The moment is the message's own signed time (an event's committed_at, a heartbeat's
        sent_at), not the hub's clock: a replica or a rebuild replaying the log years later
        decides every message as the first hub did.
        """
        if signed.not_after is None or at <= signed.not_after:
            return None
        return self._dead(
            msg,
            RejectReason.KEY_RETIRED,
            f"signed with province {province}'s previous key {signed.kid}, whose overlap window "
            f"ended at {format_utc(signed.not_after)}, but dated {format_utc(at)}",
            province,
            hb,
            seq,
        )

    def _parse_failure(
        self, msg: RawMessage, exc: SchemaError, province: str | None, hb: bool
    ) -> DeadLetter:
        """A dead letter for JSON that did not parse or fit the schema."""
        # pydantic reports unparseable JSON as an error at the root: that is malformed input,
        # not a schema violation, and ops fix the two differently.
        if exc.message.startswith("Invalid JSON") or any(
            d.get("message", "").startswith("Invalid JSON") for d in exc.details
        ):
            return self._dead(msg, RejectReason.MALFORMED, exc.message, province, hb)
        return self._dead(msg, RejectReason.SCHEMA, exc.message, province, hb, _seq_of(msg.value))

    def _event(self, msg: RawMessage) -> Decoded:
        """Decode a message of a province events topic.

        Authenticity first: until the bytes are known to be signed by the key of the province
        whose topic they came on, nothing in them is read (nor attributed to the province).
        """
        topic_province = self.topic_province(msg.topic)
        if topic_province is None:
            return self._dead(msg, RejectReason.UNKNOWN_TOPIC, "not a province events topic", None)
        if topic_province not in self._verifiers:
            return self._dead(
                msg,
                RejectReason.UNKNOWN_SENDER,
                f"the topic of province {topic_province}, which is not in the federation file, "
                f"so nobody can sign for it",
                None,
            )
        signed = self._check_signature(msg, topic_province)
        if isinstance(signed, DeadLetter):
            return signed
        raw = msg.value
        if not raw:
            return self._dead(msg, RejectReason.MALFORMED, "empty message value", topic_province)
        if len(raw) > MAX_EVENT_BYTES:
            return self._dead(
                msg,
                RejectReason.OVERSIZED,
                f"{len(raw)} bytes, more than an event may hold ({MAX_EVENT_BYTES})",
                topic_province,
            )
        try:
            event = parse_event(raw)
        except SchemaError as exc:
            return self._parse_failure(msg, exc, topic_province, False)
        retired = self._retired(msg, signed, event.committed_at, topic_province, seq=event.seq)
        if retired is not None:
            return retired
        province = event.province
        if province != topic_province:
            return self._dead(
                msg,
                RejectReason.WRONG_TOPIC
                if province in self._verifiers
                else RejectReason.UNKNOWN_PROVINCE,
                f"event of province {province} on topic {msg.topic} (province {topic_province})",
                topic_province,
                seq=event.seq,
            )
        if msg.key != event.cert_no.encode():
            return self._dead(
                msg,
                RejectReason.WRONG_KEY,
                f"{_describe_key(msg.key)}, not its cert_no {event.cert_no}",
                province,
                seq=event.seq,
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
            transfer_to=(
                rec.transfer.to_province
                if rec.status is Status.TRANSFERRED_OUT and rec.transfer is not None
                else None
            ),
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
        """Decode a message of the heartbeats topic: signed by the province its key names."""
        # Only a configured province names a rejection: a key is any bytes a sender chose,
        # and it becomes a metric label and a log line.
        key_text = _key_text(msg.key)
        province = key_text if key_text in self._verifiers else None
        if province is None:
            return self._dead(
                msg,
                RejectReason.UNKNOWN_SENDER,
                f"{_describe_key(msg.key)} names no province of the federation file",
                None,
                True,
            )
        signed = self._check_signature(msg, province, True)
        if isinstance(signed, DeadLetter):
            return signed
        raw = msg.value
        if not raw:
            return self._dead(msg, RejectReason.MALFORMED, "empty message value", province, True)
        if len(raw) > MAX_HEARTBEAT_BYTES:
            return self._dead(
                msg,
                RejectReason.OVERSIZED,
                f"{len(raw)} bytes, more than a heartbeat may hold ({MAX_HEARTBEAT_BYTES})",
                province,
                True,
            )
        try:
            hb = parse_heartbeat(raw)
        except SchemaError as exc:
            return self._parse_failure(msg, exc, province, True)
        retired = self._retired(msg, signed, hb.sent_at, province, True)
        if retired is not None:
            return retired
        if hb.province != province:
            return self._dead(
                msg,
                RejectReason.WRONG_KEY,
                f"{_describe_key(msg.key)}, not its province {hb.province}",
                province,
                True,
            )
        return HeartbeatMsg(
            topic=msg.topic, partition=msg.partition, offset=msg.offset, heartbeat=hb
        )
