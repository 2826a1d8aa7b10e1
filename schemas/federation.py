"""The federation file (TOML): one model, validated at start, shared by node and hub."""

from __future__ import annotations

import re
import ssl
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from schemas import topics
from schemas.errors import RegsyncError
from schemas.vocab import PROVINCES


class ConfigError(RegsyncError):
    """The federation file is missing, unreadable or invalid; the message names the key."""


_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_LISTEN = re.compile(r"^(?P<host>[^:\s]+):(?P<port>\d{1,5})$")


def _sha256_hex(v: str) -> str:
    if not _SHA256_HEX.match(v):
        raise ValueError("must be a sha256 hex digest (64 lowercase hex characters)")
    return v


def _listen(v: str) -> str:
    m = _LISTEN.match(v)
    if not m or not 0 < int(m["port"]) < 65536:
        raise ValueError('must be "host:port", e.g. "127.0.0.1:18150"')
    return v


def _province(v: str) -> str:
    if v not in PROVINCES:
        raise ValueError(f"unknown province code {v!r} (GB/T 2260 two-digit codes, or 66)")
    return v


Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]
Listen = Annotated[str, AfterValidator(_listen)]
ProvinceCodeStr = Annotated[str, AfterValidator(_province)]
# DuckDB's `memory_limit` syntax, e.g. "1GB", "1.5GiB".
MemoryLimit = Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$")]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_BOOTSTRAP = re.compile(r"^[^\s:,]+:\d{1,5}(,[^\s:,]+:\d{1,5})*$")


def _bootstrap(v: str) -> str:
    if not _BOOTSTRAP.match(v):
        raise ValueError('must be "host:port" or a comma-separated list of them')
    return v


class KafkaSection(_Section):
    bootstrap: Annotated[str, AfterValidator(_bootstrap)]
    topic_prefix: str = Field(default="regsync", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(default=3, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=7)
    # Passed through to aiokafka; see README "Kafka security".
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password_file: Path | None = None

    def events_topic(self, province: str) -> str:
        return topics.events_topic(self.topic_prefix, province)

    def events_topic_province(self, topic: str) -> str | None:
        return topics.events_topic_province(self.topic_prefix, topic)

    @property
    def heartbeats_topic(self) -> str:
        return topics.heartbeats_topic(self.topic_prefix)

    def client_kwargs(self) -> dict[str, Any]:
        """aiokafka connection arguments (bootstrap, TLS, SASL) shared by node and hub clients."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None
            )
            if self.ssl_certfile:
                context.load_cert_chain(
                    str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
                )
            kwargs["ssl_context"] = context
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            if self.sasl_password_file:
                try:
                    password = self.sasl_password_file.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(f"kafka.sasl_password_file: {exc.strerror}") from None
                kwargs["sasl_plain_password"] = password
        return kwargs

    @property
    def events_topic_pattern(self) -> str:
        return topics.events_topic_pattern(self.topic_prefix)


class Tokens(_Section):
    registrar: tuple[Sha256Hex, ...] = ()
    viewer: tuple[Sha256Hex, ...] = ()
    hub: tuple[Sha256Hex, ...] = ()


def _aware(v: datetime) -> datetime:
    # A key's validity is an instant the whole federation agrees on: a local time would mean
    # a different moment on each machine.
    if v.tzinfo is None or v.utcoffset() is None:
        raise ValueError("must carry a time zone, e.g. 2026-12-31T16:00:00Z")
    return v


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class RetiredHubKey(_Section):
    """[[hub.retired_keys]]: a receipt key the hub no longer signs with; receipts it signed
    up to retired_at stay checkable against it."""

    public_key: Path
    retired_at: AwareDatetime
    not_before: AwareDatetime | None = None


class PreviousProvinceKey(_Section):
    """[[province.previous_keys]]: a key the province signed with before public_key; the hub
    accepts events it signed that were committed up to not_after (the overlap window)."""

    public_key: Path
    not_after: AwareDatetime


class HubSection(_Section):
    listen: Listen = "127.0.0.1:18080"
    db: Path
    # The SQLite serving index national reads are answered from (national_hub.index);
    # default: next to db, named after it (national.duckdb -> national.index.sqlite3).
    index: Path | None = None
    # The employer-monitoring store (national_hub.notify): watch lists, webhooks,
    # notifications, deliveries, the notifier's lease. Every hub process and notifier that
    # serves one federation must name the same file; default: next to db
    # (national.duckdb -> national.notify.sqlite3).
    notify_store: Path | None = None
    signing_key: Path
    # Key rotation (docs/operations.md "Rotating keys"): since when signing_key signs, and the
    # public keys of the receipt keys it replaced, published in the key set so old receipts
    # stay checkable.
    signing_key_not_before: AwareDatetime | None = None
    # The next receipt key's public half, published before any replica signs with it so that
    # every replica's key set checks its receipts during a rolling restart.
    next_public_key: Path | None = None
    retired_keys: tuple[RetiredHubKey, ...] = ()
    ops_token_sha256: Sha256Hex
    # Optional: the plain `hub` role token the hub presents when it polls province nodes.
    node_token_file: Path | None = None
    aliases_file: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Optional: PEM CA bundle trusted for https node_urls (default: the system's CAs).
    node_ca_file: Path | None = None
    # DuckDB's buffer limit (its `memory_limit` syntax): keeps the hub's RSS bounded.
    memory_limit: MemoryLimit = "1GB"
    # Networks of the proxies in front of the hub (its replicas' load balancer): only a peer
    # inside one is believed about X-Forwarded-For, for per-client rate limits and lockouts.
    # Empty: the header is ignored and the peer is the client (schemas.throttle).
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    # [hub.tuning.<group>] tables: validated by the hub at start (national_hub.tuning), so a
    # node does not depend on the hub's knobs.
    tuning: dict[str, Any] = Field(default_factory=dict)


class ProvinceSection(_Section):
    code: ProvinceCodeStr
    name: str = Field(min_length=1)
    node_url: str = Field(pattern=r"^https?://[^/\s]+/?$")
    public_key: Path
    # Keys this province signed with before public_key, each with the end of its overlap
    # window (docs/operations.md "Rotating keys").
    previous_keys: tuple[PreviousProvinceKey, ...] = ()
    listen: Listen | None = None
    db: Path | None = None
    signing_key: Path | None = None
    tokens_sha256: Tokens = Tokens()
    person_ref_key_file: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Where this province's node asks the hub (its console's national visibility and health
    # pages); default: the address of [hub] listen. Set it when the node reaches the hub (or its
    # replicas' balancer) by another name than the hub listens on.
    hub_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")


def listen_url(listen: str, *, tls: bool) -> str:
    """The base URL of a "host:port" listen address; a wildcard host is reached on loopback."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


class Federation(_Section):
    kafka: KafkaSection
    hub: HubSection
    province: tuple[ProvinceSection, ...] = Field(min_length=1)
    # Where the file was read from, for messages; not a key of the file.
    _source: Path = PrivateAttr(default=Path("federation.toml"))

    @property
    def source(self) -> Path:
        return self._source

    @field_validator("province")
    @classmethod
    def _unique_codes(cls, v: tuple[ProvinceSection, ...]) -> tuple[ProvinceSection, ...]:
        seen: set[str] = set()
        for p in v:
            if p.code in seen:
                raise ValueError(f"province {p.code} is listed twice")
            seen.add(p.code)
        return v

    def province_by_code(self, code: str) -> ProvinceSection:
        for p in self.province:
            if p.code == code:
                return p
        raise ConfigError(f"{self.source}: no [[province]] with code = {code!r}")


_PATH_KEYS = {
    "db",
    "index",  # [hub] index (a string; [hub.tuning.index] is a table and stays one)
    "notify_store",
    "signing_key",
    "public_key",
    "next_public_key",
    "person_ref_key_file",
    "node_token_file",
    "aliases_file",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "sasl_password_file",
    "tls_certfile",
    "tls_keyfile",
    "node_ca_file",
}


def _resolve_paths(node: Any, base: Path) -> Any:
    """Relative paths in the file are relative to the file's own directory."""
    if isinstance(node, dict):
        return {
            k: (
                str(base / v)
                if k in _PATH_KEYS and isinstance(v, str) and not Path(v).is_absolute()
                else _resolve_paths(v, base)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_resolve_paths(x, base) for x in node]
    return node


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_federation(path: Path | str) -> Federation:
    """Read and validate the federation file, or raise ConfigError naming the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: federation file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    data = _resolve_paths(raw, path.resolve().parent)
    try:
        fed = Federation.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = _key_path(err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            msg = msg.removeprefix("Value error, ")
            lines.append(f"{key}: {msg}")
        raise ConfigError(f"{path}: " + "; ".join(lines)) from None
    fed._source = path
    return fed


def require_file(path: Path | None, key: str, source: Path) -> Path:
    """A path key that this deployable needs: present in the file and existing on disk."""
    if path is None:
        raise ConfigError(f"{source}: {key}: missing (required)")
    if not path.is_file():
        raise ConfigError(f"{source}: {key}: file {path} does not exist")
    return path
