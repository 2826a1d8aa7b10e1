"""The Idempotency-Key of a console form: every form that changes something carries a fresh
key in the hidden field `idempotency_key`, made when the page was drawn, so a double click or
a resent form commits once (the second answer is the first one, replayed: province_node
.idempotency). The key is the session's: two registrars never share one."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from province_node import idempotency
from province_node.errors import BadRequest
from province_node.idempotency import Claim
from province_node.web.console.sessions import Session

FIELD = "idempotency_key"


def new_key() -> str:
    """A fresh key for a form being drawn."""
    return secrets.token_urlsafe(16)


def form_claim(session: Session, raw_key: object, method: str, path: str, body: Any) -> Claim:
    """The claim of a posted form: its key under the session (400 when the form has none; every
    console form draws one, so a form without it was not drawn by the console)."""
    client, key = keyed(session, raw_key)
    return Claim(client, key, idempotency.fingerprint(method, path, body))


def keyed(session: Session, raw_key: object) -> tuple[str, str]:
    """A posted form's key under its session: (client, key) (400 when the form has none;
    every console form draws one, so a form without it was not drawn by the console)."""
    key = idempotency.parse_key(raw_key if isinstance(raw_key, str) else None)
    if key is None:
        raise BadRequest(f"{FIELD}: missing; every console form carries one")
    return client_of(session), key


def client_of(session: Session) -> str:
    """Whose keys a session's are (never the session id itself, which signs a person in)."""
    return hashlib.sha256(f"console:{session.id}".encode()).hexdigest()
