"""Cross-province anomalies only the national view can see (GET /v1/anomalies, ops token).

- person_active_in_two_provinces: one person_ref (the same ID number) with a registration in
  force (status active or changing) in more than one province;
- cert_no_claimed_by_two_provinces: a province sent a cert_no another province holds, without
  a transfer from it; the hub dead-lettered those events as `cert_conflict`.
"""

from __future__ import annotations

from typing import Any

from national_hub.ingest.messages import RejectReason
from national_hub.store import reads
from national_hub.store.store import Store

PERSON_IN_TWO = "person_active_in_two_provinces"
CERT_CLAIMED_TWICE = "cert_no_claimed_by_two_provinces"


async def find_anomalies(store: Store, limit: int = 100) -> dict[str, Any]:
    """Both kinds, at most `limit` of each; `counts` says how many each list holds."""
    persons = await reads.persons_in_two_provinces(store, limit)
    conflicts = await reads.cert_conflicts(store, f"{RejectReason.CERT_CONFLICT}:%", limit)
    items: list[dict[str, Any]] = [
        {"kind": PERSON_IN_TWO, "person_ref": row["person_ref"], "records": row["records"]}
        for row in persons
    ]
    items += [{"kind": CERT_CLAIMED_TWICE, **row} for row in conflicts]
    return {
        "items": items,
        "counts": {PERSON_IN_TWO: len(persons), CERT_CLAIMED_TWICE: len(conflicts)},
    }
