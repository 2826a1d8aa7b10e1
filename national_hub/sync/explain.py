"""Why a record or a sync token is or is not visible at the hub, with evidence (CONTRACT §5).

States: applied, in_transit, not_published, unknown_to_province, province_unreachable, rejected,
transferred. The hub answers from its own store first (records, dead letters, transfer links,
applied seqs); what only the province knows (does it hold this cert_no, has the change left its
outbox) it asks the province node over HTTP, all nodes concurrently with a short timeout when
the province is not given. Without a node token (hub.node_token_file) nodes are not asked and
an unknown cert_no reads unknown_to_province.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import Field

from national_hub.config import HubSettings
from national_hub.store import reads
from national_hub.store.progress import HeartbeatState
from national_hub.store.store import Store
from national_hub.sync.node_answers import NodeAnswers
from national_hub.sync.node_client import NodeClient, NodeRecord, NodeStatus, NodeUnreachable
from national_hub.sync.status import ProvinceSync, SyncMonitor
from national_hub.sync.transfers import held_back_reason, new_side_note, old_side_note
from schemas.openapi import Answer, Seq, absent, inline_enum
from schemas.record import CertNo, ProvinceCode
from schemas.timestamps import UtcDatetime
from schemas.vocab import PROVINCES, ExplanationState, Status, SyncState, province_label

# -- the answer (GET /v1/sync/explain, and the explanation in a 404 or 409) ------------------------


class Evidence(Answer):
    """What an explanation rests on (CONTRACT §5)."""

    event_seq: Seq | None
    hub_applied_seq: Seq | None
    province_committed_seq: Seq | None
    province_published_seq: Seq | None
    consumer_lag_messages: Seq | None
    outbox_backlog: Seq | None
    last_heartbeat_at: UtcDatetime | None


class TransferTarget(Answer):
    """Where a transferred registration went (cert_no null until the new one is known)."""

    province: ProvinceCode
    cert_no: CertNo | None


class Rejection(Answer):
    """The dead letter behind a rejected state."""

    reason: str
    topic: str
    partition: int
    offset: int


class TransferClaim(Answer):
    """A transfer-in the old province has not confirmed: the registration has not moved."""

    from_province: ProvinceCode
    from_cert_no: CertNo
    to_province: ProvinceCode
    to_cert_no: CertNo
    old_status: Status | None = Field(
        description="the old record's status at the hub; null if the hub holds none"
    )


class Explanation(Answer):
    """Why a record or a sync token is or is not visible at the hub."""

    visible: bool
    state: Annotated[ExplanationState, inline_enum(ExplanationState)]
    reason: str
    province: ProvinceCode | None
    eta_seconds: float | None
    evidence: Evidence
    # Sent only in the states they explain.
    transferred_to: TransferTarget | None = Field(default=None, exclude_if=absent)
    rejection: Rejection | None = Field(default=None, exclude_if=absent)
    unreachable: list[ProvinceCode] | None = Field(default=None, exclude_if=absent)
    unconfirmed_transfer: TransferClaim | None = Field(default=None, exclude_if=absent)


def _answer(
    *,
    visible: bool,
    state: ExplanationState,
    reason: str,
    province: str | None,
    ev: Evidence,
    eta: float | None = None,
    transferred_to: TransferTarget | None = None,
    rejection: Rejection | None = None,
    unreachable: list[str] | None = None,
) -> Explanation:
    """An explanation (eta only for a change on its way)."""
    return Explanation(
        visible=visible,
        state=state,
        reason=reason,
        province=province,
        eta_seconds=eta,
        evidence=ev,
        transferred_to=transferred_to,
        rejection=rejection,
        unreachable=unreachable,
    )


def _view_evidence(view: ProvinceSync, event_seq: int | None) -> Evidence:
    """The evidence of a province's sync state, for one event seq (CONTRACT §5)."""
    return Evidence(
        event_seq=event_seq,
        hub_applied_seq=view.applied_seq,
        province_committed_seq=view.province_committed_seq,
        province_published_seq=view.province_published_seq,
        consumer_lag_messages=view.consumer_lag_messages,
        outbox_backlog=view.outbox_backlog,
        last_heartbeat_at=view.last_heartbeat_at,
    )


def _local_evidence(store: Store, province: str | None, event_seq: int | None) -> Evidence:
    """Evidence from the store alone, for a hub without a sync monitor (tests, tools)."""
    hb: HeartbeatState | None = store.heartbeats().get(province) if province else None
    return Evidence(
        event_seq=event_seq,
        hub_applied_seq=store.applied_seq(province) if province else None,
        province_committed_seq=hb.heartbeat.committed_seq if hb else None,
        province_published_seq=hb.heartbeat.published_seq if hb else None,
        consumer_lag_messages=None,
        outbox_backlog=hb.heartbeat.outbox_backlog if hb else None,
        last_heartbeat_at=hb.received_at if hb else None,
    )


def _claim(row: dict[str, Any]) -> TransferClaim:
    return TransferClaim(
        from_province=row["old_province"],
        from_cert_no=row["old_cert_no"],
        to_province=row["new_province"],
        to_cert_no=row["new_cert_no"],
        old_status=row["old_status"],
    )


# Transfer-ins naming one certificate read at most: there are one or two, a hundred is abuse.
_CLAIMS_READ = 20


def _rejection(dead: dict[str, Any]) -> Rejection:
    return Rejection(
        reason=dead["reason"],
        topic=dead["topic"],
        partition=dead["partition"],
        offset=dead["offset"],
    )


class Explainer:
    """Builds explanations from the store, the sync monitor and, when needed, the nodes."""

    def __init__(
        self,
        store: Store,
        settings: HubSettings,
        monitor: SyncMonitor | None = None,
        nodes: NodeClient | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.monitor = monitor
        self.nodes = nodes if nodes is not None and nodes.enabled else None
        # Heartbeat window (hub.tuning.sync).
        self._tuning = settings.tuning.sync
        # Shared and remembered answers of the nodes (node_answers).
        self._answers = NodeAnswers(self.nodes, self._tuning) if self.nodes is not None else None

    def label(self, code: str | None) -> str:
        """'重庆市 (50)', or 'an unknown province'."""
        if code is None:
            return "an unknown province"
        return province_label(code, self.settings.province_name(code))

    def evidence(self, province: str | None, event_seq: int | None) -> Evidence:
        """The evidence object for a province and event seq."""
        if province is not None and self.monitor is not None:
            return _view_evidence(self.monitor.view(province), event_seq)
        return _local_evidence(self.store, province, event_seq)

    # ---- by certificate number -------------------------------------------------------------

    async def cert(self, cert_no: str, province: str | None = None) -> Explanation:
        """Explain a cert_no, optionally as registered by a given province."""
        claims = await reads.unconfirmed_transfers(self.store, cert_no, _CLAIMS_READ)
        if not claims:
            return await self._cert(cert_no, province)
        return await self._with_claims(cert_no, province, claims)

    async def _with_claims(
        self, cert_no: str, province: str | None, claims: list[dict[str, Any]]
    ) -> Explanation:
        """Explain a cert_no named by transfer-ins its old province has not confirmed."""
        if province is not None:
            held_back = next(
                (c for c in claims if (c["new_province"], c["new_cert_no"]) == (province, cert_no)),
                None,
            )
            if held_back is not None and await reads.unshown_record(self.store, cert_no, province):
                return _answer(
                    visible=False,
                    state=ExplanationState.APPLIED,
                    reason=held_back_reason(held_back, self.label),
                    province=province,
                    ev=self.evidence(province, None),
                ).model_copy(update={"unconfirmed_transfer": _claim(held_back)})
        answer = await self._cert(cert_no, province)
        shown = answer.province
        old = [
            c for c in claims if c["old_cert_no"] == cert_no and shown in (None, c["old_province"])
        ]
        new = [
            c for c in claims if c["new_cert_no"] == cert_no and shown in (None, c["new_province"])
        ]
        notes = [old_side_note(c, self.label) for c in old] + [
            new_side_note(c, self.label) for c in new
        ]
        if not notes:
            return answer
        reason = f"{answer.reason.removesuffix('.')}; {'; '.join(notes)}."
        return answer.model_copy(
            update={"reason": reason, "unconfirmed_transfer": _claim((old or new)[0])}
        )

    async def _cert(self, cert_no: str, province: str | None = None) -> Explanation:
        """Explain a cert_no, optionally as registered by a given province (claims aside)."""
        row = await reads.record(self.store, cert_no)
        if row is not None and (province is None or row["province"] == province):
            return await self._held(cert_no, row)

        dead = await reads.dead_letter_of_cert(self.store, cert_no, province)
        if dead is not None:
            prov = dead["province"]
            return _answer(
                visible=False,
                state=ExplanationState.REJECTED,
                reason=f"The event for certificate {cert_no} from {self.label(prov)} reached "
                f"the national hub but was rejected ({dead['reason']}); the province's "
                f"operators must correct and re-send it.",
                # The code of a topic `<prefix>.events.NN` need not be a province's at all.
                province=prov if prov in PROVINCES else None,
                ev=self.evidence(prov, None),
                rejection=_rejection(dead),
            )

        link = await reads.transfer_link(self.store, cert_no, province)
        if link is not None:
            to_p, to_c = link["new_province"], link["new_cert_no"]
            return _answer(
                visible=False,
                state=ExplanationState.TRANSFERRED,
                reason=f"This registration moved to {self.label(to_p)} under certificate "
                f"{to_c}; look up that certificate for the current record.",
                province=link["old_province"],
                ev=self.evidence(link["old_province"], None),
                transferred_to=TransferTarget(province=to_p, cert_no=to_c),
            )

        held_elsewhere = (
            f" (the hub holds it from {self.label(row['province'])})" if row is not None else ""
        )
        if self.nodes is None:
            return _answer(
                visible=False,
                state=ExplanationState.UNKNOWN_TO_PROVINCE,
                reason=f"No province has published a registration with certificate {cert_no} "
                f"to the national hub{held_elsewhere}; check the number as printed, or ask "
                f"the issuing province (this hub does not query province nodes).",
                province=province,
                ev=self.evidence(province, None),
            )
        return await self._ask_nodes(cert_no, province, held_elsewhere)

    async def _ask_nodes(
        self, cert_no: str, province: str | None, held_elsewhere: str
    ) -> Explanation:
        """Ask the owning node (or every node) whether it holds the cert_no."""
        assert self.nodes is not None
        codes = [province] if province else list(self.settings.province_codes)
        assert self._answers is not None
        answers = await self._answers.get(cert_no, codes)
        for code in codes:
            got = answers[code]
            if isinstance(got, NodeRecord) and got.exists and got.latest_seq is not None:
                return await self.token(code, got.latest_seq, node_record=got, cert_no=cert_no)
        silent = {c: a for c, a in answers.items() if isinstance(a, NodeUnreachable)}
        if silent:
            first = next(iter(silent))
            names = ", ".join(self.label(c) for c in silent)
            others = (
                f"; none of the other {len(codes) - len(silent)} province(s) holds it"
                if len(codes) > len(silent)
                else ""
            )
            return _answer(
                visible=False,
                state=ExplanationState.PROVINCE_UNREACHABLE,
                reason=f"The node of {names} does not answer ({silent[first]}), so the hub "
                f"cannot tell whether it holds certificate {cert_no}{others}; retry once the "
                f"province is back online.",
                province=first if len(silent) == 1 else province,
                ev=self.evidence(first, None),
                unreachable=sorted(silent),
            )
        where = (
            f"{self.label(province)} has no registration"
            if province
            else f"None of the {len(codes)} provinces has a registration"
        )
        return _answer(
            visible=False,
            state=ExplanationState.UNKNOWN_TO_PROVINCE,
            reason=f"{where} with certificate {cert_no}{held_elsewhere}; check the number as "
            f"printed, or the issuing province.",
            province=province,
            ev=self.evidence(province, None),
        )

    async def _held(self, cert_no: str, row: dict[str, Any]) -> Explanation:
        """Explain a record the hub holds: transferred, applied, or a newer change on the way."""
        prov = row["province"]
        ev = self.evidence(prov, row["seq"])
        if row["superseded_by_province"] is not None:
            to_p, to_c = row["superseded_by_province"], row["superseded_by_cert_no"]
            return _answer(
                visible=True,
                state=ExplanationState.TRANSFERRED,
                reason=f"This registration moved to {self.label(to_p)} under certificate "
                f"{to_c}; look up that certificate for the current record.",
                province=prov,
                ev=ev,
                transferred_to=TransferTarget(province=to_p, cert_no=to_c),
            )
        if row["status"] == "transferred_out":
            to_p = (orjson.loads(row["record"]).get("transfer") or {}).get("to_province")
            # A record without transfer.to_province (no node sends one) names no target.
            target = None if to_p is None else TransferTarget(province=to_p, cert_no=None)
            return _answer(
                visible=True,
                state=ExplanationState.TRANSFERRED,
                reason=f"This registration was transferred out to {self.label(to_p)}, which "
                f"has not yet registered it at the national hub; search there by name once "
                f"it does.",
                province=prov,
                ev=ev,
                transferred_to=target,
            )
        caveat = ""
        if self.nodes is not None:
            # The hub's copy may be older than the province's: say so if a change is on the way.
            try:
                latest = await self.nodes.record(prov, cert_no)
            except NodeUnreachable as exc:
                latest = None
                caveat = (
                    f"; {self.label(prov)} cannot be asked right now ({exc}), so a newer "
                    f"change there may not have arrived"
                )
            if (
                latest is not None
                and latest.exists
                and latest.latest_seq is not None
                and latest.latest_seq > row["seq"]
                and not self.store.is_seq_applied(prov, latest.latest_seq)
            ):
                newer = await self.token(prov, latest.latest_seq, node_record=latest)
                reason = (
                    f"The hub shows record version {row['record_version']}; a newer change "
                    f"(version {latest.record_version}) is on the way: {newer.reason}"
                )
                return newer.model_copy(update={"visible": True, "reason": reason})
        return _answer(
            visible=True,
            state=ExplanationState.APPLIED,
            reason=f"The record is at the national hub (record version "
            f"{row['record_version']} from {self.label(prov)}){caveat}.",
            province=prov,
            ev=ev,
        )

    # ---- by sync token ---------------------------------------------------------------------

    async def token(
        self,
        province: str,
        seq: int,
        *,
        node_record: NodeRecord | None = None,
        cert_no: str | None = None,
    ) -> Explanation:
        """Explain the province's change `seq` (a sync token, or a record's latest event)."""
        name = self.label(province)
        what = f"Change {seq} from {name}" + (f" (certificate {cert_no})" if cert_no else "")
        rejected = self.store.is_seq_rejected(province, seq)
        applied = self.store.is_seq_applied(province, seq)
        dead: dict[str, Any] | None = None
        if rejected:
            dead = await reads.rejected_seq(self.store, province, seq)
        if dead is None and not applied:
            # A refused copy that never counted (bad signature, wrong key...): unless a valid
            # copy was applied since, that refusal is why the change is missing.
            dead = await reads.dead_letter_of_seq(self.store, province, seq)
        if dead is not None:
            return _answer(
                visible=False,
                state=ExplanationState.REJECTED,
                reason=f"{what} reached the national hub but was rejected ({dead['reason']}); "
                f"the province's operators must correct and re-send it.",
                province=province,
                ev=self.evidence(province, seq),
                rejection=_rejection(dead),
            )
        if applied:
            return _answer(
                visible=True,
                state=ExplanationState.APPLIED,
                reason=f"{what} is applied at the national hub.",
                province=province,
                ev=self.evidence(province, seq),
            )

        view = self.monitor.view(province) if self.monitor is not None else None
        ev = self.evidence(province, seq)
        committed_seq, published_seq = ev.province_committed_seq, ev.province_published_seq
        backlog = ev.outbox_backlog
        published = (published_seq or 0) >= seq
        committed = (committed_seq or 0) >= seq
        if node_record is not None and node_record.latest_seq == seq:
            # The node's answer is fresher than the last heartbeat or poll: evidence follows it.
            committed = True
            committed_seq = max(committed_seq or 0, seq)
            if node_record.published:
                published = True
                published_seq = max(published_seq or 0, seq)
        live: NodeStatus | None = None
        unreachable: NodeUnreachable | None = None
        if not published and self.nodes is not None:
            # The reports may be a second old: ask the node itself about its outbox now.
            try:
                live = await self.nodes.status(province)
            except NodeUnreachable as exc:
                unreachable = exc
            if live is not None:
                committed_seq = max(live.committed_seq, committed_seq or 0)
                published_seq = max(live.published_seq, published_seq or 0)
                backlog = live.outbox_backlog
                published = published or live.published_seq >= seq
                committed = committed or live.committed_seq >= seq
        ev = ev.model_copy(
            update={
                "province_committed_seq": committed_seq,
                "province_published_seq": published_seq,
                "outbox_backlog": backlog,
            }
        )

        if published:
            eta = self.monitor.eta_seconds(province, seq) if self.monitor is not None else None
            if self.monitor is not None and self.monitor.ingestor is not None:
                paused = self.monitor.ingestor.paused
            else:
                paused = False
            if paused:
                tail = (
                    "ingest is paused by an operator; once resumed it should be applied in "
                    f"about {eta:g} s"
                    if eta is not None
                    else "ingest is paused by an operator"
                )
            elif view is not None and view.status is SyncState.STALLED:
                tail = f"but the hub is not advancing: {view.reason}"
            else:
                tail = "retry shortly" + (f" (expected in about {eta:g} s)" if eta else "")
            return _answer(
                visible=False,
                state=ExplanationState.IN_TRANSIT,
                reason=f"{what} is published to Kafka and waiting to be applied at the "
                f"national hub; {tail}.",
                province=province,
                ev=ev,
                eta=eta,
            )
        if committed:
            kafka_error = (
                live.kafka_error if live is not None and not live.kafka_connected else None
            )
            if kafka_error is None and view is not None and view.facts.kafka_connected is False:
                kafka_error = view.facts.kafka_error
            why = (
                f"its node cannot reach Kafka ({kafka_error})"
                if kafka_error
                else "it reaches the hub once the province publishes it to Kafka"
            )
            return _answer(
                visible=False,
                state=ExplanationState.NOT_PUBLISHED,
                reason=f"{what} is committed at the province but still in its outbox "
                f"({backlog if backlog is not None else 'some'} waiting): {why}.",
                province=province,
                ev=ev,
            )
        # Fresh heartbeats that do not reach `seq` say more than a node that does not answer.
        beating = (
            view is not None
            and view.heartbeat_age_seconds is not None
            and view.heartbeat_age_seconds <= self._tuning.heartbeat_stale_s
        )
        if (view is not None and view.unreachable) or (unreachable is not None and not beating):
            cause = str(unreachable) if unreachable is not None else view.reason if view else ""
            return _answer(
                visible=False,
                state=ExplanationState.PROVINCE_UNREACHABLE,
                reason=f"{name} sends no heartbeat and its node does not answer ({cause}); "
                f"the hub cannot tell where change {seq} is until the province is back.",
                province=province,
                ev=ev,
            )
        return _answer(
            visible=False,
            state=ExplanationState.UNKNOWN_TO_PROVINCE,
            reason=f"{name} has not reported committing change {seq}"
            + (f" (it has committed up to {committed_seq})" if committed_seq is not None else "")
            + "; check the sync token.",
            province=province,
            ev=ev,
        )
