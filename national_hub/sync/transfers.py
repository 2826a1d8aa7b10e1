"""What the hub says of a transfer-in the old province has not confirmed (store.decide).

Such a claim is a province's signed word, so it is shown, but as what it is: the new province
says the registration came from the old one, the old one has not said it left. Until it does,
nothing the hub answers says the registration moved. These sentences explain why, for the
explanations (sync.explain) and the anomaly report (sync.anomalies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas.vocab import Status

Label = Callable[[str], str]

# Statuses from which a registration cannot move at all.
_ENDED = {Status.REVOKED.value, Status.CANCELLED.value}


def unconfirmed_why(claim: Mapping[str, Any], label: Label) -> str:
    """Why a claim (a row of store.reads.unconfirmed_transfers) is not confirmed, a clause."""
    old, new = label(claim["old_province"]), label(claim["new_province"])
    status = claim["old_status"]
    if status is None:
        return f"the national hub holds no record of certificate {claim['old_cert_no']} from {old}"
    if status == Status.TRANSFERRED_OUT.value:
        went = claim["old_to_province"]
        where = label(went) if went else "no province it named"
        return f"{old} transferred that registration out to {where}, not to {new}"
    if status in _ENDED:
        return f"{old}'s record of it is {status}: such a registration cannot be transferred"
    return f"{old}'s record of it is {status}, not transferred out to {new}"


def old_side_note(claim: Mapping[str, Any], label: Label) -> str:
    """A clause for the explanation of the old certificate."""
    return (
        f"{label(claim['new_province'])} registered a transfer-in from this registration "
        f"(as certificate {claim['new_cert_no']}) that {label(claim['old_province'])} has not "
        f"confirmed ({unconfirmed_why(claim, label)}), so it has not moved"
    )


def new_side_note(claim: Mapping[str, Any], label: Label) -> str:
    """A clause for the explanation of the certificate that claims the transfer-in."""
    return (
        f"its transfer-in from {label(claim['old_province'])}'s certificate "
        f"{claim['old_cert_no']} is not confirmed ({unconfirmed_why(claim, label)})"
    )


def held_back_reason(claim: Mapping[str, Any], label: Label) -> str:
    """The sentence for a record kept but not shown: a claim keeping the old code."""
    old, new = label(claim["old_province"]), label(claim["new_province"])
    return (
        f"The registration of certificate {claim['new_cert_no']} from {new} reached the "
        f"national hub but is not shown: it is a transfer-in keeping the code of {old}'s "
        f"registration, which {old} has not confirmed ({unconfirmed_why(claim, label)}); the "
        f"hub shows {old}'s record until {old} records the transfer out to {new}."
    )
