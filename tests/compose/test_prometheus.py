"""compose/prometheus: promtool accepts the config and rules, and the rules' unit tests pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from national_hub.notify.metrics import NotifyMetrics
from tests.compose.helpers import CONTRACT_SERIES, PROMETHEUS, ROOT, metric_names, run_promtool

CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

# Prometheus's own per-target series, allowed in alerts besides the contract's metrics.
PROMETHEUS_SERIES = frozenset({"up"})

# The notifier's own series (national-hub notify --metrics-listen; not in CONTRACT §6 yet).
NOTIFY_SERIES = frozenset(
    sample.name
    for family in NotifyMetrics().registry.collect()
    for sample in family.samples
) | frozenset({"regsync_notify_deliveries"})

# What an alert's summary and description name: the hub's province, unless it is about
# something else (None: a federation-wide alert naming nothing).
NAMES = {
    "RegsyncTargetDown": "$labels.instance",  # a scrape target has no province of the hub's
    "RegsyncWebhookDeliveriesDead": "$labels.institution",
    "RegsyncNotifierInactive": None,
}


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


ALERTS = {rule["alert"]: rule for rule in _alerts()}


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    # Run from elsewhere: rule_files must resolve relative to the config file, not the cwd.
    proc = run_promtool("check", "config", str(CONFIG), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_rules_are_valid() -> None:
    proc = run_promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_rule_unit_tests_pass(tmp_path: Path) -> None:
    proc = run_promtool("test", "rules", str(RULE_TESTS), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_uses_contract_metric_names(name: str) -> None:
    allowed = CONTRACT_SERIES | PROMETHEUS_SERIES | NOTIFY_SERIES
    unknown = metric_names(ALERTS[name]["expr"]) - allowed
    assert not unknown, f"{name} uses metrics not in CONTRACT §6: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_has_a_severity(name: str) -> None:
    assert ALERTS[name].get("labels", {}).get("severity") in {"critical", "warning"}


@pytest.mark.parametrize("name", sorted(n for n in ALERTS if NAMES.get(n, "") is not None))
def test_alert_summary_and_description_name_the_province(name: str) -> None:
    annotations = ALERTS[name].get("annotations", {})
    label = NAMES.get(name) or "$labels.province"
    for key in ("summary", "description"):
        assert label in annotations.get(key, ""), f"{name}: {key} does not mention {label}"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_has_firing_and_silent_unit_tests(name: str) -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    cases = [
        case
        for test in doc["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == name
    ]
    assert any(case.get("exp_alerts") for case in cases), f"no test shows {name} firing"
    assert any(not case.get("exp_alerts") for case in cases), f"no test shows {name} silent"


def _doc_anchors() -> set[str]:
    """GitHub-style anchors of the headings in docs/operations.md."""
    anchors = set()
    for line in OPERATIONS_DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_runbook_points_at_a_section_of_the_operations_doc(name: str) -> None:
    runbook = ALERTS[name].get("annotations", {}).get("runbook", "")
    path, _, anchor = runbook.partition("#")
    assert path == "docs/operations.md", f"{name}: runbook {runbook!r}"
    assert anchor in _doc_anchors(), f"{name}: docs/operations.md has no section #{anchor}"
