"""Who is signed in to the console: sessions held in the node's memory.

A session is opened by signing in with a registrar or viewer token (login_routes) and named by
a random id in an HttpOnly cookie; it carries the role the token had and the CSRF token every
form of the session must send back (access.posted_form). Sessions live in memory only: the
node keeps no token or session on disk, and a restart signs everyone out (signing in again
needs the token, nothing else is lost). A session ends on sign-out, after `idle_s` without a
request, or `absolute_s` after sign-in, whichever comes first.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from province_node.auth import Role

# 30 minutes idle, 12 hours at most: a registrar's working day, not an unattended desk's.
IDLE_S = 30 * 60
ABSOLUTE_S = 12 * 3600
# Sessions beyond this many evict the least recently used: a flood of sign-ins (each needs a
# valid token) cannot grow the node's memory without bound.
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Session:
    """One signed-in operator."""

    id: str
    role: Role
    # Sent back by every form (hidden field `csrf`) and every script request (X-CSRF-Token).
    csrf: str
    opened_at: float
    last_seen: float

    @property
    def can_write(self) -> bool:
        """Whether this session may change anything (a registrar's); a viewer only reads."""
        return self.role is Role.REGISTRAR

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether `presented` is this session's CSRF token (compared in constant time)."""
        if not presented:
            return False
        return hmac.compare_digest(self.csrf.encode("ascii"), presented.encode("utf-8"))


class SessionStore:
    """The open sessions, by id; expired ones are dropped when met."""

    def __init__(
        self,
        *,
        idle_s: float = IDLE_S,
        absolute_s: float = ABSOLUTE_S,
        limit: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._idle_s = idle_s
        self._absolute_s = absolute_s
        self._limit = limit
        self._clock = clock

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, role: Role) -> Session:
        """A new session for a role, with fresh id and CSRF token."""
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            role=role,
            csrf=secrets.token_urlsafe(32),
            opened_at=now,
            last_seen=now,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None, *, touch: bool = True) -> Session | None:
        """The live session of this id, or None; `touch` restarts its idle clock (a person's
        request does, a page's own refresh does not: access.current_session)."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._idle_s or now - session.opened_at > self._absolute_s:
            del self._sessions[session_id]
            return None
        if touch:
            session.last_seen = now
            self._sessions.move_to_end(session_id)
        return session

    def close(self, session_id: str | None) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        if session_id:
            self._sessions.pop(session_id, None)
