"""Which events of a batch win, and what transfers they confirm: the pure decision of an apply,
testable without DuckDB.

An event wins when it is newer than what the hub holds of its certificate from its province
(higher record_version), or when the certificate is new. Any other province's event for a
certificate the hub holds is refused (a cert_conflict), with two exceptions that make transfers
keeping the certificate code work in either arrival order: a transfer-in from the province
holding the code (a claim), and the events of the province such a claim names (its origin).

Only the old province can release a registration. A transfer link (old province, cert_no) ->
(new province, cert_no), stored when the new province's transfer-in arrives, is confirmed once
the old record is transferred_out with to_province the new province, whichever came first:

- with a new certificate code, a confirmed link supersedes the old record (it has moved); an
  unconfirmed one (the old record active, suspended, revoked, cancelled, transferred out to
  another province, or not at the hub yet) supersedes nothing;
- keeping the code, both provinces' records are kept; the hub shows the claim only once it is
  confirmed (or while the old province has no record of that code at the hub), the old record
  otherwise. The other is kept aside (`unshown_records`), so a late release, or a late origin,
  changes which one is shown.

What is shown, superseded and confirmed depends only on each province's latest record and on the
links: every arrival order, and a rebuild from the topics, ends alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# (province, cert_no) of a record, as transfer links name both ends.
Ref = tuple[str, str]
# A transfer link: (old, new).
Link = tuple[Ref, Ref]

TRANSFERRED_OUT = "transferred_out"
# Empty mappings, never written.
_NO_ROWS: Mapping[str, Held] = {}
_NO_EVENTS: Mapping[str, int] = {}


@dataclass(frozen=True, slots=True)
class Held:
    """A stored record as the decision needs it."""

    province: str
    version: int
    status: str = "active"
    # transfer.to_province of a transferred_out record.
    to_province: str | None = None
    # What supersedes it now (records.superseded_by_*), if anything.
    superseded: Ref | None = None

    def released_to(self, province: str) -> bool:
        """Whether this record is transferred out to that province."""
        return self.status == TRANSFERRED_OUT and self.to_province == province


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the decision needs of one event, in consumption order."""

    cert_no: str
    province: str
    record_version: int
    seq: int
    type: str
    transfer_from: Ref | None = None
    status: str = "active"
    to_province: str | None = None  # transfer.to_province of its record


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


@dataclass(frozen=True, slots=True)
class Move:
    """The record shown for a certificate passes from one province's to another's."""

    from_province: str  # its stored record goes aside (unshown_records)
    to_province: str
    restore: bool  # to_province's record comes back from aside (no event of it in the batch)


@dataclass(slots=True)
class Decision:
    """The outcome for one batch; indexes point into the batch's events."""

    winners: dict[str, int] = field(default_factory=dict)  # cert_no → its shown event
    applied: list[int] = field(default_factory=list)  # every event taken, in order (→ history)
    # (province, cert_no) → its last event taken but not shown (→ unshown_records)
    parked: dict[Ref, int] = field(default_factory=dict)
    moves: dict[str, Move] = field(default_factory=dict)
    # Links new or whose confirmation changed → whether confirmed.
    links: dict[Link, bool] = field(default_factory=dict)
    # What supersedes each shown record whose value must be written: every winner, every
    # certificate moved, and the others whose value changed.
    superseded: dict[str, Ref | None] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)
    skipped: int = 0
    seqs: dict[str, list[int]] = field(default_factory=dict)  # every processed seq, by province
    applied_counts: Counter[tuple[str, str]] = field(default_factory=Counter)


def _shown(cert_no: str, rows: Mapping[str, Held], links: Iterable[Link]) -> str:
    """The province whose record of a contested code is shown (see the module text)."""
    pairs = [
        (old[0], new[0])
        for old, new in links
        if old[1] == cert_no == new[1] and old[0] in rows and new[0] in rows and old[0] != new[0]
    ]
    released = {q for q, p in pairs if rows[q].released_to(p)}
    claiming = {p for q, p in pairs if not rows[q].released_to(p)}
    free = sorted(p for p in rows if p not in released and p not in claiming)
    # Nobody free only in a cycle no node produces; the choice is arbitrary but fixed.
    return free[0] if free else min(rows)


class _State:
    """What the batch has decided so far, event by event."""

    def __init__(
        self,
        held: Mapping[str, Held],
        links: Mapping[Link, bool],
        parked: Mapping[str, Mapping[str, Held]],
    ) -> None:
        self.shown: dict[str, Held] = dict(held)
        self.aside: dict[str, dict[str, Held]] = {c: dict(r) for c, r in parked.items() if r}
        self.links: dict[Link, bool] = dict(links)
        self.by_old: dict[str, set[Link]] = {}
        for link in links:
            self.by_old.setdefault(link[0][1], set()).add(link)

    def row(self, ref: Ref) -> Held | None:
        """The latest record of (province, cert_no), shown or aside."""
        province, cert_no = ref
        shown = self.shown.get(cert_no)
        if shown is not None and shown.province == province:
            return shown
        return self.aside.get(cert_no, {}).get(province)

    def add_link(self, link: Link) -> bool:
        if link in self.links:
            return False
        self.links[link] = False
        self.by_old.setdefault(link[0][1], set()).add(link)
        return True

    def confirmed(self, link: Link) -> bool:
        old = self.row(link[0])
        return old is not None and old.released_to(link[1][0])

    def superseding(self, cert_no: str) -> Ref | None:
        """What supersedes the shown record of cert_no: a confirmed link to another code."""
        shown = self.shown.get(cert_no)
        if shown is None:
            return None
        to = sorted(
            new
            for old, new in self.by_old.get(cert_no, ())
            if old == (shown.province, cert_no) and new[1] != cert_no and self.confirmed((old, new))
        )
        return to[0] if to else None


def decide(
    events: Sequence[EventFacts],
    held: Mapping[str, Held],
    links: Mapping[Link, bool],
    parked: Mapping[str, Mapping[str, Held]] | None = None,
) -> Decision:
    """Decide event by event, in consumption order, against what the hub holds.

    held: cert_no → the shown record of the certificates the batch touches (and of the codes
    its transfer-ins name); links: the stored links (→ confirmed) whose old cert_no is one of
    them; parked: cert_no → province → the records of those certificates kept aside.
    """
    out = Decision()
    st = _State(held, links, parked or {})
    # cert_no → province → its last event taken.
    last: dict[str, dict[str, int]] = {}
    touched: set[str] = set()
    new_links: set[Link] = set()
    for i, e in enumerate(events):
        out.seqs.setdefault(e.province, []).append(e.seq)
        c, p = e.cert_no, e.province
        tf = e.transfer_from if e.transfer_from is not None and e.transfer_from[0] != p else None
        cur = st.shown.get(c)
        aside = st.aside.get(c, _NO_ROWS)
        prev = cur if cur is not None and cur.province == p else aside.get(p)
        if prev is not None:
            if e.record_version <= prev.version:
                out.skipped += 1  # a duplicate or a replay: already applied
                continue
        elif cur is not None:
            holders = {cur.province, *aside}
            claim = tf is not None and tf[1] == c and tf[0] in holders
            origin = any(
                new[1] == c and new[0] in holders
                for old, new in st.by_old.get(c, ())
                if old == (p, c)
            )
            if not (claim or origin):
                out.refused.append(Refusal(i, cur.province))
                continue
        row = Held(p, e.record_version, e.status, e.to_province)
        if tf is not None:
            link = (tf, (p, c))
            if st.add_link(link):
                new_links.add(link)
            touched.add(tf[1])
        if cur is None or (cur.province == p and not aside):
            st.shown[c] = row
        else:
            rows = {cur.province: cur, **aside, p: row}
            show = _shown(c, rows, st.by_old.get(c, ()))
            st.shown[c] = rows.pop(show)
            st.aside[c] = rows
        last.setdefault(c, {})[p] = i
        touched.add(c)
        out.applied.append(i)
        out.applied_counts[(p, e.type)] += 1

    for c in touched:
        for link in st.by_old.get(c, ()):
            ok = st.confirmed(link)
            if link in new_links or ok != links.get(link):
                out.links[link] = ok
        shown = st.shown.get(c)
        if shown is None:
            continue  # the code a transfer-in names, not at the hub (yet)
        mine = last.get(c, _NO_EVENTS)
        shown_at = mine.get(shown.province)
        if shown_at is not None:
            out.winners[c] = shown_at
        before = held.get(c)
        moved = before is not None and before.province != shown.province
        if before is not None and moved:
            out.moves[c] = Move(before.province, shown.province, restore=shown_at is None)
        for p, j in mine.items():
            if p != shown.province:
                out.parked[(p, c)] = j
        sup = st.superseding(c)
        if shown_at is not None or moved or before is None or sup != before.superseded:
            out.superseded[c] = sup
    return out
