"""Why a record is or is not visible at the hub, from what the hub itself knows."""

from __future__ import annotations

from typing import Any

import orjson

from national_hub.config import HubSettings
from national_hub.store import HeartbeatState, Store
from schemas.timestamps import format_utc
from schemas.vocab import PROVINCES


def _province_name(settings: HubSettings, code: str | None) -> str:
    if code is None:
        return "an unknown province"
    p = settings.provinces.get(code)
    return f"{p.name if p else PROVINCES.get(code, code)} ({code})"


def evidence(store: Store, province: str | None, event_seq: int | None = None) -> dict[str, Any]:
    """The sync facts behind an explanation, as far as the hub knows them locally."""
    hb: HeartbeatState | None = store.heartbeats().get(province) if province else None
    return {
        "event_seq": event_seq,
        "hub_applied_seq": store.applied_seq(province) if province else None,
        "province_committed_seq": hb.heartbeat.committed_seq if hb else None,
        "province_published_seq": hb.heartbeat.published_seq if hb else None,
        "consumer_lag_messages": None,
        "outbox_backlog": hb.heartbeat.outbox_backlog if hb else None,
        "last_heartbeat_at": format_utc(hb.received_at) if hb else None,
    }


def _answer(
    *,
    visible: bool,
    state: str,
    reason: str,
    province: str | None,
    ev: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """An explanation in the contract's shape."""
    return {
        "visible": visible,
        "state": state,
        "reason": reason,
        "province": province,
        "eta_seconds": None,
        "evidence": ev,
        **extra,
    }


async def explain_cert(
    store: Store, settings: HubSettings, cert_no: str, province: str | None = None
) -> dict[str, Any]:
    """Explain a cert_no: applied, transferred, rejected or unknown_to_province."""
    row = await store.fetch_one(
        "SELECT province, status, seq, record_version, record, superseded_by_province,"
        " superseded_by_cert_no FROM records WHERE cert_no = ?",
        [cert_no],
    )
    if row is not None:
        prov = row["province"]
        ev = evidence(store, prov, row["seq"])
        if row["superseded_by_province"] is not None:
            to_p, to_c = row["superseded_by_province"], row["superseded_by_cert_no"]
            return _answer(
                visible=True,
                state="transferred",
                reason=f"This registration moved to {_province_name(settings, to_p)} under "
                f"certificate {to_c}; look up that certificate for the current record.",
                province=prov,
                ev=ev,
                transferred_to={"province": to_p, "cert_no": to_c},
            )
        if row["status"] == "transferred_out":
            to_p = (orjson.loads(row["record"]).get("transfer") or {}).get("to_province")
            return _answer(
                visible=True,
                state="transferred",
                reason=f"This registration was transferred out to "
                f"{_province_name(settings, to_p)}, which has not yet registered it at the "
                f"national hub; search there by name once it does.",
                province=prov,
                ev=ev,
                transferred_to={"province": to_p, "cert_no": None},
            )
        return _answer(
            visible=True,
            state="applied",
            reason=f"The record is at the national hub (record version "
            f"{row['record_version']} from {_province_name(settings, prov)}).",
            province=prov,
            ev=ev,
        )

    dead = await store.fetch_one(
        'SELECT province, reason, topic, partition, "offset", epoch_ms(received_at) AS at_ms'
        " FROM dead_letters WHERE key = ? ORDER BY received_at DESC LIMIT 1",
        [cert_no],
    )
    if dead is not None:
        prov = dead["province"]
        return _answer(
            visible=False,
            state="rejected",
            reason=f"The event for this certificate from {_province_name(settings, prov)} "
            f"reached the national hub but was rejected ({dead['reason']}); the province's "
            f"operators must correct and re-send it.",
            province=prov,
            ev=evidence(store, prov),
            rejection={
                "reason": dead["reason"],
                "topic": dead["topic"],
                "partition": dead["partition"],
                "offset": dead["offset"],
            },
        )

    link = await store.fetch_one(
        "SELECT old_province, new_province, new_cert_no FROM transfer_links"
        " WHERE old_cert_no = ? LIMIT 1",
        [cert_no],
    )
    if link is not None:
        to_p, to_c = link["new_province"], link["new_cert_no"]
        return _answer(
            visible=False,
            state="transferred",
            reason=f"This registration moved to {_province_name(settings, to_p)} under "
            f"certificate {to_c}; look up that certificate for the current record.",
            province=link["old_province"],
            ev=evidence(store, link["old_province"]),
            transferred_to={"province": to_p, "cert_no": to_c},
        )

    return _answer(
        visible=False,
        state="unknown_to_province",
        reason="No province has published a registration with this certificate number to "
        "the national hub; check the number as printed, or ask the issuing province.",
        province=province,
        ev=evidence(store, province),
    )


async def explain_token(
    store: Store, settings: HubSettings, province: str, seq: int
) -> dict[str, Any]:
    """Explain a sync token `<province>:<seq>`: applied, in transit or not yet published."""
    ev = evidence(store, province, seq)
    name = _province_name(settings, province)
    if store.is_seq_applied(province, seq):
        return _answer(
            visible=True,
            state="applied",
            reason=f"Change {seq} from {name} is applied at the national hub.",
            province=province,
            ev=ev,
        )
    hb = store.heartbeats().get(province)
    if hb is not None and seq <= hb.heartbeat.published_seq:
        return _answer(
            visible=False,
            state="in_transit",
            reason=f"Change {seq} from {name} is published to Kafka and waiting to be applied "
            f"at the national hub; retry shortly.",
            province=province,
            ev=ev,
        )
    if hb is not None and seq <= hb.heartbeat.committed_seq:
        return _answer(
            visible=False,
            state="not_published",
            reason=f"Change {seq} is committed at {name} but still in its outbox "
            f"({hb.heartbeat.outbox_backlog} waiting); it reaches the hub once the province "
            f"can publish to Kafka.",
            province=province,
            ev=ev,
        )
    return _answer(
        visible=False,
        state="unknown_to_province",
        reason=f"{name} has not reported committing change {seq}; check the sync token.",
        province=province,
        ev=ev,
    )
