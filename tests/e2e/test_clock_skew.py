"""Province clocks 30 s ahead and 30 s behind the hub's: the hub's lag stays true.

Nodes 11 and 44 run under libfaketime (LD_PRELOAD, FAKETIME="+30s" / "-30s"); node 50, Kafka
and the hub keep the true clock. The test measures the truth with its own (true) clock: the age
of the oldest write not yet applied at the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from devstack.stack import Secrets, Stack
from province_node.synthetic import registrations
from tests.e2e.federation import Federation, connect, stack_running, wait_until

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SKEWS = {"11": 30.0, "44": -30.0}
PROVINCES = ["50", *SKEWS]
# The bound on the reported lag's error.
TOLERANCE = 1.0
WRITE_INTERVAL = 0.25
PAUSE_SECONDS = 4.0


def _faketime_env(skew: float) -> dict[str, str]:
    """The environment that sets a process's wall clock `skew` seconds off."""
    return {
        "LD_PRELOAD": str(FAKETIME_LIB),
        "FAKETIME": f"{skew:+g}s",
        # Timers and timeouts keep the real monotonic clock; only the wall clock is off.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


@pytest.fixture(scope="module")
def skewed_stack(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Secrets]]:
    """Nodes 50 (true clock), 11 (+30 s) and 44 (-30 s) and the hub, on the session broker."""
    if not FAKETIME_LIB.exists():
        pytest.fail(f"{FAKETIME_LIB} is missing: install Debian's faketime (./dev test does)")
    spawn = Stack._spawn

    def skewed_spawn(stack: Stack, name: str, cmd: list[str]) -> None:
        skew = SKEWS.get(name.removeprefix("province-")) if name.startswith("province-") else None
        with mock.patch.dict(os.environ, _faketime_env(skew) if skew is not None else {}):
            spawn(stack, name, cmd)

    with contextlib.ExitStack() as stacks:
        # Only while the processes start: restarts and other stacks keep the true clock.
        with mock.patch.object(Stack, "_spawn", skewed_spawn):
            running = stacks.enter_context(
                stack_running(tmp_path_factory.mktemp("skew"), PROVINCES, bootstrap=bootstrap)
            )
        yield running


@pytest.fixture
async def fed(skewed_stack: tuple[Stack, Secrets]) -> AsyncIterator[Federation]:
    async with connect(skewed_stack) as federation:
        yield federation


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _node_commit_time(fed: Federation, code: str) -> tuple[float, float, float]:
    """A write's committed_at on the node's clock, and (before, after) it on the true clock."""
    before = time.time()
    body = next(registrations(code, 1, seed=900))
    token = (await fed.register(code, body))["sync_token"]
    after = time.time()
    record = await fed.node_sync_record(code, body["cert_no"])
    assert record["latest_seq"] == int(token.split(":")[1]), record
    return _ts(record["committed_at"]), before, after


async def _offsets_known(fed: Federation) -> dict[str, float]:
    """The hub's clock_offset_seconds per province, once each is within 0.25 s of the truth.

    Low by the smallest heartbeat transit only; the first estimates may be lower, from
    heartbeats that waited in Kafka for the hub to start.
    """
    truth = {"50": 0.0, **SKEWS}

    async def probe() -> dict[str, float] | None:
        entries = (await fed.sync_status())["provinces"]
        got = {p["province"]: p["clock_offset_seconds"] for p in entries}
        close = all(v is not None and abs(v - truth[k]) <= 0.25 for k, v in got.items())
        return got if close else None

    return await wait_until(probe, 30, "a clock offset within 0.25 s for every province")


async def test_the_nodes_really_run_on_skewed_clocks(fed: Federation) -> None:
    for code, skew in {"50": 0.0, **SKEWS}.items():
        committed, before, after = await _node_commit_time(fed, code)
        assert before + skew - 0.2 <= committed <= after + skew + 0.2, (code, before, after)


async def test_hub_estimates_each_province_clock_offset(fed: Federation) -> None:
    await _offsets_known(fed)


async def test_status_reason_names_a_skewed_clock(fed: Federation) -> None:
    await _offsets_known(fed)
    reasons = {p["province"]: p["reason"] for p in (await fed.sync_status())["provinces"]}
    assert "clock runs 30 s ahead of the hub's" in reasons["11"], reasons
    assert "clock runs 30 s behind the hub's" in reasons["44"], reasons
    assert "clock" not in reasons["50"], reasons


@dataclass
class Write:
    """One write as the test saw it on the true clock: sent at `start`, answered at `end`."""

    start: float
    end: float | None = None


@dataclass(frozen=True)
class Sample:
    """The hub's lag for a province and the true lag's bounds, at one status request."""

    province: str
    applied: int
    hub_lag: float
    truth_low: float
    truth_high: float
    # What the hub can know: the newest applied write's age. A node starved of CPU commits,
    # then says nothing for a while; until it speaks the hub cannot tell that nothing else
    # was committed meanwhile, so its lag may be up to this large without being wrong.
    knowable_high: float

    @property
    def error(self) -> float:
        """How far the hub's figure lies outside what is true or knowable (0 inside)."""
        high = max(self.truth_high, self.knowable_high)
        return max(self.truth_low - self.hub_lag, self.hub_lag - high, 0.0)


async def _write_steadily(
    fed: Federation, code: str, writes: dict[int, Write], stop: asyncio.Event, first: asyncio.Event
) -> None:
    """One registration every WRITE_INTERVAL until stopped; seq -> when, on the true clock.

    Nothing else writes meanwhile, so a write in flight is filed under the next seq at once:
    it may be committed (and waiting) before its answer arrives.
    """
    bodies = registrations(code, 1000, seed=901)
    last: int | None = None
    while not stop.is_set():
        w = Write(time.time())
        if last is not None:
            writes[last + 1] = w
        token = (await fed.register(code, next(bodies)))["sync_token"]
        w.end = time.time()
        last = int(token.split(":")[1])
        writes[last] = w
        first.set()
        await asyncio.sleep(WRITE_INTERVAL)


def _sample(
    province: str, hub_lag: float, writes: dict[int, Write], applied: int, q0: float, q1: float
) -> Sample:
    """Judge a status answered between q0 and q1 (true clock) with `applied` and `hub_lag`.

    The true lag is the age of the oldest committed write not yet applied (seq applied + 1):
    at least q0 - its answer, at most q1 - its request; 0 when nothing waits.
    """
    low = high = 0.0
    nxt = writes.get(applied + 1)
    if nxt is not None and nxt.start <= q1:
        end = nxt.end if nxt.end is not None else q1
        low, high = max(0.0, q0 - end), max(0.0, q1 - nxt.start)
    newest = writes.get(applied)
    knowable = q1 - newest.start if newest is not None else high
    return Sample(province, applied, hub_lag, low, high, knowable)


async def _caught_up(fed: Federation, writes: dict[str, dict[int, Write]]) -> bool:
    """Whether the hub applied each province's first write of the test (earlier ones too).

    From then on its frontier is always one of the test's writes, whose times are known.
    """
    entries = (await fed.sync_status())["provinces"]
    return all(p["applied_seq"] >= min(writes[p["province"]]) for p in entries)


async def test_reported_lag_stays_within_a_second_of_the_truth(fed: Federation) -> None:
    await _offsets_known(fed)
    writes: dict[str, dict[int, Write]] = {code: {} for code in PROVINCES}
    stop = asyncio.Event()
    first = {code: asyncio.Event() for code in PROVINCES}
    writers = [
        asyncio.create_task(_write_steadily(fed, code, writes[code], stop, first[code]))
        for code in PROVINCES
    ]
    samples: list[Sample] = []

    async def sample_for(seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            q0 = time.time()
            entries: list[dict[str, Any]] = (await fed.sync_status())["provinces"]
            q1 = time.time()
            for p in entries:
                code = p["province"]
                samples.append(
                    _sample(code, p["lag_seconds"], writes[code], p["applied_seq"], q0, q1)
                )
            await asyncio.sleep(0.3)

    try:
        for started in first.values():
            await asyncio.wait_for(started.wait(), 30)
        await wait_until(lambda: _caught_up(fed, writes), 30, "the first writes applied")
        await sample_for(4.0)
        # The hub stops applying for a while: the true lag grows to PAUSE_SECONDS, then falls.
        await fed.set_ingest_paused(True)
        try:
            await sample_for(PAUSE_SECONDS)
        finally:
            await fed.set_ingest_paused(False)
        await sample_for(4.0)
    finally:
        stop.set()
        await asyncio.gather(*writers)

    for code in PROVINCES:
        mine = [s for s in samples if s.province == code]
        assert len(mine) >= 20, mine
        # The pause really made the truth large, so a clock off by 30 s would show either way.
        assert max(s.truth_low for s in mine) >= PAUSE_SECONDS - 1.5, mine
        worst = max(mine, key=lambda s: s.error)
        assert worst.error <= TOLERANCE, (code, worst, f"test writes: seqs {min(writes[code])}..")


async def test_eta_of_a_skewed_province_event_is_seconds_not_half_a_minute(
    fed: Federation,
) -> None:
    await fed.set_ingest_paused(True)
    try:
        for code in SKEWS:
            token = (await fed.register(code, next(registrations(code, 1, seed=902))))["sync_token"]

            async def in_transit(token: str = token) -> dict[str, Any] | None:
                got = await fed.explain(token=token)
                return got if got["state"] == "in_transit" else None

            explained = await wait_until(in_transit, 20, f"{token} in transit")
            assert 0 < explained["eta_seconds"] < 5, explained
    finally:
        await fed.set_ingest_paused(False)
