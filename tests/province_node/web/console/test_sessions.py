"""The console's sessions: ids, CSRF tokens, idle and absolute expiry, the size limit."""

from __future__ import annotations

from province_node.auth import Role
from province_node.web.console.sessions import SessionStore


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _store(clock: Clock, **kw: float) -> SessionStore:
    return SessionStore(
        idle_s=kw.get("idle_s", 60), absolute_s=kw.get("absolute_s", 600), clock=clock
    )


def test_an_open_session_is_found_by_its_id() -> None:
    store = _store(Clock())
    session = store.open(Role.VIEWER)
    assert store.get(session.id) is session


def test_two_sessions_never_share_an_id_or_a_csrf_token() -> None:
    store = _store(Clock())
    a, b = store.open(Role.VIEWER), store.open(Role.VIEWER)
    assert (a.id == b.id, a.csrf == b.csrf) == (False, False)


def test_a_session_idle_too_long_is_gone() -> None:
    clock = Clock()
    store = _store(clock)
    session = store.open(Role.REGISTRAR)
    clock.now += 61
    assert store.get(session.id) is None


def test_use_keeps_a_session_alive() -> None:
    clock = Clock()
    store = _store(clock)
    session = store.open(Role.REGISTRAR)
    for _ in range(5):
        clock.now += 50
        store.get(session.id)
    assert store.get(session.id) is session


def test_a_read_without_touch_does_not_keep_it_alive() -> None:
    clock = Clock()
    store = _store(clock)
    session = store.open(Role.REGISTRAR)
    for _ in range(3):
        clock.now += 30
        store.get(session.id, touch=False)
    assert store.get(session.id) is None


def test_a_session_ends_at_its_absolute_limit_however_busy() -> None:
    clock = Clock()
    store = _store(clock, absolute_s=100)
    session = store.open(Role.REGISTRAR)
    for _ in range(3):
        clock.now += 40
        store.get(session.id)
    assert store.get(session.id) is None


def test_past_the_limit_the_least_recently_used_session_goes() -> None:
    store = SessionStore(limit=2, clock=Clock())
    first, second = store.open(Role.VIEWER), store.open(Role.VIEWER)
    store.get(first.id)
    store.open(Role.VIEWER)
    assert (store.get(first.id) is first, store.get(second.id)) == (True, None)


def test_closing_ends_the_session() -> None:
    store = _store(Clock())
    session = store.open(Role.VIEWER)
    store.close(session.id)
    assert store.get(session.id) is None


def test_only_a_registrar_can_write() -> None:
    store = _store(Clock())
    assert (store.open(Role.REGISTRAR).can_write, store.open(Role.VIEWER).can_write) == (
        True,
        False,
    )


def test_the_csrf_token_must_match_exactly() -> None:
    session = _store(Clock()).open(Role.REGISTRAR)
    assert (
        session.csrf_matches(session.csrf),
        session.csrf_matches(session.csrf[:-1]),
        session.csrf_matches(None),
    ) == (True, False, False)
