"""Hostile messages on the hub's topics: each one refused and counted, ingest carries on.

One run puts ~1,400 malformed messages (random bytes, every truncation of a valid event, huge
and odd values, wrong headers and keys, wrong types, bad envelopes, junk heartbeats) on the
real broker, with valid events of three records before, between and after them, and lets the
hub (the app `national-hub serve` runs) ingest them into its DuckDB file; the tests then read
what that one run left behind.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hubkit import (
    LIFECYCLE,
    HubEnv,
    Message,
    cert,
    create_topics,
    get_json,
    heartbeat,
    hub_app,
    make_event,
    running_hub,
    send,
    signed,
    table_dump,
    wait_for,
    wait_version,
    write_federation,
)
from prometheus_client.parser import text_string_to_metric_families

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import (
    KEPT_BYTES,
    DeadLetter,
    Raw,
    RejectReason,
)
from national_hub.web.appkeys import INGESTOR, STORE
from schemas.canonical import canonical_bytes
from schemas.vocab import PROVINCES
from schemas.wire import signed_headers

SEED = 20261122
RANDOM_MESSAGES = 300
HUGE = 900 * 1024
# Hostile events carry seqs from here up, so the valid ones stay gap-free (1..n) and the
# applied-seq frontier shows whether anything hostile was counted as applied.
HOSTILE_SEQ = 1_000_000
# A province in PROVINCES but not in the federation file: its topic exists, its key does not.
UNCONFIGURED = "12"
VALID_KINDS = LIFECYCLE[:4]
REJECTED = "regsync_hub_events_rejected"
UNAUTHENTICATED = "regsync_hub_unauthenticated_messages"
# What a message nobody signed is refused as (it is never parsed).
UNSIGNED = (
    RejectReason.MISSING_SIGNATURE,
    RejectReason.MISSING_KID,
    RejectReason.KID_MISMATCH,
    RejectReason.BAD_SIGNATURE,
)


@dataclass(frozen=True)
class Hostile:
    """A message the hub must refuse, and the reason codes that would be right for it."""

    label: str
    message: Message
    codes: frozenset[str]


def _codes(*codes: str) -> frozenset[str]:
    return frozenset(codes)


def _dumps(doc: Any) -> bytes:
    """JSON as a node would write it, but with whatever values (big ints, NaN) it is given."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _with_literal(doc: dict[str, Any], field: str, literal: bytes) -> bytes:
    """The document's bytes with one top-level field's value written as these raw bytes."""
    sentinel = _dumps("\x00literal")
    value = _dumps({**doc, field: "\x00literal"})
    assert value.count(sentinel) == 1
    return value.replace(sentinel, literal)


class Corpus:
    """Builds hostile messages for one federation; every event is a fresh one of province 50."""

    def __init__(self, env: HubEnv, rng: random.Random) -> None:
        self.env = env
        self.rng = rng
        self.n = 0
        self.topic = env.topic("50")
        self.items: list[Hostile] = []

    def body(self, kind: str = "registered") -> dict[str, Any]:
        """A valid event of a record nobody else uses, as a JSON document."""
        self.n += 1
        ev = make_event(
            self.env, kind, "50", cert("50", 9000 + self.n), 1, seq=HOSTILE_SEQ + self.n
        )
        doc: dict[str, Any] = json.loads(canonical_bytes(ev))
        return doc

    def signed_raw(
        self, value: bytes, key: bytes | None, *, topic: str | None = None, by: str = "50"
    ) -> Message:
        """Exactly these bytes, signed by the province's key: only the content is wrong."""
        headers = signed_headers(self.env.signers[by], value)
        return Message(topic or self.topic, key, value, headers)

    def add(self, label: str, message: Message, *codes: str) -> None:
        self.items.append(Hostile(label, message, _codes(*codes)))

    def add_doc(
        self, label: str, doc: dict[str, Any], *codes: str, topic: str | None = None
    ) -> None:
        """A signed event document with the right key."""
        self.add(label, self.signed_raw(_dumps(doc), doc["cert_no"].encode(), topic=topic), *codes)

    def add_bytes(self, label: str, doc: dict[str, Any], value: bytes, *codes: str) -> None:
        """Signed bytes derived from a document, with its key."""
        self.add(label, self.signed_raw(value, doc["cert_no"].encode()), *codes)

    # ---- the classes of hostile input --------------------------------------------------------

    def random_bytes(self) -> None:
        """Random values, keys and headers."""
        rng = self.rng
        for i in range(RANDOM_MESSAGES):
            size = rng.choice((0, 1, 2, 7, 64, 500, 4096))
            value = rng.randbytes(size)
            if i % 3 == 0:
                value = b'{"' + value  # looks like JSON for a byte or two
            key = rng.choice((None, rng.randbytes(rng.randrange(1, 40)), b"500000000000001"))
            headers = rng.choice(
                (
                    [],
                    [("sig", rng.randbytes(64)), ("kid", rng.randbytes(8))],
                    [("sig", base64.b64encode(rng.randbytes(64))), ("kid", b"0123456789abcdef")],
                    [(rng.randbytes(5).hex(), rng.randbytes(rng.randrange(0, 300)))],
                )
            )
            # Nobody signed them: refused on their headers, before a byte of them is read.
            self.add(f"random[{i}]", Message(self.topic, key, value, headers), *UNSIGNED)

    def truncations(self) -> None:
        """Every proper prefix of a valid event, each signed: inside strings, keys, numbers..."""
        doc = self.body("site_filed")
        value = _dumps(doc)
        for n in range(len(value)):
            self.add_bytes(f"prefix[{n}]", doc, value[:n], RejectReason.MALFORMED)

    def huge_and_odd_values(self) -> None:
        """Values no parser should choke on: huge, deep, non-finite, mis-encoded, duplicated."""
        doc = self.body()
        doc["record"]["name"] = "张" * (HUGE // 3)
        self.add_doc("900 KB name", doc, RejectReason.OVERSIZED)
        doc = self.body("suspended")
        doc["details"]["reason"] = "x" * HUGE
        self.add_doc("900 KB details.reason", doc, RejectReason.OVERSIZED)
        doc = self.body()
        doc["details"] = {"note": "y" * HUGE}
        self.add_doc("900 KB unknown details key", doc, RejectReason.OVERSIZED)
        deep = b"[" * 100_000 + b"]" * 100_000
        for label, field, literal, code in (
            ("deep details", "details", deep, RejectReason.MALFORMED),
            ("10^6-digit seq", "seq", b"9" * 10**6, RejectReason.OVERSIZED),
            ("seq NaN", "seq", b"NaN", RejectReason.SCHEMA),
            ("seq Infinity", "seq", b"Infinity", RejectReason.SCHEMA),
            ("seq -Infinity", "seq", b"-Infinity", RejectReason.SCHEMA),
            ("record_version NaN", "record_version", b"NaN", RejectReason.SCHEMA),
            ("invalid UTF-8", "actor", b'"\xff\xfe"', RejectReason.MALFORMED),
            ("overlong UTF-8", "actor", b'"\xc0\xaf"', RejectReason.MALFORMED),
            ("lone surrogate", "actor", b'"\\udfff"', RejectReason.MALFORMED),
            ("NUL escape", "actor", b'"a\\u0000b"', RejectReason.SCHEMA),
        ):
            doc = self.body()
            self.add_bytes(label, doc, _with_literal(doc, field, literal), code)
        doc = self.body()
        self.add_bytes(
            "deep object",
            doc,
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            RejectReason.MALFORMED,
            RejectReason.OVERSIZED,
        )
        doc = self.body()
        text = _dumps(doc).decode()
        self.add_bytes("UTF-16 LE with BOM", doc, text.encode("utf-16"), RejectReason.MALFORMED)
        doc = self.body()
        self.add_bytes(
            "UTF-16 BE with BOM",
            doc,
            b"\xfe\xff" + _dumps(doc).decode().encode("utf-16-be"),
            RejectReason.MALFORMED,
        )
        doc = self.body()
        self.add_bytes("UTF-8 BOM", doc, b"\xef\xbb\xbf" + _dumps(doc), RejectReason.MALFORMED)
        # Both parsers the hub uses take the last of duplicated keys: this reads as province 44.
        doc = self.body()
        self.add_bytes(
            "duplicate province key",
            doc,
            _dumps(doc)[:-1] + b',"province":"44"}',
            RejectReason.WRONG_TOPIC,
        )

    def wrong_headers(self) -> None:
        """Valid event bytes whose signature headers are missing, garbled or someone else's."""
        env = self.env
        own, other = env.signers["50"], env.signers["44"]

        def case(
            label: str, code: str, headers: Callable[[bytes], list[tuple[str, bytes]]]
        ) -> None:
            doc = self.body()
            value = _dumps(doc)
            self.add(
                label, Message(self.topic, doc["cert_no"].encode(), value, headers(value)), code
            )

        def b64(sig: bytes) -> bytes:
            return base64.b64encode(sig)

        kid = own.kid.encode()
        case("no headers", RejectReason.MISSING_SIGNATURE, lambda v: [])
        case("no sig", RejectReason.MISSING_SIGNATURE, lambda v: [("kid", kid)])
        case("no kid", RejectReason.MISSING_KID, lambda v: [("sig", b64(own.sign(v)))])
        case(
            "non-base64 sig",
            RejectReason.BAD_SIGNATURE,
            lambda v: [("sig", b"!!not base64!!"), ("kid", kid)],
        )
        case(
            "63-byte sig",
            RejectReason.BAD_SIGNATURE,
            lambda v: [("sig", b64(own.sign(v)[:63])), ("kid", kid)],
        )
        case("empty sig", RejectReason.BAD_SIGNATURE, lambda v: [("sig", b""), ("kid", kid)])
        case(
            "sig of other bytes",
            RejectReason.BAD_SIGNATURE,
            lambda v: [("sig", b64(own.sign(v + b" "))), ("kid", kid)],
        )
        case(
            "sig by 44 under 50's kid",
            RejectReason.BAD_SIGNATURE,
            lambda v: [("sig", b64(other.sign(v))), ("kid", kid)],
        )
        case("44's sig and kid", RejectReason.KID_MISMATCH, lambda v: signed_headers(other, v))
        case(
            "unknown kid",
            RejectReason.KID_MISMATCH,
            lambda v: [("sig", b64(own.sign(v))), ("kid", b"deadbeefdeadbeef")],
        )
        case(
            "non-ASCII kid",
            RejectReason.KID_MISMATCH,
            lambda v: [("sig", b64(own.sign(v))), ("kid", b"\xff\x00")],
        )
        case(
            "bad sig before good sig",
            RejectReason.BAD_SIGNATURE,
            lambda v: [("sig", b"AAAA"), ("sig", b64(own.sign(v))), ("kid", kid)],
        )
        case(
            "other kid before own kid",
            RejectReason.KID_MISMATCH,
            lambda v: [("sig", b64(own.sign(v))), ("kid", other.kid.encode()), ("kid", kid)],
        )
        case(
            "500 KB sig header",
            RejectReason.BAD_SIGNATURE,
            lambda v: [("sig", b"A" * 500_000), ("kid", kid)],
        )
        case(
            "500 KB kid header",
            RejectReason.KID_MISMATCH,
            lambda v: [("sig", b64(own.sign(v))), ("kid", b"k" * 500_000)],
        )

    def wrong_keys(self) -> None:
        """Validly signed events under a message key that is not their cert_no."""
        for label, key in (
            ("null key", None),
            ("other cert_no key", cert("50", 1).encode()),
            ("empty key", b""),
            ("binary key", b"\x00\xff\xfe"),
        ):
            doc = self.body()
            self.add(label, self.signed_raw(_dumps(doc), key), RejectReason.WRONG_KEY)

    def wrong_types(self) -> None:
        """Valid JSON that is not an event object, signed."""
        key = cert("50", 9999).encode()
        for value in (b"[]", b"12", b"null", b'"event"', b"true", b"{}", b'{"schema_version":1}'):
            self.add(f"JSON {value!r}", self.signed_raw(value, key), RejectReason.SCHEMA)
        doc = self.body()
        self.add(
            "array of an event",
            self.signed_raw(_dumps([doc]), doc["cert_no"].encode()),
            RejectReason.SCHEMA,
        )
        for field, bad in (
            ("seq", str(HOSTILE_SEQ)),
            ("seq", 1.5),
            ("seq", True),
            ("type", "exploded"),
            ("schema_version", 2),
            ("record", None),
            ("details", []),
        ):
            doc = self.body()
            doc[field] = bad
            self.add_doc(f"{field}={bad!r}", doc, RejectReason.SCHEMA)

    def bad_envelopes(self) -> None:
        """Well-formed events whose envelope the hub must refuse."""
        for field, bad in (("seq", 0), ("seq", -1), ("record_version", 0), ("record_version", -1)):
            doc = self.body()
            doc[field] = bad
            self.add_doc(f"{field}={bad}", doc, RejectReason.SCHEMA)
        doc = self.body()
        doc["record"]["cert_no"] = cert("50", 1)
        self.add_doc("record.cert_no differs", doc, RejectReason.SCHEMA)
        env = self.env
        ev44 = make_event(env, "registered", "44", cert("44", 9000), 1, seq=HOSTILE_SEQ)
        self.add(
            "44's event on 50's topic",
            signed(env, ev44, topic=self.topic),
            RejectReason.KID_MISMATCH,
        )
        self.add(
            "44's event on 50's topic, signed by 50",
            signed(env, ev44, topic=self.topic, signer=env.signers["50"]),
            RejectReason.WRONG_TOPIC,
        )
        doc = self.body()
        doc["province"] = UNCONFIGURED
        self.add_doc("unconfigured province on 50's topic", doc, RejectReason.UNKNOWN_PROVINCE)
        doc = self.body()
        doc["province"] = UNCONFIGURED
        self.add_doc(
            "unconfigured province on its topic",
            doc,
            RejectReason.UNKNOWN_SENDER,
            topic=env.topic(UNCONFIGURED),
        )
        doc = self.body()
        self.add_doc(
            "50's event on an unconfigured topic",
            doc,
            RejectReason.UNKNOWN_SENDER,
            topic=env.topic(UNCONFIGURED),
        )

    def junk_heartbeats(self) -> None:
        """Heartbeats the hub must refuse; each carries a higher committed_seq than the truth."""
        env, rng = self.env, self.rng
        topic = env.heartbeats_topic
        for i in range(40):
            value = rng.randbytes(rng.choice((0, 3, 40, 400)))
            key = rng.choice((None, b"50", rng.randbytes(6)))
            self.add(
                f"heartbeat random[{i}]",
                Message(topic, key, value, []),
                RejectReason.MISSING_SIGNATURE,
                RejectReason.UNKNOWN_SENDER,
            )
        good = heartbeat(env, "50", 999, 999)
        for n in range(0, len(good.value), 7):
            self.add(
                f"heartbeat prefix[{n}]",
                Message(topic, b"50", good.value[:n], good.headers),
                RejectReason.BAD_SIGNATURE,
            )
            value = good.value[:n]
            self.add(
                f"heartbeat signed prefix[{n}]",
                Message(topic, b"50", value, signed_headers(env.signers["50"], value)),
                RejectReason.MALFORMED,
            )
        body: dict[str, Any] = json.loads(good.value)
        # A forged beat from the future would, if taken, pin freshness to a lie for years.
        future = {**body, "sent_at": "2099-01-01T00:00:00.000Z"}
        value = _dumps(future)
        forged = signed_headers(env.signers["44"], value)
        self.add(
            "heartbeat signed by 44 under 50's kid",
            Message(topic, b"50", value, [forged[0], ("kid", env.signers["50"].kid.encode())]),
            RejectReason.BAD_SIGNATURE,
        )
        self.add(
            "heartbeat with 44's kid",
            Message(topic, b"50", value, forged),
            RejectReason.KID_MISMATCH,
        )
        self.add(
            "heartbeat unsigned", Message(topic, b"50", value, []), RejectReason.MISSING_SIGNATURE
        )
        self.add(
            "heartbeat wrong key",
            Message(topic, b"44", value, signed_headers(env.signers["50"], value)),
            RejectReason.KID_MISMATCH,
        )
        for label, doc in (
            ("heartbeat negative seq", {**body, "committed_seq": -1}),
            ("heartbeat string seq", {**body, "committed_seq": "999"}),
            ("heartbeat unconfigured province", {**body, "province": UNCONFIGURED}),
            ("heartbeat extra field", {**body, "extra": 1}),
        ):
            value = _dumps(doc)
            self.add(
                label,
                Message(topic, b"50", value, signed_headers(env.signers["50"], value)),
                RejectReason.SCHEMA,
                RejectReason.WRONG_KEY,
            )
        for label, value in (("heartbeat []", b"[]"), ("heartbeat null", b"null")):
            self.add(
                label,
                Message(topic, b"50", value, signed_headers(env.signers["50"], value)),
                RejectReason.SCHEMA,
            )


def hostile_messages(env: HubEnv, seed: int = SEED) -> list[Hostile]:
    """Every class of hostile input, shuffled so the classes mix on the partitions."""
    rng = random.Random(seed)
    corpus = Corpus(env, rng)
    corpus.random_bytes()
    corpus.truncations()
    corpus.huge_and_odd_values()
    corpus.wrong_headers()
    corpus.wrong_keys()
    corpus.wrong_types()
    corpus.bad_envelopes()
    corpus.junk_heartbeats()
    items = corpus.items
    rng.shuffle(items)
    return items


# ---- one run of the hub over all of it -------------------------------------------------------


@dataclass
class DeadRow:
    """A dead_letters row."""

    key: str | None
    code: str
    raw: bytes
    size: int
    sha256: str
    province: str | None
    authenticated: bool


@dataclass
class Outcome:
    """What the hub left behind after ingesting the hostile messages among valid ones."""

    hostile: dict[tuple[str, int, int], Hostile]
    heartbeats_topic: str
    valid: dict[str, list[tuple[str, int, int]]]
    last_valid_seq: int
    dead: dict[tuple[str, int, int], DeadRow]
    history: dict[str, list[tuple[str, int, int]]]
    applied_seq: int
    metrics: str
    ready: bool
    last_error: str | None
    stored_heartbeat_seq: int
    status_50: dict[str, Any]


def _chunks(items: list[Hostile], n: int) -> Iterator[list[Hostile]]:
    size = -(-len(items) // n)
    for i in range(n):
        yield items[i * size : (i + 1) * size]


async def _run(env: HubEnv) -> Outcome:
    await create_topics(env, extra=[env.topic(UNCONFIGURED)])
    hostile = hostile_messages(env)
    certs = [cert("50", n) for n in (1, 2, 3)]
    valid = [
        make_event(env, kind, "50", c, v)
        for v, kind in enumerate(VALID_KINDS, start=1)
        for c in certs
    ]
    # Valid events first, between every run of hostile ones, and last.
    messages: list[Message] = [heartbeat(env, "50", 0, 0), signed(env, valid[0])]
    for ev, chunk in zip(valid[1:], _chunks(hostile, len(valid) - 1), strict=True):
        messages += [h.message for h in chunk]
        messages.append(signed(env, ev))
    last_seq = valid[-1].seq
    messages.append(heartbeat(env, "50", last_seq, last_seq))
    landed = await send(env, messages)
    where = {
        id(m): (md.topic, md.partition, md.offset) for m, md in zip(messages, landed, strict=True)
    }

    async with running_hub(env.settings()) as client:
        app = hub_app(client)
        store = app[STORE]

        async def all_stored() -> bool:
            return sum(store.offsets().values()) >= len(messages)

        await wait_for(all_stored, seconds=60)
        history = {
            c: [
                (i["type"], i["seq"], i["record_version"])
                for i in (await get_json(client, f"/v1/physicians/{c}/history"))["items"]
            ]
            for c in certs
        }
        metrics = await (await client.get("/metrics")).text()
        status = await get_json(client, "/v1/sync/status")
        ingestor = app[INGESTOR]
        ready = (await client.get("/readyz")).status == 200 and ingestor.ready
        last_error = ingestor.last_error
        applied_seq = store.applied_seq("50")
        stored_hb = store.heartbeats()["50"].heartbeat.committed_seq
    rows = table_dump(
        env.db,
        'SELECT topic, partition, "offset", key, reason, raw, raw_size, raw_sha256, province,'
        " authenticated FROM dead_letters",
    )
    return Outcome(
        hostile={where[id(h.message)]: h for h in hostile},
        heartbeats_topic=env.heartbeats_topic,
        valid={
            c: [(e.type, e.seq, e.record_version) for e in valid if e.cert_no == c] for c in certs
        },
        last_valid_seq=last_seq,
        dead={
            (t, p, o): DeadRow(k, r.split(":")[0], bytes(raw), size, sha, prov, auth)
            for t, p, o, k, r, raw, size, sha, prov, auth in rows
        },
        history=history,
        applied_seq=applied_seq,
        metrics=metrics,
        ready=ready,
        last_error=last_error,
        stored_heartbeat_seq=stored_hb,
        status_50=next(p for p in status["provinces"] if p["province"] == "50"),
    )


@pytest.fixture(scope="module")
def outcome(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """One ingest of the whole hostile corpus, shared by the tests below (it takes seconds)."""
    root = tmp_path_factory.mktemp("malformed")
    env = write_federation(root, bootstrap, f"rs_malformed_{uuid.uuid4().hex[:8]}")
    return asyncio.run(_run(env))


def _rejected(metrics: str, name: str = REJECTED) -> dict[tuple[str, str], float]:
    """<name>_total by (province or topic, reason)."""
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name == name:
            for s in family.samples:
                if s.name == name + "_total":
                    who = s.labels.get("province") or s.labels["topic"]
                    out[(who, s.labels["reason"])] = s.value
    return out


def test_enough_hostile_messages_of_every_class(outcome: Outcome) -> None:
    labels = Counter(h.label.split("[")[0] for h in outcome.hostile.values())
    assert len(outcome.hostile) >= 1000
    assert labels["random"] == RANDOM_MESSAGES and labels["prefix"] > 500


def test_every_hostile_event_is_dead_lettered_with_a_fitting_reason(outcome: Outcome) -> None:
    expected = {k: h for k, h in outcome.hostile.items() if k[0] != outcome.heartbeats_topic}
    missing = sorted(h.label for k, h in expected.items() if k not in outcome.dead)
    extra = sorted(str(k) for k in outcome.dead if k not in expected)
    assert (missing, extra) == ([], [])
    wrong = sorted(
        f"{h.label}: {outcome.dead[k].code} not in {sorted(h.codes)}"
        for k, h in expected.items()
        if outcome.dead[k].code not in h.codes
    )
    assert wrong == []


def test_dead_letters_keep_a_prefix_the_size_and_hash_of_the_bytes_and_the_key(
    outcome: Outcome,
) -> None:
    changed = [
        h.label
        for k, h in outcome.hostile.items()
        if k in outcome.dead
        and (
            outcome.dead[k].raw != h.message.value[:KEPT_BYTES]
            or outcome.dead[k].size != len(h.message.value)
            or outcome.dead[k].sha256 != hashlib.sha256(h.message.value).hexdigest()
            or outcome.dead[k].key
            != (None if h.message.key is None else h.message.key.decode(errors="replace"))
        )
    ]
    assert changed == []


def test_valid_events_around_them_are_applied_in_order(outcome: Outcome) -> None:
    assert outcome.history == outcome.valid
    # Gap-free up to the last valid seq: no hostile seq counted, none of the valid ones lost.
    assert outcome.applied_seq == outcome.last_valid_seq


def test_every_rejection_is_counted_in_the_metric(outcome: Outcome) -> None:
    # Junk heartbeats are counted here too, though by design not kept as dead letters; what
    # nobody signed is counted apart from the provinces' own refusals.
    counted = sum(_rejected(outcome.metrics).values()) + sum(
        _rejected(outcome.metrics, UNAUTHENTICATED).values()
    )
    assert counted == len(outcome.hostile)


def test_what_nobody_signed_is_kept_as_nobodys(outcome: Outcome) -> None:
    unsigned = {
        k for k, h in outcome.hostile.items() if k in outcome.dead and h.codes <= {*UNSIGNED}
    }
    assert len(unsigned) > RANDOM_MESSAGES
    assert {(outcome.dead[k].province, outcome.dead[k].authenticated) for k in unsigned} == {
        (None, False)
    }


def test_what_50_signed_is_kept_as_50s(outcome: Outcome) -> None:
    own = {
        k
        for k, h in outcome.hostile.items()
        if k in outcome.dead and k[0].endswith(".events.50") and not h.codes & {*UNSIGNED}
    }
    assert {(outcome.dead[k].province, outcome.dead[k].authenticated) for k in own} == {
        ("50", True)
    }


def test_junk_heartbeats_leave_freshness_to_the_valid_ones(outcome: Outcome) -> None:
    assert outcome.stored_heartbeat_seq == outcome.last_valid_seq
    status = outcome.status_50
    assert (status["province_committed_seq"], status["applied_seq"]) == (
        outcome.last_valid_seq,
        outcome.last_valid_seq,
    )
    assert status["last_heartbeat_at"] is not None


def test_the_consumer_never_stopped(outcome: Outcome) -> None:
    assert (outcome.ready, outcome.last_error) == (True, None)


def test_rejections_are_labelled_with_a_province_code(outcome: Outcome) -> None:
    labels = {province for province, _ in _rejected(outcome.metrics)}
    assert labels <= {*PROVINCES, "unknown"}


# ---- hostile input that stalls or slips through today (own small runs) -------------------------


@pytest.mark.parametrize(("field", "value"), [("seq", 2**63), ("record_version", 2**31)])
async def test_numbers_beyond_the_stores_columns_do_not_stall_the_partition(
    kafka_env: HubEnv, field: str, value: int
) -> None:
    env = kafka_env
    c = cert("50", 40)
    first = make_event(env, "registered", "50", c, 1)
    poison: dict[str, Any] = json.loads(canonical_bytes(make_event(env, "suspended", "50", c, 2)))
    poison[field] = value
    # Same key as the record, so it sits on the same partition just before the next event.
    body = _dumps(poison)
    after = make_event(env, "assessed", "50", c, 3)
    async with running_hub(env.settings()) as client:
        await send(env, [signed(env, first)])
        await wait_version(client, c, 1)
        await send(
            env,
            [
                Message(env.topic("50"), c.encode(), body, signed_headers(env.signers["50"], body)),
                signed(env, after),
            ],
        )
        await wait_version(client, c, 3, seconds=5)


async def test_a_second_sig_header_that_disagrees_is_refused(kafka_env: HubEnv) -> None:
    env = kafka_env
    c = cert("50", 41)
    msg = signed(env, make_event(env, "registered", "50", c, 1))
    sig, kid = msg.headers
    msg.headers = [sig, ("sig", base64.b64encode(b"\x00" * 64)), kid]
    async with running_hub(env.settings()) as client:
        await send(env, [msg])

        async def stored() -> bool:
            return sum(hub_app(client)[STORE].offsets().values()) >= 1

        await wait_for(stored)
    # Dead-lettered (under whichever reason), not applied.
    assert table_dump(
        env.db, "SELECT (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM records)"
    ) == [(1, 0)]


def test_a_numeric_committed_at_is_refused(hub_env: HubEnv) -> None:
    doc: dict[str, Any] = json.loads(
        canonical_bytes(make_event(hub_env, "registered", "50", cert("50", 42), 1))
    )
    doc["committed_at"] = 0
    value = _dumps(doc)
    raw = Raw(
        hub_env.topic("50"),
        0,
        0,
        doc["cert_no"].encode(),
        value,
        signed_headers(hub_env.signers["50"], value),
    )
    decoded = Decoder(DecoderSpec.from_settings(hub_env.settings())).decode(raw)
    assert isinstance(decoded, DeadLetter) and decoded.code == RejectReason.SCHEMA
