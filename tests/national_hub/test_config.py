"""HubSettings from the federation file: keys loaded and checked at start, errors name the key."""

from __future__ import annotations

import shutil

import pytest
from hubkit import HubEnv

from national_hub.cli import main
from national_hub.config import HubSettings
from national_hub.errors import ConfigError
from national_hub.tuning import HubTuning, RateLimit, parse_rate_limit
from schemas.federation import load_federation
from schemas.throttle import ThrottleLimits

# Every tunable with its default: the value the hub ran with when they were module constants,
# or, for those added since, the value chosen with its measurement (see national_hub.tuning).
TODAY = {
    "ingest": {
        "fetch_records": 5_000,
        "fetch_min_bytes": 256 * 1024,
        "fetch_max_wait_ms": 25,
        "partition_fetch_bytes": 256 * 1024,
        "fetch_max_bytes": 4 * 1024 * 1024,
        "max_batch": 50_000,
        "serving_batch": 2_000,
        "worker_nice": 10,
        "decode_workers": None,
        "parallel_decode_min": 200,
        "reconnect_backoff_s": 0.5,
        "reconnect_backoff_max_s": 5.0,
        "topic_refresh_s": 5.0,
        "paused_highwater_s": 1.0,
        "worker_parent_check_s": 1.0,
    },
    "store": {"memory_limit": "1GB", "heartbeat_flush_s": 5.0, "history_cache": 20_000},
    "index": {
        "readers": 4,
        "writer_cache_mib": 64,
        "reader_cache_mib": 16,
        "synchronous": "NORMAL",
        "flush_s": 5.0,
        "sort_max": 10_000,
        "cache_records": 50_000,
        "walk_budget": 5_000_000,
    },
    "sync": {
        "heartbeat_stale_s": 5.0,
        "node_stale_s": 5.0,
        "blocked_after_s": 10.0,
        "lagging_after_s": 10.0,
        "stall_after_s": 10.0,
        "clock_warn_s": 5.0,
        "refresh_s": 2.0,
        "node_poll_s": 1.0,
        "node_poll_max_s": 5.0,
        "node_timeout_s": 1.0,
        "node_answer_ttl_s": 0.5,
        "node_answers_kept": 10_000,
        # New with issue 12 (finding 11): a node's "no such record" is believed for 3 s.
        "node_unknown_ttl_s": 3.0,
        "node_unknowns_kept": 100_000,
        "lag_sample_s": 2.0,
        "lag_retention_minutes": 30,
        "gauge_refresh_s": 2.0,
        "record_count_refresh_s": 10.0,
    },
    "freshness": {
        "observations_kept": 1_200,
        "commit_times_kept": 200_000,
        "apply_rate_window_s": 60.0,
        "default_apply_rate": 2_000.0,
        "pipeline_s": 0.3,
        "live_apply_s": 0.5,
        "clock_window": 60,
        "clock_step_s": 1.0,
        "clock_step_samples": 5,
    },
    "web": {
        "rate_limit": {"enabled": True, "rate": 50.0, "burst": 100.0},
        "auth_throttle": {"enabled": True, "max_failures": 20, "window_s": 60.0, "lockout_s": 60.0},
        "stats_ttl_s": 2.0,
        # New with issue 12 (finding 11): requests weighed by cost, expensive ones few at once.
        "search_cost": 2.0,
        "expensive_cost": 10.0,
        "broad_pinyin_letters": 4,
        "refusal_delay_s": 0.5,
        "refusals_delayed_max": 1_000,
        "heavy_concurrency": 4,
        # New with issue 13 (item 4): public reads admitted at most so many at once, the rest
        # wait in a bounded queue for a bounded time, then 503.
        "max_in_flight": 32,
        "max_queued": 256,
        "max_queue_wait_s": 2.0,
        # New with issue 16 (replicas): readiness bounded by lag, drain on SIGTERM.
        "ready_max_lag_s": 10.0,
        "drain_s": 2.0,
    },
    "notify": {
        "lease_s": 10.0,
        "fetch_records": 2_000,
        "receiver_concurrency": 4,
        "max_in_flight": 256,
        "timeout_s": 10.0,
        "backoff_base_s": 5.0,
        "backoff_max_s": 3600.0,
        "retry_for_s": 86_400.0,
        "poll_s": 0.05,
        "watch_limit": 50_000,
        "feed_wait_max_s": 30.0,
    },
}

TUNED = """
[hub.tuning.ingest]
max_batch = 1000
decode_workers = 0

[hub.tuning.sync]
lagging_after_s = 30
node_timeout_s = 2.5

[hub.tuning.web]
rate_limit = "10/20"
auth_throttle = "5/10/120"
stats_ttl_s = 0
"""


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither of the hub's environment variables is set."""
    monkeypatch.delenv("REGSYNC_HUB_RATE_LIMIT", raising=False)
    monkeypatch.delenv("REGSYNC_AUTH_THROTTLE", raising=False)


def with_tuning(env: HubEnv, toml: str) -> None:
    """Append tables (e.g. [hub.tuning.ingest]) to the env's federation file."""
    env.config.write_text(env.config.read_text() + "\n" + toml)


def test_settings_from_the_federation_file(hub_env: HubEnv) -> None:
    s = hub_env.settings()
    assert (s.host, s.port) == ("127.0.0.1", hub_env.port)
    assert s.db_path == hub_env.db
    assert s.province_codes == ("50", "44", "11")
    assert s.provinces["44"].name == "广东省"
    assert s.provinces["50"].kid == hub_env.signers["50"].kid
    assert s.kid_owner[hub_env.signers["11"].kid] == "11"
    assert s.events_topic("50") == f"{hub_env.prefix}.events.50"
    assert s.topic_province(f"{hub_env.prefix}.events.44") == "44"
    assert s.topic_province(f"{hub_env.prefix}.heartbeats") is None
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_missing_public_key_names_the_key(hub_env: HubEnv) -> None:
    (hub_env.root / "keys" / "44.pub").unlink()
    with pytest.raises(ConfigError, match=r"province\[1\]\.public_key: file .*44\.pub"):
        hub_env.settings()


def test_malformed_public_key_names_the_key(hub_env: HubEnv) -> None:
    (hub_env.root / "keys" / "11.pub").write_text("not a key\n")
    with pytest.raises(ConfigError, match=r"province\[2\]\.public_key: .*not a PEM public key"):
        hub_env.settings()


def test_a_key_shared_by_two_provinces_is_refused(hub_env: HubEnv) -> None:
    shutil.copy(hub_env.root / "keys" / "50.pub", hub_env.root / "keys" / "44.pub")
    with pytest.raises(ConfigError, match=r"province\[1\]\.public_key: same public key as prov"):
        hub_env.settings()


def test_missing_signing_key_names_the_key(hub_env: HubEnv) -> None:
    (hub_env.root / "keys" / "hub.key").unlink()
    with pytest.raises(ConfigError, match=r"hub\.signing_key"):
        HubSettings.load(hub_env.config)


def test_cli_reports_config_errors_in_one_line(
    hub_env: HubEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    (hub_env.root / "keys" / "50.pub").unlink()
    assert main(["serve", "--config", str(hub_env.config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("national-hub: error: ")
    assert "province[0].public_key" in err[0]
    assert main(["rebuild", "--config", str(hub_env.root / "missing.toml")]) == 2
    assert "federation file not found" in capsys.readouterr().err


def test_duckdb_memory_limit_defaults_to_one_gigabyte(hub_env: HubEnv) -> None:
    assert hub_env.settings().tuning.store.memory_limit == "1GB"


def test_a_malformed_memory_limit_names_the_key(hub_env: HubEnv) -> None:
    text = hub_env.config.read_text()
    hub_env.config.write_text(text.replace("[hub]\n", '[hub]\nmemory_limit = "lots"\n', 1))
    with pytest.raises(ConfigError, match=r"hub\.memory_limit"):
        HubSettings.load(hub_env.config)


def test_the_memory_limit_is_read_from_hub_memory_limit(hub_env: HubEnv) -> None:
    text = hub_env.config.read_text()
    hub_env.config.write_text(text.replace("[hub]\n", '[hub]\nmemory_limit = "1.5GiB"\n', 1))
    assert hub_env.settings().tuning.store.memory_limit == "1.5GiB"
    with_tuning(hub_env, '[hub.tuning.store]\nmemory_limit = "2GB"\n')
    with pytest.raises(ConfigError, match=r"hub\.tuning\.store\.memory_limit: .*hub\.memory_limit"):
        hub_env.settings()


def test_the_notify_store_defaults_to_beside_the_duckdb_file(hub_env: HubEnv) -> None:
    settings = hub_env.settings()
    assert settings.notify_store_path == settings.db_path.with_name("national.notify.sqlite3")


def test_hub_notify_store_names_a_shared_file_relative_to_the_federation_file(
    hub_env: HubEnv,
) -> None:
    text = hub_env.config.read_text()
    hub_env.config.write_text(text.replace("[hub]\n", '[hub]\nnotify_store = "shared/n.db"\n', 1))
    assert hub_env.settings().notify_store_path == hub_env.config.parent / "shared" / "n.db"


# ---- tuning ------------------------------------------------------------------------------------


def test_tuning_defaults_are_the_values_the_hub_always_ran_with(
    hub_env: HubEnv, no_env: None
) -> None:
    assert HubTuning().model_dump() == TODAY
    assert hub_env.settings().tuning == HubTuning()


def test_tuning_is_frozen() -> None:
    tuning = HubTuning()
    with pytest.raises(ValueError, match="frozen"):
        tuning.ingest.max_batch = 1  # type: ignore[misc]


def test_tuning_from_the_federation_file_reaches_the_settings(
    hub_env: HubEnv, no_env: None
) -> None:
    with_tuning(hub_env, TUNED)
    tuning = hub_env.settings().tuning
    assert (tuning.ingest.max_batch, tuning.ingest.decode_workers) == (1000, 0)
    assert (tuning.sync.lagging_after_s, tuning.sync.node_timeout_s) == (30.0, 2.5)
    assert tuning.web.rate_limit == RateLimit(rate=10.0, burst=20.0)
    assert tuning.web.auth_throttle == ThrottleLimits(max_failures=5, window_s=10, lockout_s=120)
    assert tuning.web.stats_ttl_s == 0.0
    # Untouched keys keep their defaults.
    assert tuning.ingest.fetch_records == TODAY["ingest"]["fetch_records"]
    assert tuning.freshness == HubTuning().freshness


def test_a_limit_may_also_be_written_as_a_table(hub_env: HubEnv, no_env: None) -> None:
    with_tuning(hub_env, "[hub.tuning.web.rate_limit]\nrate = 5\nburst = 8\n")
    assert hub_env.settings().tuning.web.rate_limit == RateLimit(rate=5.0, burst=8.0)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        (
            "[hub.tuning.ingest]\nmax_batch = 0\n",
            r"hub\.tuning\.ingest\.max_batch: .*greater than 0",
        ),
        ("[hub.tuning.ingest]\nmax_bach = 10\n", r"hub\.tuning\.ingest\.max_bach: unknown key"),
        ("[hub.tuning.sync]\nstall_after_s = -1\n", r"hub\.tuning\.sync\.stall_after_s: "),
        ("[hub.tuning.sync]\nrefresh_s = nan\n", r"hub\.tuning\.sync\.refresh_s: "),
        ('[hub.tuning.freshness]\nclock_window = "a"\n', r"hub\.tuning\.freshness\.clock_window"),
        ('[hub.tuning.web]\nrate_limit = "fast"\n', r"hub\.tuning\.web\.rate_limit: use off, RATE"),
        ('[hub.tuning.web]\nauth_throttle = "0/10"\n', r"hub\.tuning\.web\.auth_throttle: use off"),
        ("[hub.tuning.web.rate_limit]\nrate = 0\n", r"hub\.tuning\.web\.rate_limit\.rate: "),
        ("[hub.tuning.web]\nmax_in_flight = 0\n", r"hub\.tuning\.web\.max_in_flight: .*than 0"),
        ("[hub.tuning.web]\nmax_queued = -1\n", r"hub\.tuning\.web\.max_queued: "),
        ("[hub.tuning.web]\nmax_queue_wait_s = 0\n", r"hub\.tuning\.web\.max_queue_wait_s: "),
        ("[hub.tuning.network]\nx = 1\n", r"hub\.tuning\.network: unknown key"),
        ("[hub.tuning]\ningest = 5\n", r"hub\.tuning\.ingest: "),
    ],
)
def test_a_bad_tuning_value_is_a_config_error_naming_the_key(
    hub_env: HubEnv, no_env: None, toml: str, key: str
) -> None:
    with_tuning(hub_env, toml)
    with pytest.raises(ConfigError, match=key):
        hub_env.settings()


def test_a_node_does_not_validate_the_hubs_tuning(hub_env: HubEnv) -> None:
    with_tuning(hub_env, "[hub.tuning.ingest]\nmax_batch = 0\n")
    assert load_federation(hub_env.config).hub.tuning == {"ingest": {"max_batch": 0}}


def test_the_environment_overrides_the_file(
    hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_tuning(hub_env, TUNED)
    monkeypatch.setenv("REGSYNC_HUB_RATE_LIMIT", "500/2000")
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "off")
    web = hub_env.settings().tuning.web
    assert web.rate_limit == RateLimit(rate=500.0, burst=2000.0)
    assert web.auth_throttle == ThrottleLimits(enabled=False)
    assert web.stats_ttl_s == 0.0  # what the environment does not name stays the file's


def test_environment_variables_are_read_at_load(
    hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGSYNC_HUB_RATE_LIMIT", "off")
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", "3/60/60")
    web = hub_env.settings().tuning.web
    assert (web.rate_limit.enabled, web.auth_throttle.max_failures) == (False, 3)
    fed = load_federation(hub_env.config)
    given = HubSettings.from_federation(fed, {"REGSYNC_HUB_RATE_LIMIT": "7"}).tuning.web
    assert (given.rate_limit, given.auth_throttle) == (
        RateLimit(rate=7, burst=14),
        ThrottleLimits(),
    )


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_environment_variable_is_unset(
    hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with_tuning(hub_env, TUNED)
    monkeypatch.setenv("REGSYNC_HUB_RATE_LIMIT", value)
    monkeypatch.setenv("REGSYNC_AUTH_THROTTLE", value)
    web = hub_env.settings().tuning.web
    assert (web.rate_limit.rate, web.auth_throttle.max_failures) == (10.0, 5)


@pytest.mark.parametrize(
    ("name", "value"), [("REGSYNC_HUB_RATE_LIMIT", "fast"), ("REGSYNC_AUTH_THROTTLE", "5/nan")]
)
def test_a_bad_environment_variable_is_a_config_error_naming_it(
    hub_env: HubEnv, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}='{value}': use off"):
        hub_env.settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", (50.0, 100.0, True)),
        ("off", (50.0, 100.0, False)),
        ("500/2000", (500.0, 2000.0, True)),
        ("10", (10.0, 20.0, True)),
        ("0.2", (0.2, 1.0, True)),
    ],
)
def test_rate_limit_text(value: str, expected: tuple[float, float, bool]) -> None:
    limit = parse_rate_limit(value)
    assert (limit.rate, limit.burst, limit.enabled) == expected


@pytest.mark.parametrize("value", ["fast", "0", "-5", "10/0.5", "10/x", "inf"])
def test_bad_rate_limit_text(value: str) -> None:
    with pytest.raises(ValueError, match="use off, RATE or RATE/BURST"):
        parse_rate_limit(value)


def test_hub_index_is_relative_to_the_federation_file(hub_env: HubEnv) -> None:
    text = hub_env.config.read_text()
    hub_env.config.write_text(text.replace("[hub]\n", '[hub]\nindex = "idx/i.sqlite3"\n', 1))
    assert hub_env.settings().serving_index_path == hub_env.config.parent / "idx" / "i.sqlite3"
