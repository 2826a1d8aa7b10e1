"""Cross-province anomalies only the national view can see (GET /v1/anomalies, ops token).

- person_active_in_two_provinces: one person_ref (the same ID number) with a registration in
  force (status active or changing) in more than one province;
- cert_no_claimed_by_two_provinces: a province sent a cert_no another province holds, without
  a transfer from it; the hub dead-lettered those events as `cert_conflict`.
"""

from __future__ import annotations

from typing import Any

from national_hub.ingest.messages import CERT_CONFLICT
from national_hub.store.store import Store

PERSON_IN_TWO = "person_active_in_two_provinces"
CERT_CLAIMED_TWICE = "cert_no_claimed_by_two_provinces"
# "In force": a changing registration is an active one with a change request pending.
IN_FORCE = ("active", "changing")

_PERSONS = f"""
SELECT person_ref,
       list(struct_pack(province := province, cert_no := cert_no, name := name,
                        status := status) ORDER BY province, cert_no) AS records
FROM records
WHERE status IN ({", ".join(f"'{s}'" for s in IN_FORCE)})
  AND person_ref IS NOT NULL AND superseded_by_province IS NULL
GROUP BY person_ref
HAVING count(DISTINCT province) > 1
ORDER BY person_ref
LIMIT ?
"""

_CONFLICTS = """
SELECT d.key AS cert_no, d.province AS claimed_by, any_value(r.province) AS held_by,
       count(*) AS events_rejected, min(d.received_at) AS first_rejected_at,
       max(d.received_at) AS last_rejected_at, arg_max(d.reason, d.received_at) AS reason
FROM dead_letters d LEFT JOIN records r ON r.cert_no = d.key
WHERE d.reason LIKE ? AND d.key IS NOT NULL
GROUP BY d.key, d.province
ORDER BY last_rejected_at DESC, cert_no
LIMIT ?
"""


async def find_anomalies(store: Store, limit: int = 100) -> dict[str, Any]:
    """Both kinds, at most `limit` of each; `counts` says how many each list holds."""
    persons = await store.fetch(_PERSONS, [limit])
    conflicts = await store.fetch(_CONFLICTS, [f"{CERT_CONFLICT}:%", limit])
    items: list[dict[str, Any]] = [
        {"kind": PERSON_IN_TWO, "person_ref": row["person_ref"], "records": row["records"]}
        for row in persons
    ]
    items += [{"kind": CERT_CLAIMED_TWICE, **row} for row in conflicts]
    return {
        "items": items,
        "counts": {PERSON_IN_TWO: len(persons), CERT_CLAIMED_TWICE: len(conflicts)},
    }
