"""The node's rotation step on the real broker: events committed under the old key and not yet
published, then a restart with the new key; what reaches the topic is accepted by a hub whose
federation file names the new key (the relay names the new kid, so they must be signed by it)."""

from __future__ import annotations

import json
from datetime import timedelta

from nodekit import FedEnv, consume, registration, start_node

from national_hub.config import HubSettings
from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import EventMsg
from province_node.importer import import_file
from province_node.registry import Store
from schemas.signing import write_keypair
from schemas.timestamps import format_utc, utc_now

EVENTS = 5


def rotate(fed: FedEnv) -> None:
    """New key pair; the file names it as public_key and signing_key, the old one previous."""
    write_keypair(fed.root / "keys" / "50-2")
    window_end = format_utc(utc_now() + timedelta(hours=1))
    text = fed.config.read_text(encoding="utf-8")
    text = text.replace(
        'public_key = "keys/50.pub"',
        'public_key = "keys/50-2.pub"\n'
        f'previous_keys = [{{public_key = "keys/50.pub", not_after = {window_end}}}]',
    ).replace('signing_key = "keys/50.key"', 'signing_key = "keys/50-2.key"')
    fed.config.write_text(text, encoding="utf-8")


async def test_unpublished_events_of_the_old_key_reach_the_hub_under_the_new_one(
    fed: FedEnv,
) -> None:
    before = fed.settings()
    rows = fed.root / "rows.jsonl"
    rows.write_text("".join(json.dumps(registration(i)) + "\n" for i in range(1, EVENTS + 1)))
    store = Store(before.db_path, "50", before.load_signer(), before.load_secret())
    store.open()
    try:
        import_file(store, rows)  # committed under the old key, never published
    finally:
        store.close()
    rotate(fed)
    node = await start_node(fed.settings(), fed.tokens)
    try:
        records = await consume(fed.bootstrap, fed.topic(), lambda seen: len(seen) >= EVENTS)
    finally:
        await node.client.close()
    decoder = Decoder(DecoderSpec.from_settings(HubSettings.load(fed.config)))
    decoded = [decoder.decode(r) for r in records]
    assert [type(d).__name__ for d in decoded] == [EventMsg.__name__] * EVENTS
