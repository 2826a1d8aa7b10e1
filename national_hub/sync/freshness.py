"""How fresh the hub's copy of each province is: the time up to which it is complete, and lag.

The hub is complete for province P up to the latest time T such that every event P committed
by T is applied. Evidence for T, all kept in memory only:

- committed_at of the frontier event (the contiguous applied_seq): everything committed up to
  then is applied;
- observations "committed_seq was C at time t" from P's heartbeats (t = sent_at, the node's
  clock) and from the hub's polls of P's node (t = when the request left, the hub's clock):
  when C <= applied_seq, everything P committed by t is applied.

T is the largest such time, capped below committed_at of event applied_seq + 1 when known (the
node reports it as oldest_unpublished_at while that event waits in its outbox). lag = now - T.

Province timestamps (sent_at, committed_at, oldest_unpublished_at) are kept as the province
sent them and moved onto the hub's clock when T is computed, with the province's clock offset
as then estimated from its heartbeats (national_hub.sync.clock): a province whose clock runs 30 s
ahead would otherwise look 30 s fresher than it is, and one running 30 s behind staler.

An idle province with flowing heartbeats therefore shows about one heartbeat interval of lag,
and a province whose events are stuck shows the age of its oldest unapplied commit.

After a restart the history is empty; it is seeded from the store's last heartbeat and fills
again within a heartbeat interval, so nothing new is persisted.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from national_hub.store.progress import ApplyResult, HeartbeatState, Progress
from national_hub.sync.clock import ClockOffset
from national_hub.tuning import FreshnessTuning
from schemas.events import Heartbeat
from schemas.timestamps import utc_now

# The tuning a tracker built without one uses: hub.tuning.freshness's defaults.
_DEFAULT_TUNING = FreshnessTuning()


@dataclass(frozen=True, slots=True)
class Observation:
    """At time `at` (hub clock), the province had committed up to `committed_seq`."""

    at: datetime
    committed_seq: int


@dataclass(slots=True)
class _Province:
    """Everything remembered about one province's freshness."""

    clock: ClockOffset
    # Separate streams because each is ordered by its own clock: heartbeats and commit times
    # by the province's, polls and reported_at by the hub's. observations_kept of each (~20
    # minutes of one-second heartbeats) find the last "complete" observation when the hub is
    # that far behind; older evidence would only give a lower bound on a larger lag.
    heartbeats: deque[Observation]
    polls: deque[Observation]
    commit_times: dict[int, datetime] = field(default_factory=dict)
    # The province's latest (published_seq, oldest_unpublished_at) as reported; reported_at
    # is on the hub's clock, to order heartbeats and polls.
    published_seq: int = 0
    oldest_unpublished_at: datetime | None = None
    reported_at: datetime | None = None
    # The frontier last seen, and time.time() when it last moved (None: not since start).
    frontier: int | None = None
    advanced_at: float | None = None


def _latest_complete(obs: deque[Observation], applied_seq: int) -> datetime | None:
    """The newest observation time at which the province had committed nothing unapplied."""
    # committed_seq never decreases within one stream, so the first match from the end is the
    # newest; usually that is the very last observation.
    for o in reversed(obs):
        if o.committed_seq <= applied_seq:
            return o.at
    return None


class FreshnessTracker:
    """Per-province completeness time and lag, fed by applied batches, heartbeats and polls.

    tuning: hub.tuning.freshness (how much is kept, the apply-rate assumptions, the clock).
    """

    def __init__(
        self,
        tuning: FreshnessTuning = _DEFAULT_TUNING,
        progress: Mapping[str, Progress] | None = None,
    ) -> None:
        self._tuning = tuning
        self._p: dict[str, _Province] = {}
        self._progress: Mapping[str, Progress] = progress or {}
        # (time.time(), events, apply seconds) per applied batch, for the apply rate.
        self._batches: deque[tuple[float, int, float]] = deque(maxlen=1000)
        self._last_apply_seconds = 0.0

    def _get(self, province: str) -> _Province:
        p = self._p.get(province)
        if p is None:
            t = self._tuning
            p = self._p[province] = _Province(
                clock=ClockOffset(t.clock_window, t.clock_step_s, t.clock_step_samples),
                heartbeats=deque(maxlen=t.observations_kept),
                polls=deque(maxlen=t.observations_kept),
            )
        return p

    # ---- feeding ---------------------------------------------------------------------------

    def seed(self, heartbeats: Iterable[HeartbeatState], progress: Mapping[str, Progress]) -> None:
        """Start from what the store remembers (after a restart)."""
        self._progress = progress
        for province, prog in progress.items():
            self._get(province).frontier = prog.applied_seq
        for state in heartbeats:
            self.observe_heartbeat(state.heartbeat, state.received_at)

    def observe_heartbeat(self, hb: Heartbeat, received_at: datetime | None = None) -> None:
        """A heartbeat: committed_seq at sent_at, and the outbox head.

        With `received_at` (hub clock, when it reached the hub promptly) it is also a sample
        of the province's clock offset.
        """
        p = self._get(hb.province)
        if received_at is not None and p.clock.add(hb.sent_at, received_at):
            # The province's clock was stepped back: its earlier heartbeats lie in its new
            # future and would claim completeness the hub does not have.
            p.heartbeats.clear()
        last = p.heartbeats[-1] if p.heartbeats else None
        if last is None or hb.sent_at >= last.at:
            p.heartbeats.append(Observation(hb.sent_at, hb.committed_seq))
        self._report(p, p.clock.to_hub(hb.sent_at), hb.published_seq, hb.oldest_unpublished_at)

    def observe_poll(
        self,
        province: str,
        at: datetime,
        committed_seq: int,
        published_seq: int,
        oldest_unpublished_at: datetime | None,
    ) -> None:
        """A node status answer to a request sent at `at` (hub clock)."""
        p = self._get(province)
        last = p.polls[-1] if p.polls else None
        if last is None or at >= last.at:
            p.polls.append(Observation(at, committed_seq))
        self._report(p, at, published_seq, oldest_unpublished_at)

    @staticmethod
    def _report(p: _Province, at: datetime, published_seq: int, oldest: datetime | None) -> None:
        """The outbox head as of `at` (hub clock); `oldest` is on the province's clock."""
        if p.reported_at is None or at >= p.reported_at:
            p.reported_at = at
            p.published_seq = published_seq
            p.oldest_unpublished_at = oldest

    def observe_apply(
        self,
        result: ApplyResult,
        progress: Mapping[str, Progress],
        heartbeats: Mapping[str, HeartbeatState] | None = None,
    ) -> None:
        """An applied batch: new frontiers, commit times of their events, heartbeats in it.

        `heartbeats` is the store's latest heartbeat per province after the batch: its
        received_at (when the apply began, hub clock) dates the batch's heartbeats.
        """
        now = time.time()
        self._progress = progress
        if result.events:
            self._batches.append((now, result.events, result.seconds))
        # A batch's heartbeats are clock samples only if it and the one before it together
        # applied within live_apply_s: otherwise they may have waited in the hub, and their
        # samples would understate the offset (e.g. during catch-up).
        live = result.seconds + self._last_apply_seconds <= self._tuning.live_apply_s
        self._last_apply_seconds = result.seconds
        for hb in result.beats:
            state = heartbeats.get(hb.province) if heartbeats is not None and live else None
            # Only the heartbeat the store kept is dated: any older one of the batch waited.
            received = state.received_at if state is not None and state.heartbeat is hb else None
            self.observe_heartbeat(hb, received)
        for province, times in result.commit_times.items():
            self._get(province).commit_times.update(times)
        for province in set(result.progress) | set(result.commit_times):
            p = self._get(province)
            frontier = progress[province].applied_seq if province in progress else 0
            if p.frontier != frontier:
                p.frontier = frontier
                p.advanced_at = now
            if p.commit_times:
                # Only the frontier and what lies above it can matter again.
                p.commit_times = {s: t for s, t in p.commit_times.items() if s >= frontier}
                # Beyond commit_times_kept the lowest are dropped (the estimate then falls
                # back on observations, still a valid lower bound).
                kept = self._tuning.commit_times_kept
                if len(p.commit_times) > kept:
                    keep = sorted(p.commit_times)[-kept:]
                    p.commit_times = {s: p.commit_times[s] for s in keep}

    # ---- answers ---------------------------------------------------------------------------

    def applied_seq(self, province: str) -> int:
        """The contiguous applied frontier as of the last apply seen."""
        prog = self._progress.get(province)
        return prog.applied_seq if prog else 0

    def complete_until(self, province: str) -> datetime | None:
        """T: every event the province committed by T is applied (None: no evidence yet)."""
        p = self._p.get(province)
        if p is None:
            return None
        applied = self.applied_seq(province)
        hub = p.clock.to_hub
        frontier_commit = p.commit_times.get(applied) if applied else None
        heartbeat = _latest_complete(p.heartbeats, applied)
        candidates = [
            t
            for t in (
                hub(frontier_commit) if frontier_commit is not None else None,
                hub(heartbeat) if heartbeat is not None else None,
                _latest_complete(p.polls, applied),
            )
            if t is not None
        ]
        if not candidates:
            return None
        complete = max(candidates)
        # Event applied+1 exists and is not applied: nothing from its commit on is complete.
        oldest = p.oldest_unpublished_at
        if p.published_seq == applied and oldest is not None and hub(oldest) <= complete:
            complete = hub(oldest) - timedelta(milliseconds=1)
        return complete

    def lag_seconds(self, province: str, now: datetime | None = None) -> float | None:
        """now - T in seconds, never negative; None without evidence."""
        complete = self.complete_until(province)
        if complete is None:
            return None
        now = now or utc_now()
        return max(0.0, (now - complete).total_seconds())

    def last_advance(self, province: str) -> float | None:
        """time.time() when the province's frontier last moved (None: not since start)."""
        p = self._p.get(province)
        return p.advanced_at if p is not None else None

    def apply_rate(self, now: float | None = None) -> float:
        """Recent events applied per second of apply time (default_apply_rate if unmeasured)."""
        now = time.time() if now is None else now
        events = 0
        seconds = 0.0
        for at, n, secs in reversed(self._batches):
            if now - at > self._tuning.apply_rate_window_s:
                break
            events += n
            seconds += secs
        if events < 50 or seconds <= 0:
            # A few tiny batches measure transaction overhead, not throughput.
            return self._tuning.default_apply_rate
        return events / seconds

    def eta_seconds(self, province: str, event_seq: int) -> float:
        """Seconds until the province's event is likely applied, once ingest runs."""
        behind = max(1, event_seq - self.applied_seq(province))
        # pipeline_s: one event's cost with nothing queued before it (the consumer's fetch wait
        # of 200 ms, decoding, one small apply transaction).
        return round(self._tuning.pipeline_s + behind / self.apply_rate(), 2)

    def clock_offset(self, province: str) -> float | None:
        """The province's clock minus the hub's, in seconds (None: no heartbeat sample yet)."""
        p = self._p.get(province)
        return p.clock.seconds if p is not None else None

    def to_hub(self, province: str, at: datetime) -> datetime:
        """A timestamp from the province's clock on the hub's."""
        p = self._p.get(province)
        return p.clock.to_hub(at) if p is not None else at
