"""The nodes' answers about a cert_no, as explanations ask for them: shared and remembered.

Clients poll a record that is not visible yet many times a second, and someone may explain
made-up numbers in a loop; each miss would otherwise ask every node again. Concurrent and
recent identical questions share one round (node_answer_ttl_s), and a node's "I hold no such
record" is believed for node_unknown_ttl_s (at most node_unknowns_kept of them, oldest dropped
first), so such a loop costs the nodes one question every few seconds. A node that does not
answer, or that holds the number, is asked again next time.

NODES_ASKED lets the web layer charge a request for the rounds to several nodes it caused
(national_hub.web.middleware).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

from national_hub.sync.node_client import NodeClient, NodeRecord, NodeUnreachable
from national_hub.tuning import SyncTuning

Answers = dict[str, NodeRecord | NodeUnreachable]


class NodesAsked:
    """How often serving one request made the hub ask more than one node afresh."""

    __slots__ = ("fan_outs",)

    def __init__(self) -> None:
        self.fan_outs = 0


# Set by the web layer around each request it weighs by cost; NodeAnswers counts into it the
# rounds of questions to several nodes that it did not find shared or remembered.
NODES_ASKED: ContextVar[NodesAsked | None] = ContextVar("hub_nodes_asked", default=None)


def _not_held(province: str) -> NodeRecord:
    """A node's answer that it holds no such cert_no (as remembered, not asked again)."""
    return NodeRecord(
        province=province,
        exists=False,
        latest_seq=None,
        record_version=None,
        committed_at=None,
        published=False,
        published_at=None,
    )


class NodeAnswers:
    """The nodes' answers about a cert_no, shared with identical questions of the last moment,
    and a node's recent "no such record" believed without asking it again."""

    def __init__(self, nodes: NodeClient, tuning: SyncTuning) -> None:
        self._nodes = nodes
        self._tuning = tuning
        # (cert_no, provinces asked) -> (when it expires, the nodes' answers).
        self._rounds: dict[tuple[str, tuple[str, ...]], tuple[float, asyncio.Future[Answers]]] = {}
        # (province, cert_no) -> until when that node's "no such record" is believed; oldest
        # first (insertion order).
        self._not_held: dict[tuple[str, str], float] = {}

    async def get(self, cert_no: str, codes: list[str]) -> Answers:
        """Each node's answer about cert_no, or why it did not come."""
        now = asyncio.get_running_loop().time()
        answers: Answers = {}
        ask: list[str] = []
        for code in codes:
            until = self._not_held.get((code, cert_no))
            if until is not None and until > now:
                answers[code] = _not_held(code)
            else:
                ask.append(code)
        if not ask:
            return answers
        key = (cert_no, tuple(ask))
        cached = self._rounds.get(key)
        if cached is None or cached[0] <= now:
            if len(self._rounds) > self._tuning.node_answers_kept:
                self._rounds = {k: v for k, v in self._rounds.items() if v[0] > now}
            future = asyncio.ensure_future(self._ask(cert_no, ask))
            cached = (now + self._tuning.node_answer_ttl_s, future)
            self._rounds[key] = cached
            counter = NODES_ASKED.get()
            if counter is not None and len(ask) > 1:
                counter.fan_outs += 1
        # Shielded: one caller giving up must not cancel the question for the others.
        answers.update(await asyncio.shield(cached[1]))
        return answers

    async def _ask(self, cert_no: str, codes: list[str]) -> Answers:
        """Ask the nodes; remember which of them said they hold no such record."""
        answers: Answers = await self._nodes.records_everywhere(cert_no, codes)
        until = asyncio.get_running_loop().time() + self._tuning.node_unknown_ttl_s
        kept = self._not_held
        for code, got in answers.items():
            if isinstance(got, NodeRecord) and not got.exists:
                kept.pop((code, cert_no), None)  # re-inserted as the newest
                kept[(code, cert_no)] = until
                while len(kept) > self._tuning.node_unknowns_kept:
                    del kept[next(iter(kept))]
        return answers
