"""Which events of a batch win: the pure decision of an apply, testable without DuckDB.

An event wins when it is newer than what the hub holds for its certificate (same province,
higher record_version), when the certificate is new, or when it is a transfer-in that kept the
certificate code of the province holding it. The old province's events after such a transfer
are skipped; any other event for a certificate another province holds is refused (a
cert_conflict). Only each certificate's last winner reaches `records`; every winner reaches
history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# (province, cert_no) of a record, as transfer links name both ends.
Ref = tuple[str, str]


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the decision needs of one event, in consumption order."""

    cert_no: str
    province: str
    record_version: int
    seq: int
    type: str
    transfer_from: Ref | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event processed but refused: its seq still counts towards the frontier."""

    index: int
    holder: str  # the province that holds the certificate

    def detail(self, cert_no: str) -> str:
        return (
            f"cert_no {cert_no} is held by province {self.holder}, and this event is not a "
            f"transfer from it"
        )


@dataclass(slots=True)
class Decision:
    """The outcome for one batch; indexes point into the batch's events."""

    winners: dict[str, int] = field(default_factory=dict)  # cert_no → its last winning event
    applied: list[int] = field(default_factory=list)  # every winner, in order (→ history)
    new_links: dict[Ref, Ref] = field(default_factory=dict)  # old → new, of applied transfers
    refused: list[Refusal] = field(default_factory=list)
    skipped: int = 0
    seqs: dict[str, list[int]] = field(default_factory=dict)  # every processed seq, by province
    applied_counts: Counter[tuple[str, str]] = field(default_factory=Counter)


def decide(
    events: Sequence[EventFacts],
    held: Mapping[str, tuple[str, int]],
    links: Mapping[Ref, Ref],
) -> Decision:
    """Decide event by event, in consumption order, against what the hub holds.

    held: cert_no → (province, record_version) of the stored rows the batch touches;
    links: the transfer links already stored for those certificates (old → new).
    """
    out = Decision()
    state = dict(held)
    for i, e in enumerate(events):
        out.seqs.setdefault(e.province, []).append(e.seq)
        cur = state.get(e.cert_no)
        if cur is None or (cur[0] == e.province and e.record_version > cur[1]):
            pass
        elif cur[0] == e.province:
            out.skipped += 1  # a duplicate or a replay: already applied
            continue
        elif e.transfer_from == (cur[0], e.cert_no):
            pass  # transfer-in that kept the certificate code: the new province takes over
        elif (out.new_links.get((e.province, e.cert_no)) or links.get((e.province, e.cert_no))) == (
            cur[0],
            e.cert_no,
        ):
            out.skipped += 1  # the old province's events after a same-code transfer
            continue
        else:
            out.refused.append(Refusal(i, cur[0]))
            continue
        state[e.cert_no] = (e.province, e.record_version)
        out.winners[e.cert_no] = i
        out.applied.append(i)
        out.applied_counts[(e.province, e.type)] += 1
        if e.transfer_from is not None:
            out.new_links[e.transfer_from] = (e.province, e.cert_no)
    return out
