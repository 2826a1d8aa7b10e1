"""The webhook signature header and its verification."""

from __future__ import annotations

import hashlib
import hmac

from national_hub.notify.signing import signature_header, verify

SECRET = "whsec_test"
BODY = '{"id":"n1","summary":"暂停执业"}'.encode()


def test_header_is_hmac_sha256_of_t_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, t=1_700_000_000) == f"t=1700000000,v1={expected}"


def test_genuine_signature_verifies() -> None:
    assert verify(SECRET, signature_header(SECRET, BODY, t=1000), BODY, now=1010)


def test_changed_body_fails() -> None:
    assert not verify(SECRET, signature_header(SECRET, BODY, t=1000), BODY + b" ", now=1010)


def test_other_secret_fails() -> None:
    assert not verify("other", signature_header(SECRET, BODY, t=1000), BODY, now=1010)


def test_old_signature_fails() -> None:
    assert not verify(SECRET, signature_header(SECRET, BODY, t=1000), BODY, now=1000 + 301)


def test_garbled_header_fails() -> None:
    assert not verify(SECRET, "nonsense", BODY, now=1000)
