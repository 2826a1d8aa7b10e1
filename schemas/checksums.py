"""Check characters of resident ID numbers (GB 11643) and unified social credit codes (GB 32100)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from schemas.vocab import Gender

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_DIGITS = frozenset("0123456789")

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_CODE_CHARS: frozenset[str] = frozenset(CREDIT_CODE_ALPHABET)


def resident_id_check_char(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID."""
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError("resident ID body must be 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id_birth_date(s: str) -> date | None:
    """Return the birth date in digits 7..14 of a resident ID, or None if it is not a real date."""
    try:
        return date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None


def resident_id_valid(s: str) -> bool:
    """Tell whether s is an 18-character resident ID with a real birth date and right check."""
    if len(s) != 18 or not _DIGITS.issuperset(s[:17]):
        return False
    if resident_id_birth_date(s) is None:
        return False
    # Registrars type a lower-case x; the check itself is case-blind.
    return resident_id_check_char(s[:17]) == s[17].upper()


def resident_id_gender(s: str) -> Gender:
    """Return the gender encoded by the sequence number of a valid resident ID (odd = male)."""
    if not resident_id_valid(s):
        raise ValueError("not a valid resident ID number")
    return Gender.MALE if int(s[16]) % 2 else Gender.FEMALE


def credit_code_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a credit code."""
    if len(first17) != 17:
        raise ValueError("credit code body must be 17 characters")
    try:
        total = sum(_CREDIT_VALUES[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the GB 32100 alphabet") from None
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


# Records repeat a few thousand institutions; the hub checks every event's codes again.
@lru_cache(maxsize=65_536)
def credit_code_valid(s: str) -> bool:
    """Tell whether s is an 18-character unified social credit code with the right check."""
    if len(s) != 18 or not CREDIT_CODE_CHARS.issuperset(s):
        return False
    return credit_code_check_char(s[:17]) == s[17]
