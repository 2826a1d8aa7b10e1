"""The hub's receipt key set: published with the current key on top, a receipt's kid picks its
key, a retired key vouches only for receipts dated up to its retirement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from national_hub.query.receipts import (
    ReceiptKey,
    ReceiptKeySet,
    ReceiptSigner,
    check_receipt,
    receipt_payload,
)
from schemas.errors import KeyFileError
from schemas.signing import Signer, generate_keypair

RETIRED_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def new_signer() -> Signer:
    return Signer.load(generate_keypair()[0])


OLD = new_signer()
NEW = new_signer()
RETIRED = ReceiptKey(OLD.kid, OLD.public_pem, "retired", None, RETIRED_AT)
HUB = ReceiptSigner(NEW, (RETIRED,))


def signed_by(signer: Signer, as_of: datetime) -> dict[str, str]:
    return ReceiptSigner(signer).sign(receipt_payload("consistent", "1" * 15, 1, as_of))


def test_document_keeps_the_current_key_on_top() -> None:
    doc = HUB.hub_key_document()
    assert (doc["kid"], doc["public_key"]) == (NEW.kid, NEW.public_pem)


def test_document_lists_every_key_with_its_standing() -> None:
    keys = HUB.hub_key_document()["keys"]
    assert [(k["kid"], k["status"], k["retired_at"]) for k in keys] == [
        (NEW.kid, "current", None),
        (OLD.kid, "retired", "2026-12-01T08:00:00.000Z"),
    ]


def test_document_reads_back_as_the_same_set() -> None:
    assert ReceiptKeySet.from_document(HUB.hub_key_document()) == HUB.key_set


def test_document_without_keys_is_its_one_current_key() -> None:
    doc = {"kid": NEW.kid, "public_key": NEW.public_pem}
    only = ReceiptKey(NEW.kid, NEW.public_pem, "current")
    assert ReceiptKeySet.from_document(doc).keys == (only,)


def test_retired_entry_without_retired_at_is_refused() -> None:
    doc = HUB.hub_key_document()
    doc["keys"][1]["retired_at"] = None
    with pytest.raises(KeyFileError, match="retired_at"):
        ReceiptKeySet.from_document(doc)


def test_receipt_of_the_current_key_is_genuine() -> None:
    check = check_receipt(signed_by(NEW, RETIRED_AT), HUB.key_set)
    assert (check.outcome, check.key and check.key.status) == ("genuine", "current")


def test_old_receipt_checks_against_the_retired_key() -> None:
    check = check_receipt(signed_by(OLD, RETIRED_AT - timedelta(days=30)), HUB.key_set)
    assert (check.outcome, check.key and check.key.status) == ("genuine", "retired")


def test_retired_key_signing_after_retirement_is_refused() -> None:
    check = check_receipt(signed_by(OLD, RETIRED_AT + timedelta(seconds=1)), HUB.key_set)
    assert check.outcome == "after_retirement"


def test_receipt_of_a_key_not_in_the_set_is_unknown() -> None:
    check = check_receipt(signed_by(new_signer(), RETIRED_AT), HUB.key_set)
    assert (check.outcome, check.key) == ("unknown_key", None)


def test_altered_receipt_of_a_retired_key_is_forged() -> None:
    receipt = signed_by(OLD, RETIRED_AT - timedelta(days=1))
    receipt["payload"] = receipt["payload"].replace("consistent", "mismatch")
    assert check_receipt(receipt, HUB.key_set).outcome == "forged"


def test_receipt_of_the_next_key_is_genuine_during_a_rolling_restart() -> None:
    # A replica not yet restarted publishes the new key as next; one already restarted signs
    # with it: that receipt checks against the older replica's set.
    upcoming = new_signer()
    older_replica = ReceiptSigner(NEW, (ReceiptKey(upcoming.kid, upcoming.public_pem, "next"),))
    check = check_receipt(signed_by(upcoming, RETIRED_AT), older_replica.key_set)
    assert (check.outcome, check.key and check.key.status) == ("genuine", "next")


def test_document_with_a_next_key_reads_back_as_the_same_set() -> None:
    upcoming = new_signer()
    hub = ReceiptSigner(NEW, (ReceiptKey(upcoming.kid, upcoming.public_pem, "next"), RETIRED))
    assert ReceiptKeySet.from_document(hub.hub_key_document()) == hub.key_set
