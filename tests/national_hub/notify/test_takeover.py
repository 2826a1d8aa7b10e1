"""SIGKILL of the delivering `national-hub notify` during a burst of 1,000 changes: a standby
takes over, nothing is lost, duplicates are re-deliveries with the same id, order per
certificate holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hubkit import HubEnv, cert, make_event, send_events, wait_for
from webhook_receiver import Receiver

from national_hub.notify.derive import notification_id
from national_hub.notify.institutions import Institutions
from national_hub.notify.schema import connect
from national_hub.notify.signing import verify
from national_hub.notify.watchlist import WatchList
from national_hub.notify.webhooks import Webhooks

ORG = "12500000450400012K"
CERTS = [cert("50", n) for n in range(100, 200)]
VERSIONS = range(2, 12)  # ten changes per certificate: 1,000 in all
TUNING = """
[hub.tuning.notify]
lease_s = 2.0
backoff_base_s = 0.2
backoff_max_s = 0.5
timeout_s = 2.0
poll_s = 0.02
"""


@contextmanager
def notifiers(env: HubEnv, n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """n `national-hub notify` processes on the federation; killed at the end."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "national_hub.cli", "notify", "--config", str(env.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)


def lease_holder_pid(env: HubEnv) -> int | None:
    conn = connect(env.settings().notify_store_path)
    try:
        row = conn.execute("SELECT holder, expires_at FROM lease").fetchone()
    finally:
        conn.close()
    if row is None or row["expires_at"] < time.time():
        return None
    return int(row["holder"].split("-")[1])


async def test_sigkill_of_the_active_notifier_loses_nothing(
    kafka_env: HubEnv, receiver: Receiver
) -> None:
    with kafka_env.config.open("a", encoding="utf-8") as f:
        f.write(TUNING)
    conn = connect(kafka_env.settings().notify_store_path)
    Institutions(conn).add(ORG, "重庆医科大学附属第一医院")
    WatchList(conn, 1000).add(ORG, CERTS, lambda cs: set(cs))
    secret = Webhooks(conn).create(ORG, receiver.url).secret
    conn.close()
    assert secret is not None
    kinds = ["suspended", "reinstated"]
    events = [
        make_event(kafka_env, kinds[v % 2], "50", c, v) for v in VERSIONS for c in CERTS
    ]
    with notifiers(kafka_env, 2) as procs:

        async def active() -> int | None:
            return lease_holder_pid(kafka_env)

        first = await wait_for(active, seconds=30)
        await send_events(kafka_env, events)

        async def some_acked() -> bool:
            return len(receiver.acked) >= 200

        await wait_for(some_acked, seconds=60)
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()

        async def taken_over() -> int | None:
            pid = lease_holder_pid(kafka_env)
            return pid if pid not in (None, first) else None

        second = await wait_for(taken_over, seconds=30)
        takeover_s = time.monotonic() - killed_at
        want = {notification_id(str(e.event_id), ORG) for e in events}

        async def all_acked() -> bool:
            return {c.id for c in receiver.acked} >= want

        await wait_for(all_acked, seconds=120)
        assert second in {p.pid for p in procs}

    acked_ids = [c.id for c in receiver.acked]
    first_ack: dict[str, int] = {}
    for i, call in enumerate(receiver.acked):
        first_ack.setdefault(call.id, i)
    by_id = {c.id: c.notification for c in receiver.acked}
    order = sorted(first_ack, key=first_ack.__getitem__)
    # Nothing lost, nothing extra; every duplicate carries an id already delivered.
    assert set(acked_ids) == want
    assert all(verify(secret, c.signature, c.body) for c in receiver.acked)
    # Per-certificate order: each certificate's notifications first arrived in version order.
    for c in CERTS:
        seen = [by_id[i]["event_id"] for i in order if by_id[i]["cert_no"] == c]
        expected = [str(e.event_id) for e in events if e.cert_no == c]
        assert seen == expected
    print(f"takeover after {takeover_s:.1f} s; {len(acked_ids) - len(want)} re-deliveries")
