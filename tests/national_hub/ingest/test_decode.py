"""The decoder's checks on one message at a time: message keys and what a dead letter keeps."""

from __future__ import annotations

from hubkit import HubEnv, Message, cert, heartbeat, make_event, signed

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import (
    DeadLetter,
    EventMsg,
    HeartbeatMsg,
    Raw,
    RejectReason,
    redact_id_numbers,
)


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
    got = _decode(hub_env, m, b"44")
    assert isinstance(got, DeadLetter) and got.code == RejectReason.WRONG_KEY and got.is_heartbeat


def test_an_id_number_is_redacted_from_bytes_that_are_not_json() -> None:
    raw, redacted = redact_id_numbers(b'{"a": [{"id_number" : "11010119900101123X"}, broken')
    assert redacted and b"11010119900101123X" not in raw
    assert raw == b'{"a": [{"id_number" : "[redacted]"}, broken'
    assert redact_id_numbers(b'{"seq": 3}') == (b'{"seq": 3}', False)
