"""The webhook signature: `X-Regsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The MAC is over "<t>.<body>" keyed with the webhook's secret (the convention of GitHub and
Stripe): the timestamp inside the MAC lets a receiver refuse an old call replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import time

ID_HEADER = "X-Regsync-Id"
SIGNATURE_HEADER = "X-Regsync-Signature"
# A receiver should refuse a signature older (or newer) than this; verify() does by default.
TOLERANCE_S = 300


def mac(secret: str, t: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<t>.<body>" keyed with the secret."""
    message = str(t).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, t: int | None = None) -> str:
    """The header value for a body, signed now (or at t)."""
    t = int(time.time()) if t is None else t
    return f"t={t},v1={mac(secret, t, body)}"


def verify(
    secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = TOLERANCE_S
) -> bool:
    """Whether a signature header is genuine for the body and recent; what a receiver runs."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        return False
    return hmac.compare_digest(mac(secret, t, body), parts.get("v1", ""))
