"""The notifier on real Kafka with a real HTTP receiver: signed, ordered, retried, rostered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hubkit import HubEnv, cert, free_port, make_event, send_events, wait_for
from webhook_receiver import Receiver, serving

from national_hub.config import HubSettings
from national_hub.notify.access import WatchAccess
from national_hub.notify.institutions import Institutions
from national_hub.notify.notifier import BEIJING, Notifier
from national_hub.notify.schema import connect
from national_hub.notify.signing import verify
from national_hub.notify.watchlist import WatchList
from national_hub.notify.webhooks import Webhooks

ORG = "12500000450400012K"
SITE = "12500103450400233L"
# Fast retries and a short lease, so the tests see backoff and takeover in seconds.
NOTIFY_TUNING = """
[hub.tuning.notify]
lease_s = 2.0
backoff_base_s = 0.2
backoff_max_s = 0.5
timeout_s = 1.0
poll_s = 0.02
"""


@dataclass
class Setup:
    env: HubEnv
    settings: HubSettings
    secret: str
    webhook: str

    def watch(self, org: str, certs: list[str]) -> None:
        conn = connect(self.settings.notify_store_path)
        WatchList(conn, 100).add(org, certs, lambda cs: set(cs))
        conn.close()


@pytest.fixture
async def setup(kafka_env: HubEnv, receiver: Receiver) -> Setup:
    """The federation with fast notify tuning, ORG enrolled with a webhook to the receiver."""
    with kafka_env.config.open("a", encoding="utf-8") as f:
        f.write(NOTIFY_TUNING)
    settings = kafka_env.settings()
    conn = connect(settings.notify_store_path)
    Institutions(conn).add(ORG, "重庆医科大学附属第一医院")
    hook = Webhooks(conn).create(ORG, receiver.url)
    conn.close()
    assert hook.secret is not None
    return Setup(kafka_env, settings, hook.secret, hook.id)


@contextlib.asynccontextmanager
async def notifier(settings: HubSettings) -> AsyncIterator[Notifier]:
    """A notifier running in this process, active once it holds the lease."""
    n = Notifier(settings)
    task = asyncio.create_task(n.run())
    await asyncio.wait_for(n.active.wait(), 10)
    try:
        yield n
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def until(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return check()

    return probe


async def test_suspension_reaches_the_webhook_signed(setup: Setup, receiver: Receiver) -> None:
    c = cert("50", 1)
    setup.watch(ORG, [c])
    async with notifier(setup.settings):
        await send_events(setup.env, [make_event(setup.env, "suspended", "50", c, 2)])
        await wait_for(until(lambda: len(receiver.acked) == 1))
    call = receiver.calls[0]
    assert verify(setup.secret, call.signature, call.body)
    assert call.notification["kind"] == "suspended" and call.id == call.notification["id"]


async def test_delivery_latency_is_measured(setup: Setup, receiver: Receiver) -> None:
    c = cert("50", 3)
    setup.watch(ORG, [c])
    async with notifier(setup.settings) as n:
        await send_events(setup.env, [make_event(setup.env, "revoked", "50", c, 2)])
        await wait_for(until(lambda: len(receiver.acked) == 1))
        metrics = n.metrics.render().decode()
    assert f'regsync_notify_delivery_latency_seconds_count{{institution="{ORG}"}} 1.0' in metrics


async def test_notification_carries_the_public_record(setup: Setup, receiver: Receiver) -> None:
    c = cert("50", 2)
    setup.watch(ORG, [c])
    async with notifier(setup.settings):
        await send_events(setup.env, [make_event(setup.env, "cancelled", "50", c, 2)])
        await wait_for(until(lambda: len(receiver.acked) == 1))
    body = receiver.calls[0].notification
    assert body["record"]["cert_no"] == c and "person_ref" not in body["record"]
    assert "法定事由" in body["summary"]


async def test_failing_receiver_gets_everything_once_in_order(
    setup: Setup, receiver: Receiver
) -> None:
    certs = [cert("50", n) for n in (10, 11)]
    setup.watch(ORG, certs)
    receiver.fail_first = 4
    kinds = ["suspended", "reinstated", "suspended"]
    events = [
        make_event(setup.env, k, "50", c, v) for c in certs for v, k in enumerate(kinds, start=2)
    ]
    async with notifier(setup.settings):
        await send_events(setup.env, events)
        await wait_for(until(lambda: len(receiver.acked) == len(events)), seconds=30)
    acked = [c.notification for c in receiver.acked]
    assert len({n["id"] for n in acked}) == len(events)
    for c in certs:
        assert [n["kind"] for n in acked if n["cert_no"] == c] == kinds


async def test_roster_follows_a_site_filed_then_withdrawn(setup: Setup, receiver: Receiver) -> None:
    conn = connect(setup.settings.notify_store_path)
    Institutions(conn).add(SITE, "重庆市渝中区人民医院")
    WatchList(conn, 100).set_roster(SITE, True)
    hook = Webhooks(conn).create(SITE, receiver.url)
    conn.close()
    c = cert("50", 20)
    story = ["registered", "site_filed", "site_withdrawn", "suspended"]
    events = [make_event(setup.env, k, "50", c, v) for v, k in enumerate(story, start=1)]
    async with notifier(setup.settings):
        await send_events(setup.env, events)
        await wait_for(until(lambda: len(receiver.acked) >= 2))
        # The suspension after the withdrawal must not follow: give it time to (not) come.
        await asyncio.sleep(1.0)
    told = [n.notification["kind"] for n in receiver.acked]
    assert told == ["site_filed", "site_withdrawn"] and hook.id


async def test_feed_long_poll_answers_when_a_notification_comes(setup: Setup) -> None:
    c = cert("50", 30)
    setup.watch(ORG, [c])
    access = WatchAccess(setup.settings.notify_store_path, 100, 0.02)
    await access.start()
    try:
        async with notifier(setup.settings):
            waiting = asyncio.create_task(access.feed(ORG, 0, 10, wait=20))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            start = time.monotonic()
            await send_events(setup.env, [make_event(setup.env, "revoked", "50", c, 2)])
            items = await waiting
        assert [b["kind"] for _, b in items] == ["revoked"] and time.monotonic() - start < 10
    finally:
        await access.stop()


async def test_dead_after_the_retry_window_then_redelivered(
    setup: Setup, receiver: Receiver
) -> None:
    with setup.env.config.open("a", encoding="utf-8") as f:
        f.write("retry_for_s = 1.0\n")
    settings = setup.env.settings()
    c = cert("50", 40)
    setup.watch(ORG, [c])
    receiver.fail_first = 10_000
    conn = connect(settings.notify_store_path)
    webhooks = Webhooks(conn)

    def state() -> str | None:
        rows = webhooks.deliveries(ORG, setup.webhook, 0, 10)
        return rows[0]["state"] if rows else None

    async with notifier(settings):
        await send_events(setup.env, [make_event(setup.env, "suspended", "50", c, 2)])
        await wait_for(until(lambda: state() == "dead"), seconds=15)
        receiver.fail_first = 0
        webhooks.redeliver(ORG, webhooks.deliveries(ORG, setup.webhook, 0, 10)[0]["id"])
        await wait_for(until(lambda: state() == "delivered"), seconds=15)
    conn.close()


async def test_assessment_due_in_thirty_days_is_reminded(setup: Setup, receiver: Receiver) -> None:
    c = cert("50", 50)
    setup.watch(ORG, [c])
    due = datetime.now(BEIJING).date() + timedelta(days=30)
    event = make_event(setup.env, "registered", "50", c, 1)
    event = event.model_copy(
        update={"record": event.record.model_copy(update={"next_assessment_due": due})}
    )
    async with notifier(setup.settings):
        await send_events(setup.env, [event])
        await wait_for(until(lambda: len(receiver.acked) == 2))
    reminder = receiver.acked[-1].notification
    assert (reminder["kind"], reminder["record"]["next_assessment_due"]) == (
        "assessment_due_soon",
        due.isoformat(),
    )


async def test_a_slow_receiver_does_not_delay_another(
    setup: Setup, receiver: Receiver, other_receiver: Receiver
) -> None:
    # ORG's receiver never answers within the timeout; SITE's answers at once.
    receiver.delay = 5.0
    conn = connect(setup.settings.notify_store_path)
    Institutions(conn).add(SITE, "重庆市渝中区人民医院")
    Webhooks(conn).create(SITE, other_receiver.url)
    conn.close()
    certs = [cert("50", n) for n in range(60, 70)]
    setup.watch(ORG, certs)
    setup.watch(SITE, certs)
    async with notifier(setup.settings):
        await send_events(
            setup.env, [make_event(setup.env, "suspended", "50", c, 2) for c in certs]
        )
        start = time.monotonic()
        await wait_for(until(lambda: len(other_receiver.acked) == len(certs)), seconds=10)
        took = time.monotonic() - start
    assert took < 2.0 and receiver.acked == []


async def test_receiver_down_then_back_gets_everything_once_in_order(setup: Setup) -> None:
    # SITE's receiver is down (its port refuses connections) while the changes come.
    port = free_port()
    conn = connect(setup.settings.notify_store_path)
    Institutions(conn).add(SITE, "重庆市渝中区人民医院")
    Webhooks(conn).create(SITE, f"http://127.0.0.1:{port}/hook")
    conn.close()
    certs = [cert("50", n) for n in (70, 71, 72)]
    setup.watch(SITE, certs)
    kinds = ["suspended", "reinstated", "suspended", "reinstated"]
    events = [
        make_event(setup.env, k, "50", c, v) for c in certs for v, k in enumerate(kinds, start=2)
    ]
    back = Receiver()
    async with notifier(setup.settings):
        await send_events(setup.env, events)
        await asyncio.sleep(2.0)
        async with serving(back, port):
            await wait_for(until(lambda: len(back.acked) >= len(events)), seconds=30)
    by_id = {c.id: c.notification for c in back.acked}
    assert len(by_id) == len(back.acked) == len(events)
    for c in certs:
        assert [by_id[x.id]["kind"] for x in back.acked if by_id[x.id]["cert_no"] == c] == kinds
