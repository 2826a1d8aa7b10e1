"""The decoder's checks on one message at a time: message keys and what a dead letter keeps."""

from __future__ import annotations

import hashlib

from hubkit import HubEnv, Message, cert, heartbeat, make_event, signed

from national_hub.ingest.decode import MAX_EVENT_BYTES, Decoder, DecoderSpec
from national_hub.ingest.messages import (
    KEPT_BYTES,
    DeadLetter,
    EventMsg,
    HeartbeatMsg,
    Raw,
    RejectReason,
    redact_id_numbers,
)
from schemas.wire import signed_headers


def _decode(env: HubEnv, m: Message, key: bytes | None) -> object:
    decoder = Decoder(DecoderSpec.from_settings(env.settings()))
    return decoder.decode(Raw(m.topic, 0, 0, key, m.value, m.headers))


def test_an_event_keyed_by_another_cert_no_is_dead_lettered(hub_env: HubEnv) -> None:
    m = signed(hub_env, make_event(hub_env, "registered", "50", cert("50", 1), 1))
    assert isinstance(_decode(hub_env, m, m.key), EventMsg)
    got = _decode(hub_env, m, cert("50", 2).encode())
    assert isinstance(got, DeadLetter) and got.code == RejectReason.WRONG_KEY
    assert cert("50", 1) in got.detail and got.province == "50"
    missing = _decode(hub_env, m, None)
    assert isinstance(missing, DeadLetter) and missing.code == RejectReason.WRONG_KEY


def test_a_heartbeat_keyed_by_another_province_is_refused(hub_env: HubEnv) -> None:
    m = heartbeat(hub_env, "50", 3, 3)
    assert isinstance(_decode(hub_env, m, b"50"), HeartbeatMsg)
    # Checked against 44's key, which did not sign it: nobody's heartbeat, not 44's.
    got = _decode(hub_env, m, b"44")
    assert isinstance(got, DeadLetter) and got.is_heartbeat
    assert (got.code, got.province, got.authenticated) == (RejectReason.KID_MISMATCH, None, False)


def test_a_heartbeat_signed_by_its_key_province_naming_another_is_wrong_key(
    hub_env: HubEnv,
) -> None:
    body = heartbeat(hub_env, "44", 3, 3).value
    m = Message(hub_env.heartbeats_topic, b"50", body, signed_headers(hub_env.signers["50"], body))
    got = _decode(hub_env, m, b"50")
    assert isinstance(got, DeadLetter)
    assert (got.code, got.province, got.authenticated) == (RejectReason.WRONG_KEY, "50", True)


def test_an_unsigned_event_is_refused_before_its_bytes_are_read(hub_env: HubEnv) -> None:
    m = signed(hub_env, make_event(hub_env, "registered", "50", cert("50", 1), 1))
    got = _decode(hub_env, Message(m.topic, m.key, b"not even json", []), m.key)
    assert isinstance(got, DeadLetter)
    assert (got.code, got.province, got.authenticated) == (
        RejectReason.MISSING_SIGNATURE,
        None,
        False,
    )


def test_a_signed_event_too_large_is_refused_before_parsing(hub_env: HubEnv) -> None:
    value = b"[" * (MAX_EVENT_BYTES + 1)
    m = Message(hub_env.topic("50"), b"k", value, signed_headers(hub_env.signers["50"], value))
    got = _decode(hub_env, m, m.key)
    assert isinstance(got, DeadLetter)
    assert (got.code, got.province, got.authenticated) == (RejectReason.OVERSIZED, "50", True)


def test_a_dead_letter_keeps_a_prefix_the_size_and_a_hash_of_the_whole() -> None:
    raw = bytes(range(256)) * 64
    d = DeadLetter("t", 0, 0, None, RejectReason.MALFORMED, "x", raw, None)
    assert (d.raw, d.size, d.sha256) == (
        raw[:KEPT_BYTES],
        len(raw),
        hashlib.sha256(raw).hexdigest(),
    )


def test_an_id_number_is_redacted_from_bytes_that_are_not_json() -> None:
    raw, redacted = redact_id_numbers(b'{"a": [{"id_number" : "11010119900101123X"}, broken')
    assert redacted and b"11010119900101123X" not in raw
    assert raw == b'{"a": [{"id_number" : "[redacted]"}, broken'
    assert redact_id_numbers(b'{"seq": 3}') == (b'{"seq": 3}', False)
