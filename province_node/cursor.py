"""The search cursor of the node's local search (the API's `cursor`, the console's next-page
link): an opaque token that resumes after a cert_no, so paging stays stable while records are
added (search is ordered by cert_no)."""

from __future__ import annotations

import base64
import binascii

from province_node.errors import InvalidRequest


def encode_cursor(cert_no: str) -> str:
    """An opaque cursor that resumes after this cert_no."""
    return base64.urlsafe_b64encode(f"after:{cert_no}".encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> str | None:
    """The cert_no a cursor resumes after (None for no cursor); InvalidRequest on `cursor` for a
    cursor this node did not issue."""
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, cert_no = text.partition(":")
    if prefix != "after" or len(cert_no) != 15 or not cert_no.isdigit():
        raise InvalidRequest.for_field("cursor", "not a cursor this node issued")
    return cert_no
