"""Per-event CPU costs of the hub's ingest path, measured piece by piece (issue #6, profiling).

No Kafka: signed `registered` events are built in memory and fed to the hub's own code.

* decode: `national_hub.ingest.decode.Decoder` (signature check, schema validation, name keys) and
  its parts: Ed25519 verification through libsodium (what the hub uses) and through OpenSSL
  (`cryptography`, for comparison), pydantic validation, the pinyin key;
* to_part: turning decoded events into Arrow columns;
* apply: `Store.apply_batch` of one-event batches (a live hub's usual batch) on a store that
  already holds --records records, and of one large batch (catch-up), per event.

    .venv/bin/python bench/hub_costs.py [--events 5000] [--records 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import emit, percentiles, registered_value
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pypinyin import Style, lazy_pinyin

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, EventMsg, Raw, to_part
from national_hub.ingest.names import normalise_name, pinyin_key
from national_hub.store.store import Store
from province_node import synthetic
from schemas.events import parse_event
from schemas.signing import Signer, generate_keypair
from schemas.wire import decode_signature, signed_headers

TOPIC = "bench.events.50"


def per_item_us(fn: Callable[[], Any], n: int) -> float:
    """Microseconds per item of fn(), which handles n items."""
    t = time.perf_counter()
    fn()
    return round((time.perf_counter() - t) / n * 1e6, 2)


def signed_raws(signer: Signer, n: int, seed: int, start_seq: int = 1) -> list[Raw]:
    """n signed `registered` events of province 50 as consumed messages."""
    raws = []
    secret = b"bench-secret-bench-secret-bench!"
    for i, body in enumerate(synthetic.registrations("50", n, seed, 0)):
        value = registered_value("50", start_seq + i, body, secret)
        raws.append(
            Raw(
                TOPIC,
                0,
                start_seq + i,
                body["cert_no"].encode(),
                value,
                signed_headers(signer, value),
            )
        )
    return raws


def fill(store: Store, records: int) -> float:
    """Put `records` plausible rows straight into the records table; seconds taken."""
    t = time.perf_counter()
    store._w.execute(
        "INSERT INTO records SELECT '9' || lpad(i::varchar, 14, '0'), '11', 1, i, 'active',"
        " '张伟' || (i % 5000), '张伟' || (i % 5000), 'zhangwei' || (i % 5000), 'male',"
        " 'physician', 'clinical', ['内科专业'], '12100000450500000X', '医院' || (i % 3000),"
        " '110101', [], md5(i::varchar), '{}', now(), now(), NULL, NULL"
        f" FROM range({records}) t(i) ORDER BY md5(i::varchar)"
    )
    store._w.execute("CHECKPOINT")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--records", type=int, default=1_000_000, help="rows the store holds")
    args = ap.parse_args()
    n = args.events

    private, _ = generate_keypair()
    signer = Signer.load(private)
    raws = signed_raws(signer, n, seed=1)
    decoder = Decoder(DecoderSpec("bench", "bench.heartbeats", (("50", signer.public_pem),)))
    decoder.decode_many(raws[:100])  # warm caches and imports

    verifier = signer.verifier()
    openssl: Ed25519PublicKey = verifier.public_key
    sigs = [(r.value or b"", decode_signature(r.headers[0][1]) or b"") for r in raws]
    names = [normalise_name(parse_event(r.value or b"").record.name) for r in raws]

    items: list[Any] = []
    costs = {
        "decode_us_per_event": per_item_us(lambda: items.extend(decoder.decode_many(raws)), n),
        "verify_libsodium_us": per_item_us(lambda: [verifier.verify(v, s) for v, s in sigs], n),
        "verify_openssl_us": per_item_us(lambda: [openssl.verify(s, v) for v, s in sigs], n),
        "pydantic_parse_us": per_item_us(lambda: [parse_event(r.value or b"") for r in raws], n),
        # Names seen for the first time (its per-name cache emptied first).
        "pinyin_key_us": per_item_us(
            lambda: (pinyin_key.cache_clear(), [pinyin_key(x) for x in names]), n
        ),
        "pypinyin_lazy_pinyin_us": per_item_us(
            lambda: [lazy_pinyin(x, style=Style.NORMAL) for x in names], n
        ),
    }
    assert all(isinstance(i, EventMsg) for i in items), "a benchmark event did not decode"
    costs["to_part_us_per_event"] = per_item_us(lambda: to_part(items), n)

    with tempfile.TemporaryDirectory(prefix="regsync-costs-") as tmp:
        store = Store.open(Path(tmp) / "hub.duckdb")
        try:
            fill_s = fill(store, args.records)
            live = [decoder.decode(r) for r in signed_raws(signer, 300, seed=2)]
            single_ms = []
            for item in live:
                batch = Batch()
                batch.extend([item])
                t = time.perf_counter()
                store.apply_batch(batch)
                single_ms.append((time.perf_counter() - t) * 1000)
            big = Batch()
            big.extend(decoder.decode_many(signed_raws(signer, n, seed=3, start_seq=1000)))
            costs["apply_large_batch_us_per_event"] = per_item_us(lambda: store.apply_batch(big), n)
        finally:
            store.close()

    emit(
        "hub_costs",
        args,
        {
            "costs": costs,
            "apply_one_event_batch_ms": percentiles(single_ms),
            "store_fill_seconds": round(fill_s, 1),
            "notes": "CPU per piece, single-threaded, in this process; the hub runs decode in "
            "worker processes and applies on one writer thread",
        },
    )


if __name__ == "__main__":
    main()
