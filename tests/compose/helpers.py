"""Shared by the tests of compose/: paths, the contract's metric names, promtool, PromQL names."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
PROMETHEUS = COMPOSE / "prometheus"
GRAFANA = COMPOSE / "grafana"

# CONTRACT §6, verbatim. Histograms also expose _bucket, _sum and _count series.
CONTRACT_METRICS = frozenset(
    {
        "regsync_hub_events_applied_total",
        "regsync_hub_events_rejected_total",
        "regsync_hub_apply_latency_seconds",
        "regsync_hub_freshness_lag_seconds",
        "regsync_hub_consumer_lag_messages",
        "regsync_hub_heartbeat_age_seconds",
        "regsync_hub_province_outbox_backlog",
        "regsync_hub_sync_status",
        "regsync_hub_records",
        "regsync_node_events_committed_total",
        "regsync_node_events_published_total",
        "regsync_node_outbox_backlog",
        "regsync_node_oldest_unpublished_age_seconds",
        "regsync_node_publish_errors_total",
    }
)
CONTRACT_HISTOGRAMS = frozenset({"regsync_hub_apply_latency_seconds"})
CONTRACT_SERIES = CONTRACT_METRICS | {
    h + suffix for h in CONTRACT_HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")
}


def promtool() -> str:
    """The promtool executable; a missing one fails the test with what to install."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: install Debian's `prometheus` package "
            "(sudo apt-get install prometheus); `./dev test` does this when run as root",
            pytrace=False,
        )
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


# --- metric names used by a PromQL expression -------------------------------------------------

_KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        "inf",
        "nan",
        "atan2",
        "start",
        "end",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (Grafana's `$var` placeholders are ignored)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for m in _IDENT.finditer(text):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's template variables so promtool can parse the expression."""
    expr = re.sub(r"\$__(?:rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?[A-Za-z_]\w*(?::\w+)?\}?", ".*", expr)
