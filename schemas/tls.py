"""TLS contexts from the federation file's keys: HTTP listeners, and the hub polling nodes."""

from __future__ import annotations

import ssl
from pathlib import Path

from schemas.federation import ConfigError


def server_context(certfile: Path, keyfile: Path | None, key: str, source: Path) -> ssl.SSLContext:
    """A listener's context (TLS 1.2+) from a PEM chain and key; ConfigError names the key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    except (OSError, ssl.SSLError) as exc:
        # The message names the file and the reason, never the key material.
        raise ConfigError(f"{source}: {key}: cannot load {certfile}: {_reason(exc)}") from None
    return context


def client_context(cafile: Path | None, key: str, source: Path) -> ssl.SSLContext:
    """A verifying client context trusting cafile (PEM), or the system's CAs when None."""
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{source}: {key}: cannot load {cafile}: {_reason(exc)}") from None


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or str(exc)
