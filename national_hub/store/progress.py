"""How far each province is applied (seq frontier and ranges above it) and what a batch did."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from schemas.events import Heartbeat


@dataclass(frozen=True, slots=True)
class SeqRanges:
    """An immutable set of seqs as sorted, disjoint, non-adjacent closed ranges.

    Seqs applied above a gap are nearly always one run, so memory and the per-batch copy grow
    with the number of gaps, not with how many seqs wait behind them.
    """

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    @classmethod
    def of(cls, seqs: Iterable[int]) -> SeqRanges:
        """The set of these seqs."""
        return cls().union(seqs)

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        i = bisect.bisect_right(self.starts, seq) - 1
        return i >= 0 and seq <= self.ends[i]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self.starts, self.ends, strict=True):
            yield from range(lo, hi + 1)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in zip(self.starts, self.ends, strict=True))

    def __bool__(self) -> bool:
        return bool(self.starts)

    def union(self, seqs: Iterable[int]) -> SeqRanges:
        """This set with the seqs added."""
        new = sorted(set(seqs))
        if not new:
            return self
        # Only ranges the new seqs may touch are walked; those below and above are sliced.
        first = max(0, bisect.bisect_right(self.starts, new[0]) - 1)
        last = bisect.bisect_right(self.starts, new[-1] + 1)
        starts: list[int] = []
        ends: list[int] = []

        def put(lo: int, hi: int) -> None:
            if ends and lo <= ends[-1] + 1:
                if hi > ends[-1]:
                    ends[-1] = hi
            else:
                starts.append(lo)
                ends.append(hi)

        i = first
        for s in new:
            while i < last and self.starts[i] <= s:
                put(self.starts[i], self.ends[i])
                i += 1
            put(s, s)
        for j in range(i, last):
            put(self.starts[j], self.ends[j])
        return SeqRanges(
            self.starts[:first] + tuple(starts) + self.starts[last:],
            self.ends[:first] + tuple(ends) + self.ends[last:],
        )

    def drop_first(self) -> SeqRanges:
        """This set without its lowest range."""
        return SeqRanges(self.starts[1:], self.ends[1:])


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the hub has applied one province's seqs: contiguous frontier and the rest."""

    applied_seq: int = 0
    max_seq: int = 0
    pending: SeqRanges = SeqRanges()


@dataclass(frozen=True, slots=True)
class HeartbeatState:
    """The latest valid heartbeat of a province and when the hub received it."""

    heartbeat: Heartbeat
    received_at: datetime


@dataclass(slots=True)
class ApplyResult:
    """What one batch did to the store."""

    events: int = 0
    applied: int = 0
    skipped: int = 0
    dead_letters: int = 0
    heartbeats: int = 0
    applied_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # (topic, reason code) of messages nobody of the federation signed: no province's refusals.
    unauthenticated_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # (province, seconds from committed_at, on the province's clock, to applied)
    latencies: list[tuple[str, float]] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)
    # Every valid heartbeat of the batch, in consumption order (not only each province's last).
    beats: list[Heartbeat] = field(default_factory=list)
    # Per province, committed_at of the batch's seqs at or above the new frontier: what the
    # freshness estimate needs once the frontier reaches them (usually one seq per province).
    commit_times: dict[str, dict[int, datetime]] = field(default_factory=dict)
    seconds: float = 0.0


def advance(prev: Progress, seqs: Sequence[int]) -> Progress:
    """Fold newly applied seqs into a province's progress; duplicates change nothing.

    Costs the batch's seqs plus the number of gaps, never the number of pending seqs.
    """
    frontier = prev.applied_seq
    above = [s for s in seqs if s > frontier]
    if not above:
        return prev
    pending = prev.pending.union(above)
    top = max(prev.max_seq, max(above))
    # Ranges never touch, so at most the lowest one joins the frontier.
    if pending.starts and pending.starts[0] == frontier + 1:
        frontier = pending.ends[0]
        pending = pending.drop_first()
    return Progress(frontier, top, pending)


def commit_times(
    ev: pa.Table, progress: Mapping[str, Progress], seqs: Mapping[str, Sequence[int]]
) -> dict[str, dict[int, datetime]]:
    """committed_at of each province's batch seqs at or above its new applied frontier."""
    out: dict[str, dict[int, datetime]] = {}
    if not ev.num_rows:
        return out
    provinces = ev.column("province")
    seq = ev.column("seq")
    for prov in seqs:
        frontier = progress[prov].applied_seq if prov in progress else 0
        # Filtered in Arrow: only these few rows become Python objects, not the whole batch.
        mask = pc.and_(pc.equal(provinces, prov), pc.greater_equal(seq, frontier))
        sub = ev.filter(mask)
        if sub.num_rows:
            out[prov] = dict(
                zip(
                    sub.column("seq").to_pylist(),
                    sub.column("committed_at").to_pylist(),
                    strict=True,
                )
            )
    return out
