"""Cross-province anomalies only the national view can see (GET /v1/anomalies, ops token).

- person_active_in_two_provinces: one person_ref (the same ID number) with a registration in
  force (status active or changing) in more than one province;
- person_active_twice_in_one_province: one person_ref with more than one registration in force
  in the same province (a person holds one registration per province);
- cert_no_claimed_by_two_provinces: a province sent a cert_no another province holds, without
  a transfer from it; the hub dead-lettered those events as `cert_conflict`;
- unconfirmed_transfer: a province registered a transfer-in from another province's record that
  the old province has not transferred out to it (yet): the old record is active, suspended,
  revoked or cancelled, went to a third province, or is not at the hub. The hub does not say
  that such a registration moved (store.decide).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from national_hub.ingest.messages import RejectReason
from national_hub.store import reads
from national_hub.store.store import Store
from national_hub.sync.transfers import unconfirmed_why
from schemas.vocab import province_label

PERSON_IN_TWO = "person_active_in_two_provinces"
PERSON_TWICE_IN_ONE = "person_active_twice_in_one_province"
CERT_CLAIMED_TWICE = "cert_no_claimed_by_two_provinces"
UNCONFIRMED_TRANSFER = "unconfirmed_transfer"
KINDS = (PERSON_IN_TWO, PERSON_TWICE_IN_ONE, CERT_CLAIMED_TWICE, UNCONFIRMED_TRANSFER)


def _transfer_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": UNCONFIRMED_TRANSFER,
        "old": {"province": row["old_province"], "cert_no": row["old_cert_no"]},
        "new": {"province": row["new_province"], "cert_no": row["new_cert_no"]},
        "old_status": row["old_status"],
        "old_transferred_to": row["old_to_province"],
        "claimed_at": row["linked_at"],
        "reason": unconfirmed_why(row, province_label),
    }


async def find_anomalies(store: Store, limit: int = 100) -> dict[str, Any]:
    """Every kind, at most `limit` of each; `counts` says how many each list holds."""
    persons = await reads.persons_in_force_twice(store, limit)
    conflicts = await reads.cert_conflicts(store, f"{RejectReason.CERT_CONFLICT}:%", limit)
    transfers = await reads.unconfirmed_transfers(store, None, limit)
    items: list[dict[str, Any]] = []
    for row in persons:
        records = row["records"]
        if row["provinces"] > 1:
            items.append(
                {"kind": PERSON_IN_TWO, "person_ref": row["person_ref"], "records": records}
            )
        if row["most_in_one"] > 1:
            per = Counter(r["province"] for r in records)
            twice = [r for r in records if per[r["province"]] > 1]
            items.append(
                {"kind": PERSON_TWICE_IN_ONE, "person_ref": row["person_ref"], "records": twice}
            )
    items += [{"kind": CERT_CLAIMED_TWICE, **row} for row in conflicts]
    items += [_transfer_item(row) for row in transfers]
    counts = dict.fromkeys(KINDS, 0)
    for item in items:
        counts[item["kind"]] += 1
    return {"items": items, "counts": counts}
