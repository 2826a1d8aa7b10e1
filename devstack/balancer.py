"""The local load balancer in front of several hub replicas: an HAProxy configuration.

HAProxy is Debian's `haproxy` package (devstack.system.BALANCER_TOOLS). It routes on each
replica's GET /readyz, so a replica catching up or draining on SIGTERM takes no public read, and
it retries a read whose replica died under it on another one, so a SIGKILL costs no client an
error (issue 16).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Health checks every 500 ms, out after 2 failures, back after 2 successes: a draining replica
# is taken out within ~1 s, under the hub's hub.tuning.web.drain_s (2 s), so no new read is
# sent to a replica about to stop listening.
CHECK_INTER_MS = 500
CHECK_FALL = 2
CHECK_RISE = 2
# A read may wait for read-your-writes (?min_token, ?wait= up to 30 s, CONTRACT §5) or queue
# for its turn: the server timeout is well above both.
SERVER_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class Backend:
    """One hub replica as the balancer knows it."""

    name: str
    host: str
    port: int


DEVSTACK_HEADER = "# Written by ./dev up --hubs N (devstack/balancer.py); rewritten on every start."
COMPOSE_HEADER = (
    "# compose's balancer (compose/docker-compose.yml, service haproxy). Generated: edit\n"
    "# devstack/balancer.py and run `python -m devstack.balancer > compose/haproxy/haproxy.cfg`\n"
    "# (tests/devstack/test_balancer.py fails when this file and the code differ)."
)
# Compose: the replicas' services, their port, and Docker's embedded DNS server, which
# HAProxy asks again when a replica's container comes back with another address.
COMPOSE_REPLICAS = ("hub-1", "hub-2")
COMPOSE_HUB_PORT = 8080
DOCKER_DNS = "127.0.0.11:53"


def haproxy_config(
    listen_host: str,
    listen_port: int,
    backends: Sequence[Backend],
    *,
    source: str | None = None,
    dns: str | None = None,
    header: str = DEVSTACK_HEADER,
) -> str:
    """The whole haproxy.cfg: one frontend on listen_host:listen_port, every replica behind it.

    source: the address HAProxy connects to the replicas from, when it must be one clients
    cannot have (the replicas' hub.trusted_proxies names it, and believe X-Forwarded-For only
    from there). dns: a name server to resolve the replicas' host names with, again while
    running (compose's containers change address when re-created); without it they are
    resolved once, at start."""
    if not backends:
        raise ValueError("a balancer needs at least one replica")
    # With dns, a replica whose name does not resolve yet starts DOWN instead of stopping
    # HAProxy from starting; it is found on a later resolution.
    resolve = " resolvers dns init-addr libc,none" if dns is not None else ""
    servers = [f"    server {b.name} {b.host}:{b.port} check{resolve}" for b in backends]
    sources = [] if source is None else [f"    source {source}"]
    resolvers = (
        []
        if dns is None
        else ["resolvers dns", f"    nameserver dns {dns}", "    hold valid 10s", ""]
    )
    lines = [
        header,
        "global",
        "    maxconn 4096",
        # -db runs HAProxy in the foreground; its warnings (a replica going DOWN or UP) go
        # to stderr, the stack's balancer.log. Single requests are not logged.
        "",
        *resolvers,
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 60s",
        f"    timeout server {SERVER_TIMEOUT_S}s",
        "    timeout http-keep-alive 10s",
        "    timeout check 2s",
        # A read whose replica refused the connection, closed it without an answer (killed
        # mid-request) or sent garbage is tried again, on another replica (redispatch).
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response junk-response",
        "",
        "frontend hub",
        f"    bind {listen_host}:{listen_port}",
        # Each replica rate-limits and locks out by the client HAProxy names here (appended
        # after any X-Forwarded-For the client sent), not by HAProxy's own address.
        "    option forwardfor",
        "    default_backend hubs",
        "",
        "backend hubs",
        "    balance roundrobin",
        *sources,
        # Retries need the whole request in hand; bodies here are small JSON documents.
        "    option http-buffer-request",
        # Only reads are tried twice: GET/HEAD, and POST /v1/verify (it changes nothing).
        # Anything else (ops actions) is sent once.
        "    http-request disable-l7-retry if !{ method GET HEAD } !{ path /v1/verify }",
        "    option httpchk GET /readyz",
        "    http-check expect status 200",
        f"    default-server inter {CHECK_INTER_MS}ms fall {CHECK_FALL} rise {CHECK_RISE}",
        *servers,
        "",
    ]
    return "\n".join(lines)


def compose_config() -> str:
    """compose/haproxy/haproxy.cfg: the same balancer in front of compose's hub-1 and hub-2,
    on port 8080 of its container (published at 127.0.0.1:8080)."""
    backends = [Backend(name, name, COMPOSE_HUB_PORT) for name in COMPOSE_REPLICAS]
    return haproxy_config("*", COMPOSE_HUB_PORT, backends, dns=DOCKER_DNS, header=COMPOSE_HEADER)


if __name__ == "__main__":
    print(compose_config(), end="")
