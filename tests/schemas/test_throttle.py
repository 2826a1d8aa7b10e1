"""The auth-failure throttle shared by node and hub, on a fake clock; who a client is behind
trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from schemas.federation import ConfigError
from schemas.throttle import AuthThrottle, forwarded_client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **kw: float) -> AuthThrottle:
    return AuthThrottle(
        int(kw.get("max_failures", 3)),
        kw.get("window_s", 60.0),
        kw.get("lockout_s", 30.0),
        clock=clock,
    )


def test_the_nth_failure_within_the_window_locks_the_client_out() -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(2):
        t.failed("10.0.0.1")
    assert t.retry_after("10.0.0.1") == 0
    t.failed("10.0.0.1")
    assert t.retry_after("10.0.0.1") == 30


def test_failures_spread_wider_than_the_window_never_lock() -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(10):
        t.failed("10.0.0.1")
        clock.now += 31.0  # three failures always span more than 60 s
    assert t.retry_after("10.0.0.1") == 0


def test_the_lockout_ends_and_counting_starts_afresh() -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(3):
        t.failed("10.0.0.1")
    clock.now += 29.5
    assert t.retry_after("10.0.0.1") == 1
    clock.now += 0.5
    assert t.retry_after("10.0.0.1") == 0
    t.failed("10.0.0.1")
    assert t.retry_after("10.0.0.1") == 0


def test_one_clients_failures_do_not_lock_another() -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(3):
        t.failed("10.0.0.1")
    assert (t.retry_after("10.0.0.1") > 0, t.retry_after("10.0.0.2")) == (True, 0)


def test_disabled_throttle_never_locks() -> None:
    t = AuthThrottle(1, 60, 60, enabled=False)
    for _ in range(5):
        t.failed("10.0.0.1")
    assert t.retry_after("10.0.0.1") == 0


def test_memory_is_bounded_by_forgetting_the_least_recently_failing_client() -> None:
    clock = Clock()
    t = AuthThrottle(2, 60, 60, max_clients=2, clock=clock)
    for client in ("a", "b", "c", "a", "c"):  # c evicts a; a (anew) evicts b; c's 2nd locks
        t.failed(client)
    assert (t.retry_after("a"), t.retry_after("c") > 0) == (0, True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", (20, 60.0, 60.0, True)),
        ("off", (20, 60.0, 60.0, False)),
        ("5/10", (5, 10.0, 10.0, True)),
        ("5/10/120", (5, 10.0, 120.0, True)),
    ],
)
def test_settings_from_the_environment(
    value: str, expected: tuple[int, float, float, bool]
) -> None:
    t = AuthThrottle.from_env(value)
    assert (t.max_failures, t.window_s, t.lockout_s, t.enabled) == expected


@pytest.mark.parametrize("value", ["fast", "5", "0/10", "5/x", "5/10/20/30", "5/nan"])
def test_bad_environment_setting_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="REGSYNC_AUTH_THROTTLE"):
        AuthThrottle.from_env(value)


# forwarded_client: who the client is behind trusted proxies (the hubs' load balancer).
BALANCER = (ipaddress.ip_network("127.0.0.1/32"),)
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ff::/48"))


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert forwarded_client("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"


def test_a_header_from_an_untrusted_peer_is_ignored() -> None:
    # A client sending X-Forwarded-For itself, straight to the hub, cannot choose its bucket.
    assert forwarded_client("198.51.100.9", ["203.0.113.7"], BALANCER) == "198.51.100.9"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client() -> None:
    assert forwarded_client("127.0.0.1", ["203.0.113.7"], BALANCER) == "203.0.113.7"


def test_a_spoofed_entry_left_of_the_proxys_is_ignored() -> None:
    # The client sent "1.2.3.4"; the balancer appended the address it really came from.
    assert forwarded_client("127.0.0.1", ["1.2.3.4, 203.0.113.7"], BALANCER) == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop() -> None:
    headers = ["1.2.3.4, 203.0.113.7", "10.1.0.5", "2001:db8:ff::2"]
    assert forwarded_client("10.9.9.9", headers, PROXIES) == "203.0.113.7"


def test_an_ipv4_mapped_peer_is_matched_as_ipv4() -> None:
    assert forwarded_client("::ffff:127.0.0.1", ["203.0.113.7"], BALANCER) == "203.0.113.7"


def test_no_header_from_a_trusted_proxy_leaves_the_proxy() -> None:
    assert forwarded_client("127.0.0.1", [], BALANCER) == "127.0.0.1"


def test_an_entry_that_is_no_address_stops_at_the_proxy_that_wrote_it() -> None:
    assert forwarded_client("10.9.9.9", ["203.0.113.7, junk, 10.1.0.5"], PROXIES) == "10.1.0.5"


def test_only_proxies_in_the_chain_gives_the_farthest() -> None:
    assert forwarded_client("10.9.9.9", ["10.1.0.5, 10.2.0.6"], PROXIES) == "10.1.0.5"
