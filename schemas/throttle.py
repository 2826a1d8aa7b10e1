"""Per-client throttling shared by node and hub: who a client is (behind trusted proxies too),
and auth-failure lockouts."""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.federation import ConfigError

log = logging.getLogger(__name__)

AUTH_THROTTLE_ENV = "REGSYNC_AUTH_THROTTLE"
AUTH_THROTTLE_SYNTAX = "use off or FAILURES/WINDOW_S[/LOCKOUT_S] (e.g. 20/60/60)"


class ThrottleLimits(BaseModel):
    """When a client is locked out: `max_failures` within `window_s` lock it for `lockout_s`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="false: never lock a client out")
    max_failures: int = Field(default=20, ge=1, description="failed authentications that lock")
    window_s: float = Field(
        default=60.0, gt=0, allow_inf_nan=False, description="seconds the failures count within"
    )
    lockout_s: float = Field(
        default=60.0, gt=0, allow_inf_nan=False, description="seconds a locked client waits"
    )


def parse_auth_throttle(text: str) -> ThrottleLimits:
    """The limits written as "off" or "FAILURES/WINDOW_S[/LOCKOUT_S]"; empty: the defaults.

    The one reader of this syntax (REGSYNC_AUTH_THROTTLE at the node and the hub, and
    hub.tuning.web.auth_throttle); ValueError(AUTH_THROTTLE_SYNTAX) when it does not parse.
    """
    text = text.strip().lower()
    if not text:
        return ThrottleLimits()
    if text == "off":
        return ThrottleLimits(enabled=False)
    parts = text.split("/")
    try:
        if not 2 <= len(parts) <= 3:
            raise ValueError(text)
        failures, window = int(parts[0]), float(parts[1])
        lockout = float(parts[2]) if len(parts) == 3 else window
        return ThrottleLimits(max_failures=failures, window_s=window, lockout_s=lockout)
    except (ValueError, ValidationError):
        raise ValueError(AUTH_THROTTLE_SYNTAX) from None


def auth_throttle_env(value: str) -> ThrottleLimits:
    """REGSYNC_AUTH_THROTTLE's value as limits, or ConfigError naming the variable."""
    try:
        return parse_auth_throttle(value)
    except ValueError:
        text = value.strip().lower()
        raise ConfigError(f"{AUTH_THROTTLE_ENV}={text!r}: {AUTH_THROTTLE_SYNTAX}") from None


_DEFAULT = ThrottleLimits()


# Pure and asked on every public request (~30 us to parse an address): the recent peers' keys
# are remembered.
@functools.lru_cache(maxsize=4096)
def client_key(remote: str | None) -> str:
    """The bucket of a peer address: the address itself, or its /64 for IPv6."""
    if not remote:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        # One IPv6 host usually holds a whole /64; per-address buckets would not limit it.
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


ProxyNetworks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


@functools.lru_cache(maxsize=4096)
def _trusted(address: str, proxies: ProxyNetworks) -> bool | None:
    """Whether address is inside one of proxies; None when it is no IP address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in proxies)


def forwarded_client(
    peer: str | None, forwarded_for: Iterable[str], proxies: ProxyNetworks
) -> str | None:
    """The client's address when proxies (e.g. the hubs' load balancer) may connect for it.

    Only when the peer itself is a trusted proxy is X-Forwarded-For read, from the right: each
    proxy appends the address it was connected from, so the right-most entry that is not a
    trusted proxy is the client, and whatever stands left of it is the client's own claim (a
    client that sends the header itself cannot choose its bucket). A peer outside proxies is
    the client whatever it sends. An entry that is no address, written by a proxy we trust,
    stops the walk at the proxy that wrote it: those clients then share one bucket, which
    lets none of them escape its limit. forwarded_for: the header's values, in order.
    """
    if not proxies or peer is None or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        trusted = _trusted(hop, proxies)
        if trusted is None:
            return client
        client = hop
        if not trusted:
            return client
    # Every hop is a proxy (e.g. the balancer's own health check): the farthest one.
    return client


@dataclass(slots=True)
class _Client:
    """One client's recent failure times and the end of its lockout (0 when not locked)."""

    failures: deque[float]
    locked_until: float = 0.0


@dataclass(slots=True)
class AuthThrottle:
    """Locks a client out for `lockout_s` after `max_failures` failed authentications in
    `window_s`; a success changes nothing, so interleaving a valid token cannot reset it."""

    max_failures: int = _DEFAULT.max_failures
    window_s: float = _DEFAULT.window_s
    lockout_s: float = _DEFAULT.lockout_s
    _: KW_ONLY
    enabled: bool = True
    max_clients: int = 100_000
    clock: Callable[[], float] = time.monotonic
    # Least recently failing first, so the memory bound evicts idle clients before attackers.
    _clients: OrderedDict[str, _Client] = field(default_factory=OrderedDict, init=False)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window_s <= 0 or self.lockout_s <= 0:
            raise ValueError("max_failures must be >= 1, window_s and lockout_s > 0")

    @classmethod
    def from_limits(cls, limits: ThrottleLimits) -> AuthThrottle:
        """A throttle enforcing these limits (disabled when limits.enabled is false)."""
        return cls(limits.max_failures, limits.window_s, limits.lockout_s, enabled=limits.enabled)

    @classmethod
    def from_env(cls, value: str | None = None) -> AuthThrottle:
        """From REGSYNC_AUTH_THROTTLE: "off" or "FAILURES/WINDOW_S[/LOCKOUT_S]"; unset: 20/60/60."""
        raw = os.environ.get(AUTH_THROTTLE_ENV, "") if value is None else value
        return cls.from_limits(auth_throttle_env(raw))

    def retry_after(self, client: str) -> int:
        """Whole seconds until a locked-out client may try again; 0 if it may try now."""
        if not self.enabled:
            return 0
        entry = self._clients.get(client)
        if entry is None or not entry.locked_until:
            return 0
        left = entry.locked_until - self.clock()
        if left <= 0:
            entry.locked_until = 0.0
            return 0
        return max(1, math.ceil(left))

    def failed(self, client: str) -> None:
        """Count one failed authentication; the max_failures-th within window_s locks out."""
        if not self.enabled:
            return
        now = self.clock()
        entry = self._clients.get(client)
        if entry is None:
            entry = self._clients[client] = _Client(deque(maxlen=self.max_failures))
            if len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(client)
        entry.failures.append(now)
        if len(entry.failures) == self.max_failures and now - entry.failures[0] <= self.window_s:
            entry.failures.clear()
            entry.locked_until = now + self.lockout_s
            # The client's address is not a secret; what it presented is never logged.
            log.warning(
                "%s: %d failed authentications within %g s; refused for %g s",
                client,
                self.max_failures,
                self.window_s,
                self.lockout_s,
            )
