"""Ed25519 signing of canonical bytes, key files, and the person reference."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from schemas.canonical import canonical_bytes
from schemas.errors import KeyFileError
from schemas.person_ref import load_secret, person_ref, write_secret
from schemas.samples import sample_event
from schemas.signing import (
    Signer,
    Verifier,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    write_keypair,
)
from schemas.vocab import EventType

SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.load(generate_keypair()[0])


@pytest.fixture(scope="module")
def value() -> bytes:
    return canonical_bytes(sample_event(EventType.REGISTERED))


def test_valid_signature_verifies(signer: Signer, value: bytes) -> None:
    assert signer.verifier().verify(value, signer.sign(value))


def test_signature_is_64_raw_bytes(signer: Signer, value: bytes) -> None:
    assert len(signer.sign(value)) == 64


def test_tampered_value_fails(signer: Signer, value: bytes) -> None:
    tampered = value.replace("王小明".encode(), "王小名".encode())
    assert not signer.verifier().verify(tampered, signer.sign(value))


def test_signature_of_another_key_fails(signer: Signer, value: bytes) -> None:
    other = Signer.load(generate_keypair()[0])
    assert not signer.verifier().verify(value, other.sign(value))


def test_malformed_signature_is_false_not_an_exception(signer: Signer, value: bytes) -> None:
    assert not signer.verifier().verify(value, b"short")


def test_kid_is_16_hex_chars(signer: Signer) -> None:
    assert len(signer.kid) == 16 and int(signer.kid, 16) >= 0


def test_kid_is_stable_across_loads() -> None:
    private_pem, public_pem = generate_keypair()
    assert Signer.load(private_pem).kid == Verifier.load(public_pem).kid


def test_kid_differs_between_keys() -> None:
    assert Signer.load(generate_keypair()[0]).kid != Signer.load(generate_keypair()[0]).kid


def test_kid_is_sha256_of_the_raw_public_key() -> None:
    key = load_public_key(generate_keypair()[1])
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key) == hashlib.sha256(raw).hexdigest()[:16]


def test_signer_public_pem_loads_as_a_verifier(signer: Signer, value: bytes) -> None:
    assert Verifier.load(signer.public_pem).verify(value, signer.sign(value))


def test_write_keypair_makes_the_private_key_owner_only(tmp_path: Path) -> None:
    key_path, _ = write_keypair(tmp_path / "keys" / "50")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_written_keypair_signs_and_verifies(tmp_path: Path, value: bytes) -> None:
    key_path, pub_path = write_keypair(tmp_path / "50")
    sig = Signer.load(key_path).sign(value)
    assert (key_path.name, pub_path.name, Verifier.load(pub_path).verify(value, sig)) == (
        "50.key",
        "50.pub",
        True,
    )


def test_write_keypair_refuses_to_overwrite(tmp_path: Path) -> None:
    write_keypair(tmp_path / "50")
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_keypair(tmp_path / "50")


def test_missing_key_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"key file not found: .*nope\.key"):
        load_private_key(tmp_path / "nope.key")


def test_public_key_is_not_a_private_key() -> None:
    with pytest.raises(KeyFileError, match="not an unencrypted PEM private key"):
        load_private_key(generate_keypair()[1])


def test_person_ref_is_64_lower_hex() -> None:
    ref = person_ref(SECRET, "11010519491231002X")
    assert len(ref) == 64 and ref == ref.lower() and int(ref, 16) >= 0


def test_person_ref_normalises_case_and_spaces() -> None:
    assert person_ref(SECRET, " 11010519491231002x ") == person_ref(SECRET, "11010519491231002X")


def test_person_ref_depends_on_the_secret() -> None:
    assert person_ref(SECRET, "11010519491231002X") != person_ref(b"x" * 32, "11010519491231002X")


def test_written_secret_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "federation.secret"
    secret = write_secret(path)
    assert load_secret(path) == secret


def test_short_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "federation.secret"
    path.write_text("abcd\n")
    with pytest.raises(KeyFileError, match="at least 64 hex characters"):
        load_secret(path)
