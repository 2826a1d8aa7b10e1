"""Bearer tokens and roles: registrar writes, viewer reads, hub reads sync state."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from enum import StrEnum

from province_node.errors import Forbidden, Unauthorized
from schemas.errors import TooManyAuthFailures
from schemas.federation import Tokens
from schemas.throttle import AuthThrottle

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="regsync"'}


class Role(StrEnum):
    """A token's role, as in the federation file's tokens_sha256."""

    REGISTRAR = "registrar"
    VIEWER = "viewer"
    HUB = "hub"


READERS = frozenset({Role.REGISTRAR, Role.VIEWER})
WRITERS = frozenset({Role.REGISTRAR})
ANY_ROLE = frozenset(Role)


def token_sha256(token: str) -> str:
    """The form tokens are stored in: sha256 hex of the token's UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_digest(authorization: str | None) -> str:
    """The sha256 of the bearer token in an Authorization header; Unauthorized if malformed."""
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <token>", headers=_CHALLENGE)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
    return token_sha256(token)


class Authenticator:
    """Maps a bearer token to its roles; the node only ever holds the tokens' hashes."""

    def __init__(self, tokens: Tokens, throttle: AuthThrottle | None = None) -> None:
        self._digests = tuple(
            (digest.encode("ascii"), role) for role in Role for digest in getattr(tokens, role)
        )
        self._hub_digests = tuple(d for d, role in self._digests if role is Role.HUB)
        self.throttle = AuthThrottle.from_env() if throttle is None else throttle

    def _match(self, digest: str) -> frozenset[Role]:
        """Every role whose stored digest equals this one, comparing all in constant time."""
        presented = digest.encode("ascii")
        # No dict lookup and no early exit: the time taken does not depend on which stored
        # digest (if any) shares a prefix with the presented one.
        hits = [hmac.compare_digest(stored, presented) for stored, _ in self._digests]
        return frozenset(role for (_, role), hit in zip(self._digests, hits, strict=True) if hit)

    def _is_hub(self, authorization: str | None) -> bool:
        """Whether the request carries a hub-role token, comparing every hub digest alike."""
        try:
            presented = bearer_digest(authorization).encode("ascii")
        except Unauthorized:
            return False
        hits = [hmac.compare_digest(stored, presented) for stored in self._hub_digests]
        return any(hits)

    def roles(self, authorization: str | None, client: str) -> frozenset[Role]:
        """The roles of the request's token; Unauthorized if there is none or it is unknown.

        A client locked out by the throttle gets TooManyAuthFailures without its token being
        matched, except against the hub role's digests: the hub has a bucket of its own (its
        polls may share an address with failing clients), and through a lockout its token is
        granted the hub role only. See README, Security.
        """
        wait = self.throttle.retry_after(client)
        if wait:
            if self._hub_digests and self._is_hub(authorization):
                return frozenset({Role.HUB})
            raise TooManyAuthFailures.retry_after(wait)
        try:
            roles = self._match(bearer_digest(authorization))
        except Unauthorized:
            if authorization:  # sending no credentials at all is not a guess at one
                self.throttle.failed(client)
            raise
        if not roles:
            self.throttle.failed(client)
            raise Unauthorized("unknown token", headers=_CHALLENGE)
        return roles

    def require(self, authorization: str | None, allowed: Iterable[Role], client: str) -> Role:
        """The role under which the request acts; Forbidden if the token has none allowed."""
        roles = self.roles(authorization, client)
        allowed = frozenset(allowed)
        for role in Role:  # most privileged first
            if role in roles and role in allowed:
                return role
        names = " or ".join(sorted(r.value for r in allowed))
        have = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(f"this needs the {names} role; the token has {have}")
