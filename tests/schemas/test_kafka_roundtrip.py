"""Signed events of every type survive a real Kafka broker byte for byte."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from schemas.canonical import canonical_bytes
from schemas.events import Event, parse_event
from schemas.samples import sample_event
from schemas.signing import Signer, Verifier, generate_keypair
from schemas.vocab import EventType
from schemas.wire import read_signature, signed_headers


async def _produce_and_consume(
    bootstrap: str, topic: str, signer: Signer, events: list[Event]
) -> list[ConsumerRecord[bytes, bytes]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for ev in events:
            value = canonical_bytes(ev)
            await producer.send_and_wait(
                topic, value, key=ev.cert_no.encode(), headers=signed_headers(signer, value)
            )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < len(events):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(records)
    finally:
        await consumer.stop()
    return sorted(got, key=lambda r: parse_event(r.value or b"").seq)


@pytest.fixture
async def delivered(
    bootstrap: str, unique_name: Callable[[str], str]
) -> tuple[Signer, list[Event], list[ConsumerRecord[bytes, bytes]]]:
    signer = Signer.load(generate_keypair()[0])
    events = [sample_event(t, seq=i + 1) for i, t in enumerate(EventType)]
    records = await _produce_and_consume(bootstrap, unique_name("roundtrip"), signer, events)
    return signer, events, records


def _verify(verifier: Verifier, record: ConsumerRecord[bytes, bytes]) -> bool:
    found = read_signature(record.headers)
    assert found is not None, "sig/kid headers missing"
    sig, kid = found
    return kid == verifier.kid and verifier.verify(record.value or b"", sig)


async def test_every_event_type_comes_back_equal(
    delivered: tuple[Signer, list[Event], list[ConsumerRecord[bytes, bytes]]],
) -> None:
    _, events, records = delivered
    assert [parse_event(r.value or b"") for r in records] == events


async def test_every_signature_verifies(
    delivered: tuple[Signer, list[Event], list[ConsumerRecord[bytes, bytes]]],
) -> None:
    signer, _, records = delivered
    assert all(_verify(signer.verifier(), r) for r in records)


async def test_tampered_value_fails_verification(
    delivered: tuple[Signer, list[Event], list[ConsumerRecord[bytes, bytes]]],
) -> None:
    signer, _, records = delivered
    r = records[0]
    tampered = dataclasses.replace(r, value=(r.value or b"").replace(b"registered", b"revoked", 1))
    assert tampered.value != r.value
    assert not _verify(signer.verifier(), tampered)


async def test_another_key_fails_verification(
    delivered: tuple[Signer, list[Event], list[ConsumerRecord[bytes, bytes]]],
) -> None:
    _, _, records = delivered
    stranger = Signer.load(generate_keypair()[0]).verifier()
    signatures = [read_signature(r.headers) for r in records]
    assert all(s is not None for s in signatures)
    assert not any(
        stranger.verify(r.value or b"", s[0]) for r, s in zip(records, signatures, strict=True) if s
    )
