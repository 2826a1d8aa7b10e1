"""The decoder during a province key rotation, message by message (no broker): a previous
key's heartbeat is taken while its window lasts and refused key_retired after, by the time the
heartbeat itself carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from hubkit import HubEnv, heartbeat
from rotation import rotate_province_key

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import DeadLetter, HeartbeatMsg
from schemas.timestamps import utc_now


@dataclass(frozen=True)
class Raw:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    partition: int = 0
    offset: int = 0


def decode_heartbeat(env: HubEnv, sent_after_window: timedelta) -> object:
    end = utc_now()
    rotate_province_key(env, "50", end)  # env.signers["50"] stays the old key
    msg = heartbeat(env, "50", 1, 1, sent_at=end + sent_after_window)
    decoder = Decoder(DecoderSpec.from_settings(env.settings()))
    return decoder.decode(Raw(msg.topic, msg.key, msg.value, msg.headers))


def test_previous_key_heartbeat_within_its_window_is_taken(hub_env: HubEnv) -> None:
    assert isinstance(decode_heartbeat(hub_env, timedelta(0)), HeartbeatMsg)


def test_previous_key_heartbeat_after_its_window_is_key_retired(hub_env: HubEnv) -> None:
    got = decode_heartbeat(hub_env, timedelta(milliseconds=1))
    assert isinstance(got, DeadLetter) and (got.code, got.province) == ("key_retired", "50")
