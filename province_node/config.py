"""The node's frozen settings, built from the federation file for one province."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import KeyFileError
from schemas.federation import (
    ConfigError,
    Federation,
    KafkaSection,
    ProvinceSection,
    Tokens,
    listen_url,
)
from schemas.person_ref import load_secret
from schemas.signing import Signer, Verifier
from schemas.timestamps import format_utc, utc_now
from schemas.tls import client_context, server_context

MAX_BODY_BYTES = 1024 * 1024
# A bulk-import upload (the console's POST /import) is streamed to disk, never held in memory,
# so it may be far larger than a request body: 200 MiB is about a million CSV rows.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class NodeSettings(BaseModel):
    """Everything one province node needs, validated once at start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    province: str
    province_name: str
    host: str
    port: int
    db_path: Path
    signing_key_path: Path
    person_ref_key_file: Path
    tokens: Tokens
    kafka: KafkaSection
    source: Path
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # The hub's base URL, asked by the console's national visibility and health pages: the
    # province's hub_url, else [hub] listen's address (with replicas, the balancer's); None in
    # settings built without a federation file (the pages then say the hub is not configured).
    hub_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+$")
    # The CA bundle an https hub_url is verified against: [hub] node_ca_file (the federation's
    # CA for its HTTP listeners), else the system's CAs.
    hub_ca_file: Path | None = None
    # Tunables with no key in the federation file; tests shorten them with model_copy.
    heartbeat_interval_s: float = 1.0
    kafka_timeout_s: float = 10.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    relay_batch: int = 500
    # Commits wake the relay at once; this slow poll only catches writes by another process.
    relay_idle_poll_s: float = 1.0
    max_body_bytes: int = MAX_BODY_BYTES
    max_upload_bytes: int = Field(default=MAX_UPLOAD_BYTES, gt=0)
    write_queue_limit: int = 10_000
    # Set by `serve` when Kafka did not answer at start: the relay compares the registry with
    # its topic before it publishes anything (restore_guard).
    check_topic_before_publish: bool = False

    @property
    def events_topic(self) -> str:
        """This province's event topic."""
        return self.kafka.events_topic(self.province)

    @classmethod
    def from_federation(cls, fed: Federation, code: str) -> NodeSettings:
        """Pick the province's section and check every node-only key; ConfigError names it."""
        section = fed.province_by_code(code)
        src = fed.source

        def key(name: str) -> str:
            return f"province[{code}].{name}"

        if section.listen is None:
            raise ConfigError(f"{src}: {key('listen')}: missing")
        if section.db is None:
            raise ConfigError(f"{src}: {key('db')}: missing")
        signing_key = _existing_file(section.signing_key, key("signing_key"), src)
        secret_file = _existing_file(section.person_ref_key_file, key("person_ref_key_file"), src)
        if not any(
            (
                section.tokens_sha256.registrar,
                section.tokens_sha256.viewer,
                section.tokens_sha256.hub,
            )
        ):
            raise ConfigError(f"{src}: {key('tokens_sha256')}: missing (no token for any role)")
        _check_keys(section, signing_key, secret_file, key, src)
        tls_cert = tls_key = None
        if section.tls_certfile is not None or section.tls_keyfile is not None:
            tls_cert = _existing_file(section.tls_certfile, key("tls_certfile"), src)
            tls_key = _existing_file(section.tls_keyfile, key("tls_keyfile"), src)
        host, _, port = section.listen.rpartition(":")
        return cls(
            province=section.code,
            province_name=section.name,
            host=host,
            port=int(port),
            db_path=section.db,
            signing_key_path=signing_key,
            person_ref_key_file=secret_file,
            tokens=section.tokens_sha256,
            kafka=fed.kafka,
            source=src,
            tls_certfile=tls_cert,
            tls_keyfile=tls_key,
            hub_url=(
                section.hub_url or listen_url(fed.hub.listen, tls=fed.hub.tls_certfile is not None)
            ).rstrip("/"),
            hub_ca_file=fed.hub.node_ca_file,
        )

    def load_signer(self) -> Signer:
        """The province's Ed25519 signing key."""
        try:
            return Signer.load(self.signing_key_path)
        except KeyFileError as exc:
            raise ConfigError(
                f"{self.source}: province[{self.province}].signing_key: {exc}"
            ) from None

    def load_secret(self) -> bytes:
        """The federation secret behind person_ref."""
        try:
            return load_secret(self.person_ref_key_file)
        except KeyFileError as exc:
            raise ConfigError(
                f"{self.source}: province[{self.province}].person_ref_key_file: {exc}"
            ) from None

    def hub_ssl_context(self) -> ssl.SSLContext | None:
        """TLS for asking an https hub_url (verified against hub_ca_file), else None."""
        if self.hub_url is None or not self.hub_url.startswith("https://"):
            return None
        return client_context(self.hub_ca_file, "hub.node_ca_file", self.source)

    def server_ssl_context(self) -> ssl.SSLContext | None:
        """TLS for the HTTP listener when tls_certfile/tls_keyfile are set, else None."""
        if self.tls_certfile is None:
            return None
        key = f"province[{self.province}].tls_certfile/tls_keyfile"
        return server_context(self.tls_certfile, self.tls_keyfile, key, self.source)


def _existing_file(path: Path | None, key: str, source: Path) -> Path:
    if path is None:
        raise ConfigError(f"{source}: {key}: missing")
    if not path.is_file():
        raise ConfigError(f"{source}: {key}: file {path} does not exist")
    return path


def _check_keys(
    section: ProvinceSection,
    signing_key: Path,
    secret_file: Path,
    key: Callable[[str], str],
    src: Path,
) -> None:
    """Load the key and secret now so a malformed file stops the start, not the first write."""
    try:
        signer = Signer.load(signing_key)
    except KeyFileError as exc:
        raise ConfigError(f"{src}: {key('signing_key')}: {exc}") from None
    try:
        load_secret(secret_file)
    except KeyFileError as exc:
        raise ConfigError(f"{src}: {key('person_ref_key_file')}: {exc}") from None
    # A public key that does not match would make the hub reject every event we send, so a
    # mismatch is a start-up error; a node machine without the public key file is fine.
    if section.public_key.is_file():
        try:
            public = Verifier.load(section.public_key)
        except KeyFileError as exc:
            raise ConfigError(f"{src}: {key('public_key')}: {exc}") from None
        if public.kid != signer.kid:
            _check_previous_key(section, signer, public, key, src)


def _check_previous_key(
    section: ProvinceSection,
    signer: Signer,
    public: Verifier,
    key: Callable[[str], str],
    src: Path,
    now: datetime | None = None,
) -> None:
    """During a key rotation the federation file already names the new public_key while this
    node still signs with the old one: fine until the old key's window ends (the hub accepts
    its events until then), a start-up error after (the hub would dead-letter them all)."""
    for j, old in enumerate(section.previous_keys):
        if not old.public_key.is_file():
            continue
        try:
            if Verifier.load(old.public_key).kid != signer.kid:
                continue
        except KeyFileError as exc:
            raise ConfigError(f"{src}: {key(f'previous_keys[{j}].public_key')}: {exc}") from None
        if (now or utc_now()) < old.not_after:
            return
        raise ConfigError(
            f"{src}: {key('signing_key')}: key {signer.kid} was retired at "
            f"{format_utc(old.not_after)} (previous_keys[{j}].not_after): the hub dead-letters "
            f"what it signs; sign with the key of {key('public_key')} (kid {public.kid})"
        )
    raise ConfigError(
        f"{src}: {key('public_key')}: does not match {key('signing_key')} "
        f"(kid {public.kid} vs {signer.kid})"
    )
