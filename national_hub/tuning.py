"""The hub's tuning: every batch size, interval, window, cache lifetime and limit, in one model.

Defaults are the values the hub has always run with. A federation file may change any of them
in `[hub.tuning.<group>]` tables (`hub.memory_limit` stays where it always was), and two
environment variables override what the file says: REGSYNC_HUB_RATE_LIMIT and
REGSYNC_AUTH_THROTTLE. `load_tuning` is the only reader of both; components get the values
from HubSettings.tuning (or as arguments), never from module globals or the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from schemas.federation import ConfigError, MemoryLimit
from schemas.throttle import (
    AUTH_THROTTLE_ENV,
    ThrottleLimits,
    auth_throttle_env,
    parse_auth_throttle,
)

RATE_LIMIT_ENV = "REGSYNC_HUB_RATE_LIMIT"
RATE_LIMIT_SYNTAX = "use off, RATE or RATE/BURST (e.g. 50/100)"


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _seconds(default: float, description: str) -> Any:
    """A duration field: finite and above zero."""
    return Field(default=default, gt=0, allow_inf_nan=False, description=description)


class IngestTuning(_Group):
    """The ingest loop (national_hub.ingest.ingestor) and its decode workers."""

    fetch_records: int = Field(
        default=5_000,
        gt=0,
        description="most messages one Kafka fetch returns; the apply batch grows beyond it "
        "while the previous apply runs",
    )
    fetch_min_bytes: int = Field(
        default=256 * 1024,
        ge=1,
        description="Kafka answers a fetch once this much is there, or after fetch_max_wait_ms",
    )
    fetch_max_wait_ms: int = Field(
        default=25,
        ge=1,
        le=1000,
        description="longest Kafka holds a fetch for fetch_min_bytes: what waiting for a fuller "
        "fetch may add to commit-to-visible; each fetch answer lists every partition, and "
        "parsing one per arriving event cost a quarter of the event loop at 100 events/s",
    )
    partition_fetch_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="most bytes one fetch takes from one partition (Kafka's "
        "max.partition.fetch.bytes); what was fetched is applied before anything fetched "
        "later, so a large prefetch queues a quiet province's new events behind the others' "
        "backlog during a catch-up",
    )
    fetch_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="most bytes one fetch takes in all (Kafka's fetch.max.bytes): bounds the "
        "prefetched backlog (about 3,500 events) that new events wait behind",
    )
    max_batch: int = Field(
        default=50_000,
        gt=0,
        description="most messages in one apply transaction: amortises DuckDB's per-batch costs "
        "during catch-up, bounds a transaction's memory",
    )
    serving_batch: int = Field(
        default=2_000,
        gt=0,
        description="most messages in one apply transaction while public reads are being "
        "served (a read admitted within the last second): a catch-up then commits in short "
        "steps that reads run between, instead of max_batch at a time",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="how much decode workers lower their CPU priority (nice): during a "
        "catch-up they fill every core, and the hub's event loop, which answers reads, must "
        "come first; 0 keeps them at the hub's priority",
    )
    decode_workers: int | None = Field(
        default=None,
        ge=0,
        description="decode worker processes (signature and schema checks); 0 decodes in a "
        "thread of the hub; unset: one per CPU",
    )
    parallel_decode_min: int = Field(
        default=200,
        gt=0,
        description="fewest fetched messages sent to the decode workers; fewer are decoded in "
        "the hub, which beats the round trip",
    )
    reconnect_backoff_s: float = _seconds(0.5, "first wait before reconnecting to Kafka")
    reconnect_backoff_max_s: float = _seconds(
        5.0,
        "longest wait between reconnect attempts (doubling from reconnect_backoff_s); a long "
        "cap would leave the hub idle after Kafka came back",
    )
    topic_refresh_s: float = _seconds(
        5.0, "how often to look for new province topics and partitions once all are there"
    )
    paused_highwater_s: float = _seconds(
        1.0, "while an operator paused ingest: how often the end offsets (consumer lag) are read"
    )
    worker_parent_check_s: float = _seconds(
        1.0, "how often a decode worker checks that the hub that started it still runs"
    )


class StoreTuning(_Group):
    """The DuckDB store (national_hub.store.store)."""

    memory_limit: MemoryLimit = Field(
        default="1GB",
        description="DuckDB's buffer limit (TOML key hub.memory_limit); beyond it DuckDB evicts "
        "cached blocks, which keeps the hub's RSS bounded",
    )
    heartbeat_flush_s: float = _seconds(
        5.0, "longest a heartbeats-only batch stays in memory before it is written"
    )
    history_cache: int = Field(
        default=20_000,
        ge=0,
        le=1_000_000,
        description="recent certificate histories kept for GET .../history (0: none); each "
        "commit drops the histories it adds to",
    )


class IndexTuning(_Group):
    """The SQLite serving index national reads are answered from (national_hub.index)."""

    readers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="reader threads (each with its own connection); SQLite releases the GIL "
        "while a statement runs, so a few keep two cores busy",
    )
    writer_cache_mib: int = Field(
        default=64, ge=1, le=4096, description="page cache of the writer's connection, MiB"
    )
    reader_cache_mib: int = Field(
        default=16, ge=1, le=1024, description="page cache of each reader's connection, MiB"
    )
    synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="NORMAL: a commit survives a crash of the hub, and what an OS crash loses "
        "is read again from Kafka with its offsets; FULL adds an fsync to every commit",
    )
    flush_s: float = _seconds(
        5.0, "longest the offsets of a batch without events stay unwritten (replayed if lost)"
    )
    sort_max: int = Field(
        default=10_000,
        ge=100,
        description="a prefix or substring search class matching up to this many rows is "
        "sorted; beyond, the certificate order is walked (national_hub.index.plan)",
    )
    cache_records: int = Field(
        default=50_000,
        ge=0,
        le=2_000_000,
        description="hot records kept for lookups, verify and FHIR (about 2 KB each; 0: none); "
        "each commit drops the records it changes",
    )
    walk_budget: int = Field(
        default=5_000_000,
        ge=10_000,
        description="SQLite VM steps a walk may take before the sorted range is read instead",
    )


class SyncTuning(_Group):
    """Sync status windows, node polling, explanations, lag history and gauges (sync/)."""

    heartbeat_stale_s: float = _seconds(
        5.0, "a province without a heartbeat this long counts as silent (heartbeats: every 1 s)"
    )
    node_stale_s: float = _seconds(
        5.0, "a node that has not answered a poll this long counts as not answering"
    )
    blocked_after_s: float = _seconds(
        10.0, "an outbox head older than this makes the province publishing_blocked"
    )
    lagging_after_s: float = _seconds(10.0, "lag above this is lagging rather than ok")
    stall_after_s: float = _seconds(
        10.0, "a frontier that has not moved this long, with events known to exist, is stalled"
    )
    clock_warn_s: float = _seconds(
        5.0, "a province clock offset beyond this is named in the status reason"
    )
    refresh_s: float = _seconds(2.0, "how often dead letters are re-counted for the status")
    node_poll_s: float = _seconds(1.0, "how often each node's sync status is polled")
    node_poll_max_s: float = _seconds(
        5.0, "longest wait between polls of a node that does not answer (doubling)"
    )
    node_timeout_s: float = _seconds(
        1.0, "a node slower than this to answer is treated as not answering"
    )
    node_answer_ttl_s: float = _seconds(
        0.5, "how long the nodes' answers about a cert_no serve identical explanations"
    )
    node_answers_kept: int = Field(
        default=10_000,
        gt=0,
        description="cached node answers kept before the expired ones are dropped",
    )
    node_unknown_ttl_s: float = _seconds(
        3.0,
        "how long a node's answer that it holds no such cert_no is believed: explanations of "
        "that number ask that node again only after this (a registration committed meanwhile "
        "reads unknown_to_province for at most this long)",
    )
    node_unknowns_kept: int = Field(
        default=100_000,
        gt=0,
        description="(province, cert_no) pairs a node said it does not hold, kept at most; "
        "beyond it the oldest are forgotten",
    )
    lag_sample_s: float = _seconds(2.0, "how often the lag history (dashboard chart) is sampled")
    lag_retention_minutes: int = Field(
        default=30, gt=0, description="minutes of lag history kept in memory"
    )
    gauge_refresh_s: float = _seconds(2.0, "how often the sync gauges of /metrics are refreshed")
    record_count_refresh_s: float = _seconds(
        10.0, "how often the records-per-province gauge is recounted (a GROUP BY over the store)"
    )


class FreshnessTuning(_Group):
    """How freshness, the apply rate and province clock offsets are estimated (sync/)."""

    observations_kept: int = Field(
        default=1_200,
        gt=0,
        description="heartbeat and poll observations kept per province (~20 min of heartbeats)",
    )
    commit_times_kept: int = Field(
        default=200_000,
        gt=0,
        description="commit times above the frontier kept per province; beyond it the lowest "
        "are dropped",
    )
    apply_rate_window_s: float = _seconds(60.0, "the apply rate is measured over this window")
    default_apply_rate: float = _seconds(
        2_000.0, "events per second of apply time assumed before any was measured"
    )
    pipeline_s: float = _seconds(
        0.3, "end-to-end cost of one event with nothing queued before it (ETA of a sync token)"
    )
    live_apply_s: float = _seconds(
        0.5,
        "a batch's heartbeats are clock samples only if it and the one before applied within this",
    )
    clock_window: int = Field(
        default=60, gt=0, description="heartbeat samples the clock offset is estimated from"
    )
    clock_step_s: float = _seconds(
        1.0, "a sample this far below the clock estimate counts towards a clock stepped back"
    )
    clock_step_samples: int = Field(
        default=5, gt=0, description="consecutive such samples that restart the clock estimate"
    )


class RateLimit(_Group):
    """Per-client token buckets on the public endpoints."""

    enabled: bool = Field(default=True, description="false: no rate limit")
    rate: float = Field(
        default=50.0, gt=0, allow_inf_nan=False, description="requests per second sustained"
    )
    burst: float = Field(default=100.0, ge=1, allow_inf_nan=False, description="largest burst")


def parse_rate_limit(text: str) -> RateLimit:
    """The limit written as "off", "RATE" (burst twice that) or "RATE/BURST"; empty: defaults.

    ValueError(RATE_LIMIT_SYNTAX) when it does not parse.
    """
    text = text.strip().lower()
    if not text:
        return RateLimit()
    if text == "off":
        return RateLimit(enabled=False)
    rate, _, burst = text.partition("/")
    try:
        return RateLimit(
            rate=float(rate), burst=float(burst) if burst else max(1.0, 2 * float(rate))
        )
    except ValueError:  # pydantic's ValidationError is one too
        raise ValueError(RATE_LIMIT_SYNTAX) from None


def _limit_text(parse: Any) -> Any:
    """Let a limit be written in TOML the way its environment variable is."""
    return BeforeValidator(lambda v: parse(v) if isinstance(v, str) else v)


class WebTuning(_Group):
    """The HTTP side: public rate limit, ops auth throttle, the stats cache (web/, query/).

    The largest ?wait= of a record lookup (30 s) is not here: openapi.json publishes it.
    """

    rate_limit: Annotated[RateLimit, _limit_text(parse_rate_limit)] = Field(
        default=RateLimit(),
        description='public endpoints per client: "off", "RATE" or "RATE/BURST" '
        f"(overridden by {RATE_LIMIT_ENV})",
    )
    auth_throttle: Annotated[ThrottleLimits, _limit_text(parse_auth_throttle)] = Field(
        default=ThrottleLimits(),
        description='lockout after failed ops authentications: "off" or '
        f'"FAILURES/WINDOW_S[/LOCKOUT_S]" (overridden by {AUTH_THROTTLE_ENV})',
    )
    stats_ttl_s: float = Field(
        default=2.0,
        ge=0,
        allow_inf_nan=False,
        description="GET /v1/stats answers are recomputed at most this often",
    )
    search_cost: float = Field(
        default=2.0,
        ge=1,
        allow_inf_nan=False,
        description="rate-limit tokens a search or an institution roster takes (a lookup, a "
        "verify, an explanation of one province's number or of a sync token take 1)",
    )
    expensive_cost: float = Field(
        default=10.0,
        ge=1,
        allow_inf_nan=False,
        description="tokens an expensive read takes: an explanation by cert_no without province "
        "(every node is asked), a pinyin name search shorter than broad_pinyin_letters, and "
        "(charged once it ran) a lookup or verify whose explanation asked every node",
    )
    broad_pinyin_letters: int = Field(
        default=4,
        gt=0,
        description="a pinyin name search with fewer letters (a prefix such as zh) matches a "
        "large share of the registry: it costs expensive_cost",
    )
    refusal_delay_s: float = Field(
        default=0.5,
        ge=0,
        allow_inf_nan=False,
        description="a 429 of the rate limit is answered after this long (at most the client's "
        "wait): a client looping on refusals asks a few times a second, not thousands (0: at "
        "once)",
    )
    refusals_delayed_max: int = Field(
        default=1_000,
        ge=0,
        description="refusals held back at once; beyond it they are answered at once",
    )
    heavy_concurrency: int = Field(
        default=4,
        gt=0,
        description="searches, rosters and explanations by cert_no without province run at most "
        "this many at once, the rest wait their turn; as many as the serving index's reader "
        "threads (lookups read on the event loop, so they never wait behind them)",
    )
    # Bounded admission of the public reads (national_hub.web.admission). A read's latency is
    # at most its queue wait plus max_in_flight / throughput: in flight, reads share one event
    # loop and the store's reader threads, so beyond what saturates two cores more in flight
    # only adds latency, unseen: 32 in flight at the targeted ~1,500 reads/s are ~21 ms.
    max_in_flight: int = Field(
        default=32,
        gt=0,
        description="public reads (lookups, history, FHIR, searches, rosters, verify, stats, "
        "explanations) served at once; more wait their turn",
    )
    max_queued: int = Field(
        default=256,
        ge=0,
        description="public reads waiting for their turn at most; one more is answered 503 "
        "overloaded with Retry-After (0: none waits)",
    )
    max_queue_wait_s: float = _seconds(
        2.0,
        "a public read whose turn has not come after this long is answered 503 overloaded "
        "with Retry-After",
    )
    # Replicas behind a load balancer (issue 16): readiness is what the balancer routes on.
    ready_max_lag_s: float = _seconds(
        10.0,
        "GET /readyz answers not ready while any province is further behind than this and "
        "Kafka still holds events of it the hub has not applied (a replica catching up)",
    )
    drain_s: float = Field(
        default=2.0,
        ge=0,
        allow_inf_nan=False,
        description="on SIGTERM the hub answers /readyz not ready for this long, still serving, "
        "so the balancer's health check takes it out before it stops listening; then in-flight "
        "requests finish (0: stop at once)",
    )


class NotifyTuning(_Group):
    """Employer monitoring (national_hub.notify): the notifier's lease, delivery and the feed."""

    lease_s: float = _seconds(
        10.0,
        "how long the active notifier's lease lasts unrenewed (renewed every third of it): a "
        "standby takes over at most this long after the active one dies",
    )
    fetch_records: int = Field(
        default=2_000, gt=0, description="most messages the notifier applies in one transaction"
    )
    receiver_concurrency: int = Field(
        default=4, gt=0, description="webhook calls in flight at once to one webhook"
    )
    max_in_flight: int = Field(
        default=256, gt=0, description="webhook calls in flight at once in all"
    )
    timeout_s: float = _seconds(10.0, "a webhook call that has not answered after this fails")
    backoff_base_s: float = _seconds(
        5.0, "wait before the second attempt; doubled for each further one"
    )
    backoff_max_s: float = _seconds(3600.0, "longest wait between two attempts")
    retry_for_s: float = _seconds(
        86_400.0,
        "a delivery still failing this long after its notification is dead (the institution "
        "can redeliver it)",
    )
    poll_s: float = _seconds(
        0.05, "how often the notifier looks for due deliveries, and the feed for new items"
    )
    watch_limit: int = Field(
        default=50_000, gt=0, description="most certificates one institution may watch"
    )
    feed_wait_max_s: float = _seconds(30.0, "the longest ?wait= of the feed")


class HubTuning(_Group):
    """Every tunable of the hub, by the part of it that uses them."""

    ingest: IngestTuning = IngestTuning()
    store: StoreTuning = StoreTuning()
    index: IndexTuning = IndexTuning()
    sync: SyncTuning = SyncTuning()
    freshness: FreshnessTuning = FreshnessTuning()
    web: WebTuning = WebTuning()
    notify: NotifyTuning = NotifyTuning()


def _key(loc: tuple[int | str, ...]) -> str:
    """The file's key of a validation error's location."""
    if loc[:2] == ("store", "memory_limit"):
        return "hub.memory_limit"
    return "hub.tuning." + ".".join(str(part) for part in loc)


def load_tuning(
    table: Mapping[str, Any],
    memory_limit: str,
    environ: Mapping[str, str],
    source: Path,
) -> HubTuning:
    """The tuning from `[hub.tuning]`, hub.memory_limit and the environment; ConfigError naming
    the key (or variable) of a bad value."""
    raw: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in table.items()}
    store = raw.setdefault("store", {})
    if isinstance(store, dict):
        if "memory_limit" in store:
            raise ConfigError(
                f"{source}: hub.tuning.store.memory_limit: unknown key (set hub.memory_limit)"
            )
        store["memory_limit"] = memory_limit
    web = raw.setdefault("web", {})
    if isinstance(web, dict):
        # The environment overrides the file, as it overrode the defaults before the file could.
        rate = environ.get(RATE_LIMIT_ENV, "")
        if rate.strip():
            try:
                web["rate_limit"] = parse_rate_limit(rate)
            except ValueError:
                text = rate.strip().lower()
                raise ConfigError(f"{RATE_LIMIT_ENV}={text!r}: {RATE_LIMIT_SYNTAX}") from None
        throttle = environ.get(AUTH_THROTTLE_ENV, "")
        if throttle.strip():
            web["auth_throttle"] = auth_throttle_env(throttle)
    try:
        return HubTuning.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{_key(err['loc'])}: {msg.removeprefix('Value error, ')}")
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None
