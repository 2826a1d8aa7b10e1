"""The hub's frozen settings, built from the federation file and checked once at start."""

from __future__ import annotations

import dataclasses
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from national_hub.tuning import HubTuning, load_tuning
from schemas.errors import KeyFileError
from schemas.federation import (
    ConfigError,
    Federation,
    KafkaSection,
    load_federation,
    require_file,
)
from schemas.signing import Signer, Verifier
from schemas.throttle import ProxyNetworks
from schemas.tls import client_context, server_context
from schemas.vocab import PROVINCES


@dataclass(frozen=True, slots=True)
class PreviousKey:
    """A province key replaced by its public_key, trusted for events committed up to
    not_after (the rotation's overlap window)."""

    verifier: Verifier
    not_after: datetime


@dataclass(frozen=True, slots=True)
class RetiredReceiptKey:
    """A receipt key the hub no longer signs with, still published so that the receipts it
    signed up to retired_at stay checkable."""

    verifier: Verifier
    retired_at: datetime
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProvinceSettings:
    """One province as the hub sees it: who it is, where its node is, which key signs for it."""

    code: str
    name: str
    node_url: str
    public_key_path: Path
    verifier: Verifier
    previous_keys: tuple[PreviousKey, ...] = ()

    @property
    def kid(self) -> str:
        """The key id its messages must carry."""
        return self.verifier.kid


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Everything `national-hub` needs, validated: keys loaded, paths resolved."""

    source: Path
    host: str
    port: int
    db_path: Path
    signing_key_path: Path
    signer: Signer
    ops_token_sha256: str
    provinces: Mapping[str, ProvinceSettings]
    kafka: KafkaSection
    node_token_file: Path | None = None
    node_token: str | None = None
    aliases_file: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # The SQLite serving index (hub.index); None: next to db_path, see serving_index_path.
    index_path: Path | None = None
    # The employer-monitoring store (hub.notify_store); None: next to db_path, see
    # notify_store_path.
    notify_path: Path | None = None
    # Batch sizes, intervals, windows, cache lifetimes and limits ([hub.tuning], environment).
    tuning: HubTuning = field(default_factory=HubTuning)
    # Verifies https node_urls; built once at start so a bad CA file stops the start.
    node_ssl_context: ssl.SSLContext | None = None
    # kid -> province code, so a message signed with the wrong key can be named in a reason.
    kid_owner: Mapping[str, str] = field(default_factory=dict)
    # Receipt key rotation: since when signer signs, and the receipt keys it replaced.
    signing_key_not_before: datetime | None = None
    retired_receipt_keys: tuple[RetiredReceiptKey, ...] = ()
    # The next receipt key (hub.next_public_key), published ahead of signing with it.
    next_receipt_key: Verifier | None = None
    # hub.trusted_proxies: peers believed about X-Forwarded-For (web.params.request_client).
    trusted_proxies: ProxyNetworks = ()

    @classmethod
    def load(cls, path: Path | str) -> HubSettings:
        """Read the federation file and build the settings; raise ConfigError naming the key."""
        return cls.from_federation(load_federation(path))

    @classmethod
    def from_federation(
        cls, fed: Federation, environ: Mapping[str, str] | None = None
    ) -> HubSettings:
        """Build from a validated federation, loading and checking every key file.

        The hub's environment variables are read here and nowhere else (default: os.environ).
        """
        src = fed.source
        hub = fed.hub
        env = os.environ if environ is None else environ
        tuning = load_tuning(hub.tuning, hub.memory_limit, env, src)
        host, _, port = hub.listen.rpartition(":")
        signing_path = require_file(hub.signing_key, "hub.signing_key", src)
        try:
            signer = Signer.load(signing_path)
        except KeyFileError as exc:
            raise ConfigError(f"{src}: hub.signing_key: {exc}") from None

        provinces: dict[str, ProvinceSettings] = {}
        kid_owner: dict[str, str] = {}
        for i, p in enumerate(fed.province):
            key = f"province[{i}].public_key"
            pub_path = require_file(p.public_key, key, src)
            verifier = _verifier(pub_path, key, src)
            previous: list[PreviousKey] = []
            for j, old in enumerate(p.previous_keys):
                old_key = f"province[{i}].previous_keys[{j}].public_key"
                old_path = require_file(old.public_key, old_key, src)
                previous.append(PreviousKey(_verifier(old_path, old_key, src), old.not_after))
            # A key shared by two provinces would let one sign events for the other (and one
            # listed twice for a province would leave its window ambiguous).
            for k, v in [(key, verifier)] + [
                (f"province[{i}].previous_keys[{j}].public_key", old.verifier)
                for j, old in enumerate(previous)
            ]:
                if v.kid in kid_owner:
                    raise ConfigError(f"{src}: {k}: same public key as province {kid_owner[v.kid]}")
                kid_owner[v.kid] = p.code
            provinces[p.code] = ProvinceSettings(
                code=p.code,
                name=p.name,
                node_url=p.node_url.rstrip("/"),
                public_key_path=pub_path,
                verifier=verifier,
                previous_keys=tuple(previous),
            )
        retired = _retired_receipt_keys(fed, signer)

        node_token: str | None = None
        if hub.node_token_file is not None:
            token_path = require_file(hub.node_token_file, "hub.node_token_file", src)
            try:
                node_token = token_path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{src}: hub.node_token_file: cannot read: {exc}") from None
            if not node_token:
                raise ConfigError(f"{src}: hub.node_token_file: file {token_path} is empty")
        if hub.aliases_file is not None:
            require_file(hub.aliases_file, "hub.aliases_file", src)
        if (hub.tls_certfile is None) != (hub.tls_keyfile is None):
            raise ConfigError(f"{src}: hub.tls_certfile and hub.tls_keyfile must be set together")
        if hub.tls_certfile is not None and hub.tls_keyfile is not None:
            require_file(hub.tls_certfile, "hub.tls_certfile", src)
            require_file(hub.tls_keyfile, "hub.tls_keyfile", src)
        if hub.node_ca_file is not None:
            require_file(hub.node_ca_file, "hub.node_ca_file", src)
        node_ssl = None
        if hub.node_ca_file is not None or any(
            p.node_url.startswith("https:") for p in provinces.values()
        ):
            node_ssl = client_context(hub.node_ca_file, "hub.node_ca_file", src)
        if fed.kafka.sasl_password_file is not None:
            require_file(fed.kafka.sasl_password_file, "kafka.sasl_password_file", src)
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(fed.kafka, name)
            if value is not None:
                require_file(value, f"kafka.{name}", src)

        return cls(
            source=src,
            host=host,
            port=int(port),
            db_path=hub.db,
            index_path=hub.index,
            notify_path=hub.notify_store,
            signing_key_path=signing_path,
            signer=signer,
            ops_token_sha256=hub.ops_token_sha256,
            provinces=MappingProxyType(provinces),
            kafka=fed.kafka,
            node_token_file=hub.node_token_file,
            node_token=node_token,
            aliases_file=hub.aliases_file,
            tls_certfile=hub.tls_certfile,
            tls_keyfile=hub.tls_keyfile,
            node_ssl_context=node_ssl,
            kid_owner=MappingProxyType(kid_owner),
            tuning=tuning,
            signing_key_not_before=hub.signing_key_not_before,
            retired_receipt_keys=retired,
            next_receipt_key=_next_receipt_key(fed, signer, retired),
            trusted_proxies=hub.trusted_proxies,
        )

    def server_ssl_context(self) -> ssl.SSLContext | None:
        """TLS for the HTTP listener when hub.tls_certfile/tls_keyfile are set, else None."""
        if self.tls_certfile is None:
            return None
        key = "hub.tls_certfile/tls_keyfile"
        return server_context(self.tls_certfile, self.tls_keyfile, key, self.source)

    def replica(
        self, *, listen: str | None = None, db: Path | None = None, index: Path | None = None
    ) -> HubSettings:
        """These settings for one replica of several sharing this federation file (issue 16):
        its own listen address, DuckDB file and serving index; raise ConfigError on a bad
        --listen.

        With db given and no index, the index goes beside the replica's db (never the file's
        hub.index, which another replica uses). The notify store stays the one every replica
        and notifier share, wherever hub.db put it.
        """
        changes: dict[str, object] = {"notify_path": self.notify_store_path}
        if listen is not None:
            host, _, port = listen.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"--listen {listen!r}: use HOST:PORT")
            changes.update(host=host, port=int(port))
        if db is not None:
            changes.update(db_path=db.resolve(), index_path=None)
        if index is not None:
            changes["index_path"] = index.resolve()
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def notify_store_path(self) -> Path:
        """Where the employer-monitoring store lives: hub.notify_store, or beside the DuckDB
        file and named after it (national.duckdb -> national.notify.sqlite3)."""
        if self.notify_path is not None:
            return self.notify_path
        return self.db_path.with_name(self.db_path.stem + ".notify.sqlite3")

    @property
    def serving_index_path(self) -> Path:
        """Where the serving index lives: hub.index, or beside the DuckDB file and named after
        it (national.duckdb -> national.index.sqlite3)."""
        if self.index_path is not None:
            return self.index_path
        return self.db_path.with_name(self.db_path.stem + ".index.sqlite3")

    @property
    def province_codes(self) -> tuple[str, ...]:
        """Configured province codes in file order."""
        return tuple(self.provinces)

    def province_name(self, code: str) -> str:
        """The province's name as the federation file gives it, else its standard name."""
        p = self.provinces.get(code)
        return p.name if p is not None else PROVINCES.get(code, code)

    def events_topic(self, province: str) -> str:
        """The Kafka topic carrying a province's events."""
        return self.kafka.events_topic(province)

    def topic_province(self, topic: str) -> str | None:
        """The province code a `<prefix>.events.<NN>` topic belongs to, else None."""
        return self.kafka.events_topic_province(topic)


def _verifier(path: Path, key: str, src: Path) -> Verifier:
    """The public key at path; ConfigError naming the file's key otherwise."""
    try:
        return Verifier.load(path)
    except KeyFileError as exc:
        raise ConfigError(f"{src}: {key}: {exc}") from None


def _retired_receipt_keys(fed: Federation, signer: Signer) -> tuple[RetiredReceiptKey, ...]:
    """[[hub.retired_keys]] loaded and checked: none is the current key, none listed twice."""
    src = fed.source
    seen = {signer.kid: "hub.signing_key"}
    out: list[RetiredReceiptKey] = []
    for j, old in enumerate(fed.hub.retired_keys):
        key = f"hub.retired_keys[{j}].public_key"
        verifier = _verifier(require_file(old.public_key, key, src), key, src)
        # A receipt's kid picks its key: two entries with one kid would make that ambiguous,
        # and the current key listed as retired would mark fresh receipts as signed too late.
        if verifier.kid in seen:
            raise ConfigError(f"{src}: {key}: same key as {seen[verifier.kid]}")
        seen[verifier.kid] = key
        if old.not_before is not None and old.not_before >= old.retired_at:
            raise ConfigError(f"{src}: hub.retired_keys[{j}].not_before: must be before retired_at")
        out.append(RetiredReceiptKey(verifier, old.retired_at, old.not_before))
    return tuple(out)


def _next_receipt_key(
    fed: Federation, signer: Signer, retired: tuple[RetiredReceiptKey, ...]
) -> Verifier | None:
    """hub.next_public_key loaded: a key not yet signing, so neither current nor retired."""
    if fed.hub.next_public_key is None:
        return None
    src, key = fed.source, "hub.next_public_key"
    verifier = _verifier(require_file(fed.hub.next_public_key, key, src), key, src)
    if verifier.kid == signer.kid or any(r.verifier.kid == verifier.kid for r in retired):
        raise ConfigError(f"{src}: {key}: already the current or a retired key")
    return verifier
