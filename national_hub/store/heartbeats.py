"""Which signed heartbeats the hub takes: only newer ones, and none from the far future.

A heartbeat is its province's word that it was alive at sent_at (on its own clock) with
committed_seq committed. Two kinds of signed heartbeat must not be taken at that word:

- a re-sent one: anyone who can write to Kafka can send again what a province signed long ago
  (the topic keeps it), e.g. a killed node's last heartbeat every two seconds. A heartbeat is
  taken only if it is newer than the last one taken: a later sent_at, or, sent in the same
  millisecond, more committed or published. A replay refreshes neither liveness nor the clock
  estimate, and is counted as `stale_heartbeat`;
- one from a clock glitch: a node whose clock jumps an hour ahead signs a heartbeat of the
  future. Taken, it would make every true heartbeat after it look old until the wall clock
  caught up (and would set the clock estimate an hour off). A heartbeat is `future_heartbeat`
  when its sent_at lies more than `lead_s` beyond what the province's clock should read on
  arrival: the hub's clock plus the largest offset (sent_at - received_at) of the last `window`
  heartbeats taken. With none taken since the hub started, the hub's clock alone with the
  wider `first_lead_s` (a province clock minutes off is a misconfiguration, not a glitch).

A province clock really stepped forward shows as `step_samples` such heartbeats in a row,
within `step_s` of each other's offset: then they are taken, and the clock is followed.
Nobody without the province's key can forge one, so this path is no replay's.

A last heartbeat that itself lies beyond that bound (taken by an older hub, or as the first
after a restart) no longer blocks: the next heartbeat within the bound is taken even if its
sent_at is earlier. A clock stepped back is not followed this way (its heartbeats are older
than the last one taken): a replay of the province's own history would look the same. Its node
still answers the hub's polls, which keep it from being called offline.

The gate is pure (no DuckDB); its state lives in memory, on the store's writer thread.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from national_hub.ingest.messages import RejectReason
from national_hub.store.progress import HeartbeatState
from schemas.events import Heartbeat


@dataclass(slots=True)
class _Province:
    # Offsets (sent_at - received_at, seconds) of the last heartbeats taken.
    taken: deque[float]
    # Offsets of consecutive heartbeats refused as being of the future (a step, if it lasts).
    ahead: list[float] = field(default_factory=list)


def _newer(hb: Heartbeat, prev: Heartbeat) -> bool:
    return (hb.sent_at, hb.committed_seq, hb.published_seq) > (
        prev.sent_at,
        prev.committed_seq,
        prev.published_seq,
    )


class HeartbeatGate:
    """Decides, heartbeat by heartbeat, whether the store takes it (see the module text)."""

    def __init__(
        self,
        lead_s: float = 10.0,
        first_lead_s: float = 300.0,
        window: int = 60,
        step_samples: int = 5,
        step_s: float = 1.0,
    ) -> None:
        self._lead_s = lead_s
        self._first_lead_s = first_lead_s
        self._window = window
        self._step_samples = step_samples
        self._step_s = step_s
        self._p: dict[str, _Province] = {}

    def admit(
        self, hb: Heartbeat, prev: HeartbeatState | None, now: datetime
    ) -> RejectReason | None:
        """None if the heartbeat, received at `now` (hub clock), is taken; else why not.

        prev: the province's last heartbeat taken (None: none yet).
        """
        p = self._p.get(hb.province)
        if p is None:
            p = self._p[hb.province] = _Province(deque(maxlen=self._window))
        offset = (hb.sent_at - now).total_seconds()
        if p.taken:
            limit = max(p.taken) + self._lead_s
        else:
            limit = self._first_lead_s
        if prev is not None and not _newer(hb, prev.heartbeat):
            prev_ahead = (prev.heartbeat.sent_at - now).total_seconds()
            if prev_ahead <= limit or offset > limit:
                return RejectReason.STALE_HEARTBEAT
            # The last one taken lies in the future itself: it no longer counts.
        elif offset > limit:
            if p.ahead and abs(offset - p.ahead[0]) > self._step_s:
                p.ahead.clear()
            p.ahead.append(offset)
            if len(p.ahead) < self._step_samples:
                return RejectReason.FUTURE_HEARTBEAT
            # The province's clock really moved ahead: follow it from here.
            p.taken.clear()
            p.taken.extend(p.ahead)
        p.ahead.clear()
        p.taken.append(offset)
        return None
