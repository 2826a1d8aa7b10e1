"""HTTPS end to end: `province-node serve` and `national-hub serve` with a self-signed certificate.

The hub polls and asks the node over https, verifying it with hub.node_ca_file; clients verify
both servers against the same certificate, and plain http to either port gets no answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.stack import Ports, Secrets, write_federation
from province_node.synthetic import registrations
from tests.e2e.federation import free_base, wait_until

BIN = Path(sys.executable).parent
PROVINCE = "50"
UNKNOWN_CERT = "500999000000001"


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (mode 0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regsync test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def enable_tls(config: Path, cert: Path, key: Path) -> None:
    """Turn the federation file's listeners and node_urls to https with cert and key."""
    tls = [f'tls_certfile = "{cert}"', f'tls_keyfile = "{key}"']
    out: list[str] = []
    for line in config.read_text(encoding="utf-8").splitlines():
        out.append(line.replace('node_url = "http://', 'node_url = "https://'))
        if line == "[hub]":
            out += [*tls, f'node_ca_file = "{cert}"']
        elif line == "[[province]]":
            out += tls
    config.write_text("\n".join(out) + "\n", encoding="utf-8")


@dataclass
class TlsFederation:
    """Node 50 and the hub serving https, and what a client needs to reach them."""

    node: str
    hub: str
    cert: Path
    secrets: Secrets
    state: Path


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_https(
    url: str, context: ssl.SSLContext, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1, context=context) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within 60 s: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def tls_federation(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsFederation]:
    state = tmp_path_factory.mktemp("tls")
    ports = Ports(free_base())
    secrets = write_federation(
        state, [PROVINCE], ports, bootstrap=bootstrap, topic_prefix="tls" + os.urandom(4).hex()
    )
    cert, key = write_self_signed(state / "keys")
    config = state / "federation.toml"
    enable_tls(config, cert, key)
    commands = {
        "province-50": [
            str(BIN / "province-node"),
            "serve",
            "--config",
            str(config),
            "--province",
            PROVINCE,
        ],
        "hub": [str(BIN / "national-hub"), "serve", "--config", str(config)],
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, cmd in commands.items():
            with (state / f"{name}.log").open("ab") as log:
                procs.append(
                    subprocess.Popen(
                        cmd,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        cwd=state,
                        start_new_session=True,
                    )
                )
        context = ssl.create_default_context(cafile=str(cert))
        node = f"https://127.0.0.1:{ports.province(PROVINCE)}"
        hub = f"https://127.0.0.1:{ports.hub}"
        _wait_https(f"{node}/healthz", context, procs[0], state / "province-50.log")
        _wait_https(f"{hub}/readyz", context, procs[1], state / "hub.log")
        yield TlsFederation(node, hub, cert, secrets, state)
    finally:
        _stop(procs)


@pytest.fixture
async def verified(tls_federation: TlsFederation) -> AsyncIterator[aiohttp.ClientSession]:
    """A client trusting only the test certificate."""
    context = ssl.create_default_context(cafile=str(tls_federation.cert))
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=10)
    ) as s:
        yield s


async def test_node_answers_over_verified_https(
    tls_federation: TlsFederation, verified: aiohttp.ClientSession
) -> None:
    token = tls_federation.secrets.tokens[PROVINCE]["viewer"]
    async with verified.get(
        f"{tls_federation.node}/v1/sync/status", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert (resp.status, (await resp.json())["province"]) == (200, PROVINCE)


async def test_hub_answers_over_verified_https(
    tls_federation: TlsFederation, verified: aiohttp.ClientSession
) -> None:
    async with verified.get(f"{tls_federation.hub}/v1/sync/status") as resp:
        body = await resp.json()
    assert (resp.status, [p["province"] for p in body["provinces"]]) == (200, [PROVINCE])


async def test_hub_asks_the_node_over_https(
    tls_federation: TlsFederation, verified: aiohttp.ClientSession
) -> None:
    # The node answering "no such record" is what makes the state unknown_to_province; a
    # node the hub cannot reach would read province_unreachable.
    async with verified.get(
        f"{tls_federation.hub}/v1/sync/explain", params={"cert_no": UNKNOWN_CERT}
    ) as resp:
        body: dict[str, Any] = await resp.json()
    assert (resp.status, body["state"], body.get("unreachable", [])) == (
        200,
        "unknown_to_province",
        [],
    ), body


async def test_registration_over_https_reaches_the_hub(
    tls_federation: TlsFederation, verified: aiohttp.ClientSession
) -> None:
    reg = next(registrations(PROVINCE, 1, seed=907))
    token = tls_federation.secrets.tokens[PROVINCE]["registrar"]
    async with verified.post(
        f"{tls_federation.node}/v1/registrations",
        json=reg,
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 201, await resp.text()

    async def visible() -> bool:
        async with verified.get(f"{tls_federation.hub}/v1/physicians/{reg['cert_no']}") as r:
            return r.status == 200

    await wait_until(visible, 30, "the registration at the hub")


@pytest.mark.parametrize("server", ["node", "hub"])
async def test_plain_http_gets_no_answer(tls_federation: TlsFederation, server: str) -> None:
    url = getattr(tls_federation, server).replace("https://", "http://") + "/healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as plain:
        with pytest.raises(aiohttp.ClientError):
            async with plain.get(url) as resp:
                await resp.read()


@pytest.mark.parametrize("server", ["node", "hub"])
async def test_a_client_not_trusting_the_certificate_is_refused(
    tls_federation: TlsFederation, server: str
) -> None:
    url = getattr(tls_federation, server) + "/healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as default_trust:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with default_trust.get(url) as resp:
                await resp.read()
